/// One-pass header parser: link layer, VLAN/MPLS, IPv4/IPv6 (with extension
/// headers), and the first transport header. It reads through a raw buffer
/// with one bounds check per header (Click's "safe length" idea), never
/// allocates, and throws a `ParseError` value for truncated or malformed
/// input. On error, `PacketMetadata` holds what was parsed before it.
public enum PacketParser {
    @inlinable public static var maxExtensionHeaders: UInt8 { 8 }
    @inlinable public static var maxMPLSLabels: UInt8 { 8 }
    /// Offsets are kept in 16 bits; larger captured frames are parsed over
    /// their first 65535 bytes.
    @inlinable public static var maxParsedBytes: Int { 65535 }
    // Offsets and lengths below are sums of a few header lengths, each below
    // 2^16, so the arithmetic uses wrapping operators: it cannot overflow,
    // and overflow checks were measured at ~10 branches per IPv4 packet.

    // MARK: - Entry points

    /// Parses an Ethernet frame.
    @inlinable
    public static func parse(ethernet p: UnsafeRawBufferPointer, into m: inout PacketMetadata) throws(ParseError) {
        m = PacketMetadata()
        let n = min(p.count, maxParsedBytes)
        try parseEthernet(p, n, 0, &m)
    }

    /// Parses a frame of any supported pcap link type.
    @inlinable
    public static func parse(_ p: UnsafeRawBufferPointer, linkType: LinkType, into m: inout PacketMetadata) throws(ParseError) {
        m = PacketMetadata()
        let n = min(p.count, maxParsedBytes)
        switch linkType {
        case .ethernet:
            try parseEthernet(p, n, 0, &m)
        case .raw, .rawDLT12, .rawDLT14, .ipv4, .ipv6:
            try parseRawIP(p, n, 0, &m)
        case .linuxSLL:
            guard n >= 16 else { throw ParseError(.link, .truncated(needed: 16, available: n), at: 0) }
            try parseNetwork(p, n, be16(p, 14), 16, &m)
        case .linuxSLL2:
            guard n >= 20 else { throw ParseError(.link, .truncated(needed: 20, available: n), at: 0) }
            try parseNetwork(p, n, be16(p, 0), 20, &m)
        case .null, .loop:
            guard n >= 4 else { throw ParseError(.link, .truncated(needed: 4, available: n), at: 0) }
            let family = linkType == .loop ? be32(p, 0) : UInt32(littleEndian: p.loadUnaligned(as: UInt32.self))
            let fam = family > 0xFFFF ? family.byteSwapped : family   // captured on the other endianness
            switch fam {
            case 2: try parseNetwork(p, n, EtherType.ipv4, 4, &m)
            case 24, 28, 30: try parseNetwork(p, n, EtherType.ipv6, 4, &m)
            default: m.l3Offset = 4
            }
        default:
            throw ParseError(.link, .unsupportedLinkType(linkType.rawValue), at: 0)
        }
    }

    // MARK: - Loads
    //
    // Loads go through the base pointer: every header's length is checked
    // once before its fields are read, and UnsafeRawBufferPointer's own
    // per-load bounds check (kept in -O builds) would repeat that work.
    // Callers only load after such a check, so the buffer is not empty.

    @inlinable @inline(__always)
    static func be16(_ p: UnsafeRawBufferPointer, _ o: Int) -> UInt16 {
        UInt16(bigEndian: p.baseAddress.unsafelyUnwrapped.loadUnaligned(fromByteOffset: o, as: UInt16.self))
    }
    @inlinable @inline(__always)
    static func be32(_ p: UnsafeRawBufferPointer, _ o: Int) -> UInt32 {
        UInt32(bigEndian: p.baseAddress.unsafelyUnwrapped.loadUnaligned(fromByteOffset: o, as: UInt32.self))
    }
    @inlinable @inline(__always)
    static func be64(_ p: UnsafeRawBufferPointer, _ o: Int) -> UInt64 {
        UInt64(bigEndian: p.baseAddress.unsafelyUnwrapped.loadUnaligned(fromByteOffset: o, as: UInt64.self))
    }
    @inlinable @inline(__always)
    static func byte(_ p: UnsafeRawBufferPointer, _ o: Int) -> UInt8 {
        p.baseAddress.unsafelyUnwrapped.load(fromByteOffset: o, as: UInt8.self)
    }

