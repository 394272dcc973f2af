// Constants are computed properties, not `static let`: a static stored
// property is a lazily initialised global reached through an addressor call
// on every use (measured in the parser's hot loop); these fold to immediates.

/// EtherType values (IEEE registry) that Bowman understands.
public enum EtherType {
    @inlinable public static var ipv4: UInt16 { 0x0800 }
    @inlinable public static var arp: UInt16 { 0x0806 }
    @inlinable public static var vlan: UInt16 { 0x8100 }        // 802.1Q C-tag
    @inlinable public static var qinq: UInt16 { 0x88A8 }        // 802.1ad S-tag
    @inlinable public static var qinqLegacy: UInt16 { 0x9100 }  // pre-802.1ad vendor S-tag
    @inlinable public static var ipv6: UInt16 { 0x86DD }
    @inlinable public static var mplsUnicast: UInt16 { 0x8847 }
    @inlinable public static var mplsMulticast: UInt16 { 0x8848 }
    @inlinable public static var lldp: UInt16 { 0x88CC }
}

/// IP protocol / IPv6 next-header numbers (IANA "Assigned Internet Protocol Numbers").
public enum IPProtocol {
    @inlinable public static var hopByHop: UInt8 { 0 }
    @inlinable public static var icmp: UInt8 { 1 }
    @inlinable public static var igmp: UInt8 { 2 }
    @inlinable public static var ipInIP: UInt8 { 4 }
    @inlinable public static var tcp: UInt8 { 6 }
    @inlinable public static var udp: UInt8 { 17 }
    @inlinable public static var ipv6: UInt8 { 41 }
    @inlinable public static var routing: UInt8 { 43 }
    @inlinable public static var fragment: UInt8 { 44 }
    @inlinable public static var gre: UInt8 { 47 }
    @inlinable public static var esp: UInt8 { 50 }
    @inlinable public static var ah: UInt8 { 51 }
    @inlinable public static var icmpv6: UInt8 { 58 }
    @inlinable public static var noNextHeader: UInt8 { 59 }
    @inlinable public static var destinationOptions: UInt8 { 60 }
    @inlinable public static var pim: UInt8 { 103 }
    @inlinable public static var sctp: UInt8 { 132 }
    @inlinable public static var mobility: UInt8 { 135 }
}

/// pcap link-layer header types (LINKTYPE_* from tcpdump.org/linktypes.html),
/// with the DLT_* aliases libpcap reports for some of them.
public struct LinkType: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    @inlinable public init(_ rawValue: Int32) { self.rawValue = rawValue }

    @inlinable public static var null: LinkType { LinkType(0) }        // BSD loopback, host-order family
    @inlinable public static var ethernet: LinkType { LinkType(1) }
    @inlinable public static var rawDLT12: LinkType { LinkType(12) }   // DLT_RAW on most BSDs
    @inlinable public static var rawDLT14: LinkType { LinkType(14) }   // DLT_RAW on OpenBSD
    @inlinable public static var raw: LinkType { LinkType(101) }
    @inlinable public static var loop: LinkType { LinkType(108) }      // OpenBSD loopback, network-order family
    @inlinable public static var linuxSLL: LinkType { LinkType(113) }
    @inlinable public static var ipv4: LinkType { LinkType(228) }
    @inlinable public static var ipv6: LinkType { LinkType(229) }
    @inlinable public static var linuxSLL2: LinkType { LinkType(276) }

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
