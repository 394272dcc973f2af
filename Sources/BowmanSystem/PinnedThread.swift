import BowmanCore
import CBowmanLinux
import Glibc

/// A POSIX thread, optionally pinned to one CPU before its body runs: what
/// a data-core worker runs on (not a Swift concurrency task, which could
/// migrate and must never busy-poll).
public final class PinnedThread: @unchecked Sendable {
    private var thread: pthread_t
    public let name: String
    private var joined = false

    private final class Start {
        let body: @Sendable () -> Void
        let core: CoreID?
        let name: String
        init(body: @escaping @Sendable () -> Void, core: CoreID?, name: String) { self.body = body; self.core = core; self.name = name }
    }

    /// Starts the thread. Pinning failures are reported by `pinError` of the
    /// body's context: the body still runs, unpinned, so the caller decides.
    public init(name: String, core: CoreID?, body: @escaping @Sendable () -> Void) throws(Errno) {
        self.name = name
        let start = Unmanaged.passRetained(Start(body: body, core: core, name: name)).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let s = Unmanaged<Start>.fromOpaque(arg!).takeRetainedValue()
            cbowman_set_thread_name(String(s.name.prefix(15)))
            if let c = s.core { _ = cbowman_pin_self_to_cpu(c.rawValue) }
            s.body()
            return nil
        }, start)
        if rc != 0 {
            Unmanaged<AnyObject>.fromOpaque(start).release()
            throw Errno(rc)
        }
        thread = t
    }

    /// Waits for the thread to finish.
    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }

    deinit { if !joined { pthread_detach(thread) } }
}
