import BowmanControl
import BowmanCore
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
        if let literal = IPAddress(host) { return [literal] }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &res)
        guard rc == 0 else {
            throw Failure(description: "cannot resolve '\(host)': \(String(cString: gai_strerror(rc)))", attempted: [])
        }
        defer { freeaddrinfo(res) }
        var out: [IPAddress] = []
        var p = res
        while let a = p {
            var ss = sockaddr_storage()
            memcpy(&ss, a.pointee.ai_addr, Int(a.pointee.ai_addrlen))
            if let e = ShimUDPNode.endpoint(ss), !out.contains(e.address) { out.append(e.address) }
            p = a.pointee.ai_next
        }
        return out
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
        var race = SecondShim.Race(pairs: pairs, now: ShimUDPNode.now(), attemptDelay: attemptDelay, timeout: timeout)
        var attempts: [SecondShim.Pair: Int32] = [:]
        var attempted: [SecondShim.Pair] = []
        var reasons: [String] = []
        defer { for fd in attempts.values { close(fd) } }

        func act(_ actions: [SecondShim.Race.Action]) throws -> Result? {
            for a in actions {
                switch a {
                case .attempt(let p):
                    attempted.append(p)
                    switch start(p, port: port) {
                    case .success(let fd): attempts[p] = fd
                    case .failure(let why):
                        reasons.append("\(p): \(why)")
                        if let r = try act(race.failed(p, now: ShimUDPNode.now())) { return r }
                    }
                case .cancel(let p):
                    if let fd = attempts.removeValue(forKey: p) { close(fd) }
                case .succeeded(let p):
                    guard let fd = attempts.removeValue(forKey: p) else { continue }
                    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
                    return Result(fd: fd, pair: p, attempted: attempted)
                case .failed(let why):
                    throw Failure(description: "connect to port \(port): \(why)"
                                  + (reasons.isEmpty ? "" : " (\(reasons.joined(separator: "; ")))"), attempted: attempted)
                }
            }
            return nil
        }

        while true {
            if let r = try act(race.tick(now: ShimUDPNode.now())) { return r }
            let list = Array(attempts)
            var fds = list.map { pollfd(fd: $0.value, events: Int16(POLLOUT), revents: 0) }
            if fds.isEmpty { usleep(2_000); continue }
            _ = poll(&fds, nfds_t(fds.count), 5)
            for (k, p) in fds.enumerated() where p.revents != 0 {
                let pair = list[k].key
                var err: Int32 = 0
                var len = socklen_t(4)
                getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len)
                if err == 0 && p.revents & Int16(POLLOUT) != 0 {
                    if let r = try act(race.succeeded(pair, now: ShimUDPNode.now())) { return r }
                } else {
                    reasons.append("\(pair): \(String(cString: strerror(err == 0 ? ECONNREFUSED : err)))")
                    if let fd = attempts.removeValue(forKey: pair) { close(fd) }
                    if let r = try act(race.failed(pair, now: ShimUDPNode.now())) { return r }
                }
            }
        }
    }

    /// Opens a non-blocking socket bound to the pair's source and starts connecting.
    static func start(_ p: SecondShim.Pair, port: UInt16) -> Swift.Result<Int32, StartError> {
        let family: Int32 = { if case .v4 = p.destination { AF_INET } else { AF_INET6 } }()
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return .failure(StartError("socket: \(String(cString: strerror(errno)))")) }
        let src = ShimUDP.Endpoint(p.source, 0), dst = ShimUDP.Endpoint(p.destination, port)
        var s = ShimUDPNode.socketAddress(src), d = ShimUDPNode.socketAddress(dst)
        let b = withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, ShimUDPNode.length(src)) } }
        guard b == 0 else {
            let e = String(cString: strerror(errno)); close(fd)
            return .failure(StartError("cannot bind \(p.source): \(e)"))
        }
        let c = withUnsafePointer(to: &d) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, ShimUDPNode.length(dst)) } }
        guard c == 0 || errno == EINPROGRESS else {
            let e = String(cString: strerror(errno)); close(fd)
            return .failure(StartError(e))
        }
        return .success(fd)
    }

    struct StartError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }
}
