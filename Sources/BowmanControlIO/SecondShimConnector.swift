import BowmanControl
import BowmanCore
import BowmanSystem
import Glibc

/// A TCP connect made through the second shim: the source/destination
/// pairs the policy allows are raced (staggered, RFC 8305), each attempt a
/// non-blocking connect from a socket bound to the pair's source; the
/// first connection established wins and is handed back as a plain
/// connected socket, the others are closed, and the second shim is out of
/// the way. With policy `off` only the first pair is tried.
public enum SecondShimConnector {
    public struct Result {
        /// The connected socket (blocking mode restored); the caller owns it.
        public let fd: Int32
        public let pair: SecondShim.Pair
        /// Every pair that was started, in order.
        public let attempted: [SecondShim.Pair]
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public var attempted: [SecondShim.Pair]
    }

    /// Resolves `host` to all its addresses (A and AAAA, through the system
    /// resolver: DNS and /etc/hosts; a literal stands for itself).
    public static func resolveAll(_ host: String) throws -> [IPAddress] {
        do { return try Resolver.resolve(host) } catch { throw Failure(description: error.description, attempted: []) }
    }

    /// Connects for `application` with the policy the administrator's table gives it.
    public static func connect(application: String, host: String, port: UInt16, sources: [IPAddress],
                               policies: SecondShim.PolicyTable) throws -> Result {
        try connect(host: host, port: port, sources: sources, policy: policies.policy(for: application))
    }

    public static func connect(host: String, port: UInt16, sources: [IPAddress], policy: SecondShim.Policy,
                               attemptDelay: UInt64 = 250, timeout: UInt64 = 5_000) throws -> Result {
        try connect(destinations: resolveAll(host), port: port, sources: sources, policy: policy,
                    attemptDelay: attemptDelay, timeout: timeout)
    }

    public static func connect(destinations: [IPAddress], port: UInt16, sources: [IPAddress], policy: SecondShim.Policy,
                               attemptDelay: UInt64 = 250, timeout: UInt64 = 5_000) throws -> Result {
        let pairs = SecondShim.pairs(destinations: destinations, sources: sources, policy: policy)
        var race = SecondShim.Race(pairs: pairs, now: SystemClock.monotonicMilliseconds, attemptDelay: attemptDelay, timeout: timeout)
        var attempts: [SecondShim.Pair: TCPConnection] = [:]
        var attempted: [SecondShim.Pair] = []
        var reasons: [String] = []
        
        func act(_ actions: [SecondShim.Race.Action]) throws -> Result? {
            for a in actions {
                switch a {
                case .attempt(let p):
                    attempted.append(p)
                    switch start(p, port: port) {
                    case .success(let socket): attempts[p] = socket
                    case .failure(let why):
                        reasons.append("\(p): \(why)")
                        if let r = try act(race.failed(p, now: SystemClock.monotonicMilliseconds)) { return r }
                    }
                case .cancel(let p):
                    attempts.removeValue(forKey: p)?.close()
                case .succeeded(let p):
                    guard let socket = attempts.removeValue(forKey: p) else { continue }
                    socket.setBlocking(true)
                    return Result(fd: socket.detach(), pair: p, attempted: attempted)
                case .failed(let why):
                    throw Failure(description: "connect to port \(port): \(why)"
                                  + (reasons.isEmpty ? "" : " (\(reasons.joined(separator: "; ")))"), attempted: attempted)
                }
            }
            return nil
        }

        while true {
            if let r = try act(race.tick(now: SystemClock.monotonicMilliseconds)) { return r }
            let list = Array(attempts)
            if list.isEmpty { SystemClock.sleep(milliseconds: 2); continue }
            let ready = Poll.wait(list.map { Poll.Request($0.value.descriptor, writable: true) }, milliseconds: 5)
            for (pair, socket) in list where ready.contains(socket.descriptor) {
                // Won only when connected to the pair's destination: SO_ERROR 0 alone also
                // reads on a socket whose error was already taken.
                let error = socket.pendingError
                    ?? (socket.remoteAddress?.address == pair.destination && socket.remoteAddress?.port == port ? nil : Errno(ENOTCONN))
                if let err = error {
                    reasons.append("\(pair): \(err)")
                    attempts.removeValue(forKey: pair)?.close()
                    if let r = try act(race.failed(pair, now: SystemClock.monotonicMilliseconds)) { return r }
                } else {
                    if let r = try act(race.succeeded(pair, now: SystemClock.monotonicMilliseconds)) { return r }
                }
            }
        }
    }

    /// Opens a non-blocking socket bound to the pair's source and starts connecting.
    static func start(_ p: SecondShim.Pair, port: UInt16) -> Swift.Result<TCPConnection, StartError> {
        do {
            let s = try TCPConnection(AddressFamily(p.destination))
            do { try s.bind(SocketAddress(p.source, port: 0)) } catch {
                return .failure(StartError("cannot bind \(p.source): \(error.errno)"))
            }
            try s.startConnect(to: SocketAddress(p.destination, port: port))
            return .success(s)
        } catch {
            return .failure(StartError(error.operation == "connect" ? "\(error.errno)" : error.description))
        }
    }

    struct StartError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }
}