    // MARK: - Layer 2
    //
    // The dispatch layers are @inline(__always): left to itself the
    // optimiser merged parseEthernet with a similar function and reached the
    // L3 parser through an indirect call on every packet.

    @inlinable @inline(__always)
    static func parseEthernet(_ p: UnsafeRawBufferPointer, _ n: Int, _ start: Int, _ m: inout PacketMetadata) throws(ParseError) {
        guard n &- start >= 14 else { throw ParseError(.ethernet, .truncated(needed: 14, available: n &- start), at: start) }
        var type = be16(p, start &+ 12)
        var off = start &+ 14
        // 802.1Q / 802.1ad tags.
        while type == EtherType.vlan || type == EtherType.qinq || type == EtherType.qinqLegacy {
            guard m.vlanCount < PacketMetadata.maxVLANTags else { throw ParseError(.vlan, .tooManyVLANTags, at: off) }
            guard n &- off >= 4 else { throw ParseError(.vlan, .truncated(needed: 4, available: n &- off), at: off) }
            let tci = be16(p, off)
            if m.vlanCount == 0 { m.vlanTCI.0 = tci } else { m.vlanTCI.1 = tci }
            m.vlanCount &+= 1
            type = be16(p, off &+ 2)
            off &+= 4
        }
        if type < 0x0600 {
            // IEEE 802.3 length field: LLC, possibly SNAP carrying an EtherType.
            m.flags.insert(.llc)
            guard n &- off >= 3 else { throw ParseError(.llc, .truncated(needed: 3, available: n &- off), at: off) }
            if byte(p, off) == 0xAA && byte(p, off &+ 1) == 0xAA && byte(p, off &+ 2) == 0x03 {
                guard n &- off >= 8 else { throw ParseError(.llc, .truncated(needed: 8, available: n &- off), at: off) }
                type = be16(p, off &+ 6)
                off &+= 8
            } else {
                m.l3Offset = UInt16(truncatingIfNeeded: off)
                return
            }
        }
        try parseNetwork(p, n, type, off, &m)
    }

    // MARK: - Layer 3

    @inlinable
    static func parseRawIP(_ p: UnsafeRawBufferPointer, _ n: Int, _ off: Int, _ m: inout PacketMetadata) throws(ParseError) {
        guard n &- off >= 1 else { throw ParseError(.ipv4, .truncated(needed: 1, available: 0), at: off) }
        switch byte(p, off) >> 4 {
        case 4: try parseNetwork(p, n, EtherType.ipv4, off, &m)
        case 6: try parseNetwork(p, n, EtherType.ipv6, off, &m)
        case let v: throw ParseError(.ipv4, .badVersion(v), at: off)
        }
    }

    @inlinable @inline(__always)
    static func parseNetwork(_ p: UnsafeRawBufferPointer, _ n: Int, _ type: UInt16, _ off: Int,
                             _ m: inout PacketMetadata) throws(ParseError) {
        m.etherType = type
        m.l3Offset = UInt16(truncatingIfNeeded: off)
        switch type {
        case EtherType.ipv4: try parseIPv4(p, n, off, &m)
        case EtherType.ipv6: try parseIPv6(p, n, off, &m)
        case EtherType.arp: try parseARP(p, n, off, &m)
        case EtherType.mplsUnicast, EtherType.mplsMulticast: try parseMPLS(p, n, off, &m)
        default: return
        }
    }

