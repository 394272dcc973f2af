/// EtherType values (IEEE registry) that Bowman understands.
public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let vlan: UInt16 = 0x8100        // 802.1Q C-tag
    public static let qinq: UInt16 = 0x88A8        // 802.1ad S-tag
    public static let qinqLegacy: UInt16 = 0x9100  // pre-802.1ad vendor S-tag
    public static let ipv6: UInt16 = 0x86DD
    public static let mplsUnicast: UInt16 = 0x8847
    public static let mplsMulticast: UInt16 = 0x8848
    public static let lldp: UInt16 = 0x88CC
}

/// IP protocol / IPv6 next-header numbers (IANA "Assigned Internet Protocol Numbers").
public enum IPProtocol {
    public static let hopByHop: UInt8 = 0
    public static let icmp: UInt8 = 1
    public static let igmp: UInt8 = 2
    public static let ipInIP: UInt8 = 4
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let ipv6: UInt8 = 41
    public static let routing: UInt8 = 43
    public static let fragment: UInt8 = 44
    public static let gre: UInt8 = 47
    public static let esp: UInt8 = 50
    public static let ah: UInt8 = 51
    public static let icmpv6: UInt8 = 58
    public static let noNextHeader: UInt8 = 59
    public static let destinationOptions: UInt8 = 60
    public static let pim: UInt8 = 103
    public static let sctp: UInt8 = 132
    public static let mobility: UInt8 = 135
}

/// pcap link-layer header types (LINKTYPE_* from tcpdump.org/linktypes.html),
/// with the DLT_* aliases libpcap reports for some of them.
public struct LinkType: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    @inlinable public init(_ rawValue: Int32) { self.rawValue = rawValue }

    public static let null = LinkType(0)        // BSD loopback, host-order family
    public static let ethernet = LinkType(1)
    public static let rawDLT12 = LinkType(12)   // DLT_RAW on most BSDs
    public static let rawDLT14 = LinkType(14)   // DLT_RAW on OpenBSD
    public static let raw = LinkType(101)
    public static let loop = LinkType(108)      // OpenBSD loopback, network-order family
    public static let linuxSLL = LinkType(113)
    public static let ipv4 = LinkType(228)
    public static let ipv6 = LinkType(229)
    public static let linuxSLL2 = LinkType(276)

    public var description: String {
        switch self {
        case .null: "NULL"
        case .ethernet: "EN10MB"
        case .raw, .rawDLT12, .rawDLT14: "RAW"
        case .loop: "LOOP"
        case .linuxSLL: "LINUX_SLL"
        case .linuxSLL2: "LINUX_SLL2"
        case .ipv4: "IPV4"
        case .ipv6: "IPV6"
        default: "linktype \(rawValue)"
        }
    }
}
