/// Why a packet could not be parsed. A plain value (no allocation), thrown
/// with typed throws so the hot path pays for no existential box.
public struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The header being parsed when the problem was found.
    public enum Layer: UInt8, Sendable, CustomStringConvertible {
        case link, ethernet, vlan, llc, mpls, arp, ipv4, ipv4Options, ipv6, ipv6Extension
        case udp, tcp, tcpOptions, icmp, icmpv6, igmp, mld, neighborDiscovery, mobility
        public var description: String {
            switch self {
            case .link: "link header"
            case .ethernet: "ethernet"
            case .vlan: "vlan"
            case .llc: "llc"
            case .mpls: "mpls"
            case .arp: "arp"
            case .ipv4: "ipv4"
            case .ipv4Options: "ipv4 options"
            case .ipv6: "ipv6"
            case .ipv6Extension: "ipv6 extension header"
            case .udp: "udp"
            case .tcp: "tcp"
            case .tcpOptions: "tcp options"
            case .icmp: "icmp"
            case .icmpv6: "icmpv6"
            case .igmp: "igmp"
            case .mld: "mld"
            case .neighborDiscovery: "nd"
            case .mobility: "mobility header"
            }
        }
    }

    public enum Reason: Equatable, Sendable {
        /// The header needs `needed` bytes from its start; only `available` were captured.
        case truncated(needed: Int, available: Int)
        case badVersion(UInt8)
        /// A header-length field below its minimum or beyond its datagram.
        case badHeaderLength(Int)
        /// A total/payload/datagram length field that contradicts the header.
        case badLength(Int)
        case tooManyVLANTags
        case tooManyExtensionHeaders
        case tooManyLabels
        /// A TLV option whose length is zero or runs past its header.
        case badOption(offset: Int)
        case unsupportedLinkType(Int32)
    }

    public var layer: Layer
    public var reason: Reason
    /// Byte offset of the offending header from the start of the packet.
    public var offset: Int

    @inlinable public init(_ layer: Layer, _ reason: Reason, at offset: Int) {
        self.layer = layer; self.reason = reason; self.offset = offset
    }

    public var isTruncation: Bool { if case .truncated = reason { true } else { false } }

    public var description: String {
        switch reason {
        case .truncated(let n, let a): "\(layer) truncated at byte \(offset): needs \(n) bytes, \(a) captured"
        case .badVersion(let v): "\(layer) at byte \(offset): bad version \(v)"
        case .badHeaderLength(let l): "\(layer) at byte \(offset): bad header length \(l)"
        case .badLength(let l): "\(layer) at byte \(offset): bad length \(l)"
        case .tooManyVLANTags: "\(layer) at byte \(offset): more than \(PacketMetadata.maxVLANTags) VLAN tags"
        case .tooManyExtensionHeaders: "\(layer) at byte \(offset): more than \(PacketParser.maxExtensionHeaders) extension headers"
        case .tooManyLabels: "\(layer) at byte \(offset): more than \(PacketParser.maxMPLSLabels) MPLS labels"
        case .badOption(let o): "\(layer) at byte \(offset): malformed option at byte \(o)"
        case .unsupportedLinkType(let t): "unsupported link type \(t)"
        }
    }
}
