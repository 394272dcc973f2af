/// What one pass of `PacketParser` learned about a packet: offsets of each
/// layer, the addresses and ports, and flags. A trivial value type (no
/// references), so a burst keeps an array of them and a worker reuses it.
///
/// IPv4 addresses are kept in the low 32 bits of `srcLow`/`dstLow` with the
/// high halves zero; `ipVersion` tells which family.
public struct PacketMetadata: Equatable, Sendable {
    @inlinable public static var maxVLANTags: Int { 2 }

    // MARK: hot (5-tuple)
    public var srcHigh: UInt64
    public var srcLow: UInt64
    public var dstHigh: UInt64
    public var dstLow: UInt64
    /// L4 ports; for ICMP/ICMPv6 the type and code; 0 otherwise.
    public var srcPort: UInt16
    public var dstPort: UInt16
    /// The final upper-layer protocol (after IPv6 extension headers), or the
    /// last next-header value seen.
    public var l4Protocol: UInt8
    /// 0 (no IP), 4 or 6.
    public var ipVersion: UInt8

    // MARK: layer offsets (from the start of the packet)
    public var l3Offset: UInt16
    public var l4Offset: UInt16
    /// End of the IP datagram inside the captured bytes: min(IP length, captured).
    public var l3End: UInt16
    /// EtherType of the L3 payload (after VLAN/MPLS), or 0.
    public var etherType: UInt16

    // MARK: L2 details
    public var vlanCount: UInt8
    /// Tag control information (PCP/DEI/VID) of the outer and inner tag.
    public var vlanTCI: (UInt16, UInt16)
    public var mplsLabelCount: UInt8

    // MARK: L3 details
    public var ttl: UInt8
    public var tos: UInt8
    /// IPv6 extension headers walked.
    public var extensionHeaderCount: UInt8
    public var flags: Flags
    /// TCP flags byte, when TCP.
    public var tcpFlags: UInt8
    /// Offsets of the IPv6 addresses the pseudo-header uses instead of the
    /// fixed header's (RFC 8200 §8.1 routing header final destination,
    /// RFC 6275 §6.3 Home Address option); 0 when none.
    public var pseudoSourceOffset: UInt16
    public var pseudoDestinationOffset: UInt16

    public struct Flags: OptionSet, Equatable, Sendable {
        public var rawValue: UInt16
        @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// IPv4 MF set or fragment offset non-zero, or an IPv6 fragment header.
        @inlinable public static var fragment: Flags { Flags(rawValue: 1 << 0) }
        /// A fragment with offset non-zero: no L4 header in it.
        @inlinable public static var laterFragment: Flags { Flags(rawValue: 1 << 1) }
        /// The IP datagram is longer than what was captured.
        @inlinable public static var truncatedL3: Flags { Flags(rawValue: 1 << 2) }
        /// The L4 header was parsed (ports / types valid).
        @inlinable public static var hasL4: Flags { Flags(rawValue: 1 << 3) }
        /// IPv4 header carries options.
        @inlinable public static var ipv4Options: Flags { Flags(rawValue: 1 << 4) }
        /// The frame carries bytes after the IP datagram (Ethernet padding).
        @inlinable public static var trailer: Flags { Flags(rawValue: 1 << 5) }
        /// 802.3 length field + LLC instead of an EtherType.
        @inlinable public static var llc: Flags { Flags(rawValue: 1 << 6) }
        /// IPv4 DF bit.
        @inlinable public static var dontFragment: Flags { Flags(rawValue: 1 << 7) }
    }

    /// All zero. Written out (not default property values) so the whole
    /// initialisation inlines across modules: a default value is a separate
    /// function per property, called on every parse.
    @inlinable public init() {
        srcHigh = 0
        srcLow = 0
        dstHigh = 0
        dstLow = 0
        srcPort = 0
        dstPort = 0
        l4Protocol = 0
        ipVersion = 0
        l3Offset = 0
        l4Offset = 0
        l3End = 0
        etherType = 0
        vlanCount = 0
        vlanTCI = (0, 0)
        mplsLabelCount = 0
        ttl = 0
        tos = 0
        extensionHeaderCount = 0
        flags = []
        tcpFlags = 0
        pseudoSourceOffset = 0
        pseudoDestinationOffset = 0
    }

    public static func == (a: PacketMetadata, b: PacketMetadata) -> Bool {
        a.srcHigh == b.srcHigh && a.srcLow == b.srcLow && a.dstHigh == b.dstHigh && a.dstLow == b.dstLow
            && a.srcPort == b.srcPort && a.dstPort == b.dstPort && a.l4Protocol == b.l4Protocol
            && a.ipVersion == b.ipVersion && a.l3Offset == b.l3Offset && a.l4Offset == b.l4Offset
            && a.l3End == b.l3End && a.etherType == b.etherType && a.vlanCount == b.vlanCount
            && a.vlanTCI == b.vlanTCI && a.mplsLabelCount == b.mplsLabelCount && a.ttl == b.ttl
            && a.tos == b.tos && a.extensionHeaderCount == b.extensionHeaderCount && a.flags == b.flags
            && a.tcpFlags == b.tcpFlags && a.pseudoSourceOffset == b.pseudoSourceOffset
            && a.pseudoDestinationOffset == b.pseudoDestinationOffset
    }
}