    @usableFromInline
    static func parseARP(_ p: UnsafeRawBufferPointer, _ n: Int, _ off: Int, _ m: inout PacketMetadata) throws(ParseError) {
        guard n &- off >= 8 else { throw ParseError(.arp, .truncated(needed: 8, available: n &- off), at: off) }
        let need = 8 &+ 2 &* Int(byte(p, off &+ 4)) &+ 2 &* Int(byte(p, off &+ 5))
        guard n &- off >= need else { throw ParseError(.arp, .truncated(needed: need, available: n &- off), at: off) }
        m.l3End = UInt16(truncatingIfNeeded: off &+ need)
    }

    @usableFromInline
    static func parseMPLS(_ p: UnsafeRawBufferPointer, _ n: Int, _ start: Int, _ m: inout PacketMetadata) throws(ParseError) {
        var off = start
        while true {
            guard m.mplsLabelCount < maxMPLSLabels else { throw ParseError(.mpls, .tooManyLabels, at: off) }
            guard n &- off >= 4 else { throw ParseError(.mpls, .truncated(needed: 4, available: n &- off), at: off) }
            let bottom = byte(p, off &+ 2) & 1 != 0
            m.mplsLabelCount &+= 1
            off &+= 4
            if bottom { break }
        }
        // RFC 4928: the payload type is guessed from the first nibble.
        guard n &- off >= 1 else { m.l3Offset = UInt16(truncatingIfNeeded: off); return }
        switch byte(p, off) >> 4 {
        case 4: try parseNetwork(p, n, EtherType.ipv4, off, &m)
        case 6: try parseNetwork(p, n, EtherType.ipv6, off, &m)
        default: m.l3Offset = UInt16(truncatingIfNeeded: off); m.etherType = 0
        }
    }

    @inlinable
    static func parseIPv4(_ p: UnsafeRawBufferPointer, _ n: Int, _ off: Int, _ m: inout PacketMetadata) throws(ParseError) {
        guard n &- off >= 20 else { throw ParseError(.ipv4, .truncated(needed: 20, available: n &- off), at: off) }
        let vihl = byte(p, off)
        guard vihl >> 4 == 4 else { throw ParseError(.ipv4, .badVersion(vihl >> 4), at: off) }
        let ihl = Int(vihl & 0x0F) << 2
        guard ihl >= 20 else { throw ParseError(.ipv4, .badHeaderLength(ihl), at: off) }
        guard n &- off >= ihl else { throw ParseError(.ipv4, .truncated(needed: ihl, available: n &- off), at: off) }
        let total = Int(be16(p, off &+ 2))
        m.ipVersion = 4
        m.tos = byte(p, off &+ 1)
        m.ttl = byte(p, off &+ 8)
        m.l4Protocol = byte(p, off &+ 9)
        m.srcLow = UInt64(be32(p, off &+ 12))
        m.dstLow = UInt64(be32(p, off &+ 16))
        if ihl > 20 { m.flags.insert(.ipv4Options) }
        guard total >= ihl else { throw ParseError(.ipv4, .badLength(total), at: off) }
        var end = off &+ total
        if end > n { m.flags.insert(.truncatedL3); end = n } else if end < n { m.flags.insert(.trailer) }
        m.l3End = UInt16(truncatingIfNeeded: end)
        let frag = be16(p, off &+ 6)
        if frag & 0x4000 != 0 { m.flags.insert(.dontFragment) }
        if frag & 0x3FFF != 0 {
            m.flags.insert(.fragment)
            if frag & 0x1FFF != 0 { m.flags.insert(.laterFragment) }
        }
        let l4 = off &+ ihl
        m.l4Offset = UInt16(truncatingIfNeeded: l4)
        if !m.flags.contains(.laterFragment) {
            try parseTransport(p, l4, end, m.l4Protocol, &m)
        }
    }

