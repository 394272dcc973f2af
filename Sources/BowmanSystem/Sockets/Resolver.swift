import BowmanCore
import Glibc

/// Name resolution through the system resolver (getaddrinfo: DNS and
/// /etc/hosts). A literal address stands for itself.
public enum Resolver {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var host: String
        public var reason: String
        public var description: String { "cannot resolve '\(host)': \(reason)" }
    }

    /// Every address of `host` (of `family` when given), in the resolver's order, without repeats.
    public static func resolve(_ host: String, family: AddressFamily? = nil) throws(Failure) -> [IPAddress] {
        if let literal = IPAddress(host) {
            guard family == nil || AddressFamily(literal) == family else { throw Failure(host: host, reason: "not an \(family == .v4 ? "IPv4" : "IPv6") address") }
            return [literal]
        }
        var hints = addrinfo()
        hints.ai_family = family?.raw ?? AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &res)
        guard rc == 0 else { throw Failure(host: host, reason: String(cString: gai_strerror(rc))) }
        defer { freeaddrinfo(res) }
        var out: [IPAddress] = []
        var p = res
        while let a = p {
            if let sa = a.pointee.ai_addr, let e = SocketAddress(UnsafePointer(sa)), !out.contains(e.address) { out.append(e.address) }
            p = a.pointee.ai_next
        }
        guard !out.isEmpty else { throw Failure(host: host, reason: "no usable address") }
        return out
    }
}
