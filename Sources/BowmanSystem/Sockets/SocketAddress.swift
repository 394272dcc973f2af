import BowmanCore
import Glibc

/// An IP socket address: what sockaddr_in/sockaddr_in6 say, typed. `scope`
/// is the interface index of an IPv6 link-local address (0 otherwise).
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16
    public var scope: UInt32

    public init(_ address: IPAddress, port: UInt16, scope: UInt32 = 0) {
        self.address = address
        self.port = port
        self.scope = scope
    }

    /// The wildcard address of a family (`0.0.0.0` or `::`).
    public static func any(_ family: AddressFamily, port: UInt16 = 0) -> SocketAddress {
        SocketAddress(family == .v4 ? .v4(IPv4Address(rawValue: 0)) : .v6(IPv6Address(high: 0, low: 0)), port: port)
    }

    public var family: AddressFamily { AddressFamily(address) }

    public var description: String {
        switch address {
        case .v4(let a): return "\(a):\(port)"
        case .v6(let a): return scope == 0 ? "[\(a)]:\(port)" : "[\(a)%\(scope)]:\(port)"
        }
    }

    /// Calls `body` with this address as a `sockaddr` and its length.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch address {
        case .v4(let a):
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = port.bigEndian
            sa.sin_addr.s_addr = a.rawValue.bigEndian
            return withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(let a):
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = port.bigEndian
            sa.sin6_scope_id = scope
            withUnsafeMutableBytes(of: &sa.sin6_addr) { a.store(to: $0, at: 0) }
            return withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    /// The address in a `sockaddr` of family AF_INET or AF_INET6; nil for any other.
    init?(_ sa: UnsafePointer<sockaddr>) {
        switch Int32(sa.pointee.sa_family) {
        case AF_INET:
            let s = UnsafeRawPointer(sa).loadUnaligned(as: sockaddr_in.self)
            self.init(.v4(IPv4Address(rawValue: UInt32(bigEndian: s.sin_addr.s_addr))), port: UInt16(bigEndian: s.sin_port))
        case AF_INET6:
            var s = UnsafeRawPointer(sa).loadUnaligned(as: sockaddr_in6.self)
            let a = withUnsafeBytes(of: &s.sin6_addr) { IPv6Address(loadingFrom: $0, at: 0) }
            self.init(.v6(a), port: UInt16(bigEndian: s.sin6_port), scope: s.sin6_scope_id)
        default:
            return nil
        }
    }

    /// Fills a `sockaddr_storage` through `body` (recvfrom, accept,
    /// getsockname) and reads the address back.
    static func receiving<R>(_ body: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> R) -> (R, SocketAddress?) {
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &ss) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                let r = body(sa, &len)
                return (r, SocketAddress(UnsafePointer(sa)))
            }
        }
    }
}

/// IPv4 or IPv6.
public enum AddressFamily: Sendable, Hashable {
    case v4, v6
    public init(_ a: IPAddress) { if case .v4 = a { self = .v4 } else { self = .v6 } }
    var raw: Int32 { self == .v4 ? AF_INET : AF_INET6 }
}