    @inlinable
    static func parseIPv6(_ p: UnsafeRawBufferPointer, _ n: Int, _ off: Int, _ m: inout PacketMetadata) throws(ParseError) {
        guard n &- off >= 40 else { throw ParseError(.ipv6, .truncated(needed: 40, available: n &- off), at: off) }
        let word0 = be32(p, off)
        guard word0 >> 28 == 6 else { throw ParseError(.ipv6, .badVersion(UInt8(word0 >> 28)), at: off) }
        m.ipVersion = 6
        m.tos = UInt8(truncatingIfNeeded: word0 >> 20)
        m.ttl = byte(p, off &+ 7)
        m.srcHigh = be64(p, off &+ 8); m.srcLow = be64(p, off &+ 16)
        m.dstHigh = be64(p, off &+ 24); m.dstLow = be64(p, off &+ 32)
        let payload = Int(be16(p, off &+ 4))
        var next = byte(p, off &+ 6)
        var end = off &+ 40 &+ payload
        // Payload length 0 with a hop-by-hop header is a jumbogram (RFC 2675).
        if payload == 0 && next == IPProtocol.hopByHop { end = n }
        if end > n { m.flags.insert(.truncatedL3); end = n } else if end < n { m.flags.insert(.trailer) }
        m.l3End = UInt16(truncatingIfNeeded: end)
        var cur = off &+ 40
        m.l4Protocol = next
        m.l4Offset = UInt16(truncatingIfNeeded: cur)
        while next == IPProtocol.hopByHop || next == IPProtocol.routing || next == IPProtocol.fragment
            || next == IPProtocol.destinationOptions || next == IPProtocol.ah {
            guard m.extensionHeaderCount < maxExtensionHeaders else {
                throw ParseError(.ipv6Extension, .tooManyExtensionHeaders, at: cur)
            }
            guard end &- cur >= 8 else {
                throw ParseError(.ipv6Extension, .truncated(needed: 8, available: end &- cur), at: cur)
            }
            let following = byte(p, cur)
            let len: Int
            switch next {
            case IPProtocol.fragment:
                len = 8
                m.flags.insert(.fragment)
                if be16(p, cur &+ 2) & 0xFFF8 != 0 { m.flags.insert(.laterFragment) }
            case IPProtocol.ah:
                len = (Int(byte(p, cur &+ 1)) &+ 2) << 2
            default:
                len = (Int(byte(p, cur &+ 1)) &+ 1) << 3
            }
            guard end &- cur >= len else {
                throw ParseError(.ipv6Extension, .truncated(needed: len, available: end &- cur), at: cur)
            }
            if next == IPProtocol.routing {
                let type = byte(p, cur &+ 2), segmentsLeft = byte(p, cur &+ 3)
                let addresses = Int(byte(p, cur &+ 1)) >> 1
                // Type 0 (deprecated, RFC 5095) and type 2 (RFC 6275) list addresses;
                // the pseudo-header uses the final one (RFC 8200 §8.1).
                if (type == 0 || type == 2) && segmentsLeft > 0 && addresses > 0 {
                    m.pseudoDestinationOffset = UInt16(truncatingIfNeeded: cur &+ 8 &+ (addresses &- 1) &* 16)
                }
            } else if next == IPProtocol.hopByHop || next == IPProtocol.destinationOptions {
                try walkOptions(p, cur, len, isDestination: next == IPProtocol.destinationOptions, &m)
            }
            m.extensionHeaderCount &+= 1
            cur &+= len
            next = following
            m.l4Protocol = next
            m.l4Offset = UInt16(truncatingIfNeeded: cur)
            if m.flags.contains(.laterFragment) { return }
        }
        try parseTransport(p, cur, end, next, &m)
    }

