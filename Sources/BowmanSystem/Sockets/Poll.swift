import Glibc

/// poll(2) over descriptors, typed: the event loops of the management core
/// and the workers' idle sleep.
public enum Poll {
    public struct Request: Sendable, Hashable {
        public var descriptor: Int32
        public var writable: Bool
        public init(_ descriptor: Int32, writable: Bool = false) {
            self.descriptor = descriptor
            self.writable = writable
        }
    }

    /// Waits up to `milliseconds` (-1: forever) for any request to be ready;
    /// returns the descriptors that are (readable, writable, hung up or in error).
    public static func wait(_ requests: [Request], milliseconds: Int32) -> Set<Int32> {
        var fds = requests.map { pollfd(fd: $0.descriptor, events: Int16($0.writable ? POLLOUT : POLLIN), revents: 0) }
        let n = restartingOnSignals(milliseconds) { ms in
            fds.withUnsafeMutableBufferPointer { Glibc.poll($0.baseAddress, nfds_t($0.count), ms) }
        }
        guard n > 0 else { return [] }
        return Set(fds.filter { $0.revents != 0 }.map(\.fd))
    }

    /// Waits for one descriptor; true when it is ready.
    public static func wait(for descriptor: Int32, writable: Bool = false, milliseconds: Int32) -> Bool {
        var p = pollfd(fd: descriptor, events: Int16(writable ? POLLOUT : POLLIN), revents: 0)
        return restartingOnSignals(milliseconds) { Glibc.poll(&p, 1, $0) } == 1
    }

    /// poll(2) is never restarted after a signal handler ran (SA_RESTART
    /// does not apply to it): a SIGCHLD caught by any thread would end the
    /// wait early. Calls again with what is left of the timeout.
    static func restartingOnSignals(_ milliseconds: Int32, _ call: (Int32) -> Int32) -> Int32 {
        guard milliseconds != 0 else { return call(0) }
        let deadline = milliseconds > 0 ? SystemClock.monotonicMilliseconds + UInt64(milliseconds) : nil
        while true {
            var left: Int32 = -1
            if let deadline {
                let now = SystemClock.monotonicMilliseconds
                left = now >= deadline ? 0 : Int32(deadline - now)
            }
            let n = call(left)
            if n >= 0 || errno != EINTR || left == 0 { return n }
        }
    }

    /// Waits until one of up to two descriptors is readable (the worker's
    /// idle sleep: no allocation). A negative descriptor is skipped.
    public static func waitReadable(_ a: Int32, _ b: Int32, milliseconds: Int32) {
        var p = (pollfd(fd: a, events: Int16(POLLIN), revents: 0), pollfd(fd: b, events: Int16(POLLIN), revents: 0))
        withUnsafeMutablePointer(to: &p) {
            $0.withMemoryRebound(to: pollfd.self, capacity: 2) { _ = Glibc.poll($0, b >= 0 ? 2 : 1, milliseconds) }
        }
    }
}
