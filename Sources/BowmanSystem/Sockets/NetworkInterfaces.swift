import BowmanCore
import Glibc

/// A network interface and its addresses (getifaddrs).
public struct NetworkInterface: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var index: UInt32
    public var isUp: Bool
    public var isLoopback: Bool
    public var supportsMulticast: Bool
    public var addresses: [IPAddress]
    public var description: String { name }

    /// The interface's IPv6 link-local addresses (fe80::/10).
    public var linkLocalAddresses: [IPv6Address] {
        addresses.compactMap { if case .v6(let a) = $0, a.isLinkLocal { a } else { nil } }
    }

    /// The interfaces of this network namespace, by index.
    public static func all() throws(SocketError) -> [NetworkInterface] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { throw SocketError("getifaddrs") }
        defer { freeifaddrs(list) }
        var out: [String: NetworkInterface] = [:]
        var p = list
        while let i = p {
            defer { p = i.pointee.ifa_next }
            let name = String(cString: i.pointee.ifa_name)
            let flags = i.pointee.ifa_flags
            var entry = out[name] ?? NetworkInterface(
                name: name, index: if_nametoindex(name), isUp: flags & UInt32(IFF_UP) != 0,
                isLoopback: flags & UInt32(IFF_LOOPBACK) != 0, supportsMulticast: flags & UInt32(IFF_MULTICAST) != 0, addresses: [])
            if let sa = i.pointee.ifa_addr, let a = SocketAddress(UnsafePointer(sa)), !entry.addresses.contains(a.address) {
                entry.addresses.append(a.address)
            }
            out[name] = entry
        }
        return out.values.sorted { $0.index < $1.index }
    }
}