    /// Walks the TLV options of a hop-by-hop or destination-options header,
    /// noting a Home Address option (type 201, RFC 6275 §6.3).
    @usableFromInline
    static func walkOptions(_ p: UnsafeRawBufferPointer, _ start: Int, _ len: Int, isDestination: Bool,
                            _ m: inout PacketMetadata) throws(ParseError) {
        var o = start &+ 2
        let end = start &+ len
        while o < end {
            let type = byte(p, o)
            if type == 0 { o &+= 1; continue }  // Pad1
            guard end &- o >= 2 else { throw ParseError(.ipv6Extension, .badOption(offset: o), at: start) }
            let olen = Int(byte(p, o &+ 1))
            guard end &- o &- 2 >= olen else { throw ParseError(.ipv6Extension, .badOption(offset: o), at: start) }
            if isDestination && type == 201 && olen == 16 { m.pseudoSourceOffset = UInt16(truncatingIfNeeded: o &+ 2) }
            o &+= 2 &+ olen
        }
    }

    // MARK: - Layer 4

    @inlinable @inline(__always)
    static func parseTransport(_ p: UnsafeRawBufferPointer, _ l4: Int, _ end: Int, _ proto: UInt8,
                               _ m: inout PacketMetadata) throws(ParseError) {
        let avail = end &- l4
        switch proto {
        case IPProtocol.udp:
            guard avail >= 8 else { throw ParseError(.udp, .truncated(needed: 8, available: avail), at: l4) }
            m.srcPort = be16(p, l4)
            m.dstPort = be16(p, l4 &+ 2)
            m.flags.insert(.hasL4)
            let ulen = Int(be16(p, l4 &+ 4))
            // A UDP length below 8, or beyond a fully captured datagram, is malformed.
            if ulen < 8 || (ulen > avail && !m.flags.contains(.truncatedL3) && !m.flags.contains(.fragment)) {
                throw ParseError(.udp, .badLength(ulen), at: l4)
            }
        case IPProtocol.tcp:
            guard avail >= 20 else { throw ParseError(.tcp, .truncated(needed: 20, available: avail), at: l4) }
            m.srcPort = be16(p, l4)
            m.dstPort = be16(p, l4 &+ 2)
            m.tcpFlags = byte(p, l4 &+ 13)
            let doff = Int(byte(p, l4 &+ 12) >> 4) << 2
            guard doff >= 20 else { throw ParseError(.tcp, .badHeaderLength(doff), at: l4) }
            guard avail >= doff else { throw ParseError(.tcp, .truncated(needed: doff, available: avail), at: l4) }
            m.flags.insert(.hasL4)
        case IPProtocol.icmp:
            guard avail >= 8 else { throw ParseError(.icmp, .truncated(needed: 8, available: avail), at: l4) }
            m.srcPort = UInt16(truncatingIfNeeded: byte(p, l4)); m.dstPort = UInt16(truncatingIfNeeded: byte(p, l4 &+ 1))
            m.flags.insert(.hasL4)
        case IPProtocol.icmpv6:
            guard avail >= 4 else { throw ParseError(.icmpv6, .truncated(needed: 4, available: avail), at: l4) }
            m.srcPort = UInt16(truncatingIfNeeded: byte(p, l4)); m.dstPort = UInt16(truncatingIfNeeded: byte(p, l4 &+ 1))
            m.flags.insert(.hasL4)
        case IPProtocol.igmp:
            guard avail >= 8 else { throw ParseError(.igmp, .truncated(needed: 8, available: avail), at: l4) }
            m.srcPort = UInt16(truncatingIfNeeded: byte(p, l4))
            m.flags.insert(.hasL4)
        case IPProtocol.mobility:
            guard avail >= 6 else { throw ParseError(.mobility, .truncated(needed: 6, available: avail), at: l4) }
            let len = (Int(byte(p, l4 &+ 1)) &+ 1) << 3
            guard avail >= len else { throw ParseError(.mobility, .truncated(needed: len, available: avail), at: l4) }
            m.srcPort = UInt16(truncatingIfNeeded: byte(p, l4 &+ 2))
            m.flags.insert(.hasL4)
        default:
            return
        }
    }
}
