/// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
public enum Checksum {
    /// One's-complement sum of `p[start..<end]` taken as big-endian 16-bit
    /// words (an odd last byte is padded with zero), added to `initial`.
    /// The result is not folded; fold with `fold(_:)`.
    @inlinable
    public static func sum(_ p: UnsafeRawBufferPointer, from start: Int, to end: Int, initial: UInt64 = 0) -> UInt64 {
        var s = initial
        var i = start
        // 32-bit big-endian words into a 64-bit accumulator: no carry can be
        // lost before 2^32 words, far beyond any packet.
        while end - i >= 4 {
            s &+= UInt64(UInt32(bigEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            i &+= 4
        }
        if end - i >= 2 {
            s &+= UInt64(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: i, as: UInt16.self)))
            i &+= 2
        }
        if i < end { s &+= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << 8 }
        return s
    }

    /// Folds a one's-complement accumulator to 16 bits (not complemented).
    @inlinable
    public static func fold(_ sum: UInt64) -> UInt16 {
        var s = (sum & 0xFFFF_FFFF) &+ (sum >> 32)
        s = (s & 0xFFFF) &+ (s >> 16)
        s = (s & 0xFFFF) &+ (s >> 16)
        s = (s & 0xFFFF) &+ (s >> 16)
        return UInt16(truncatingIfNeeded: s)
    }

    /// The checksum field value for `p` (the field itself must be zero).
    @inlinable
    public static func internet(_ p: UnsafeRawBufferPointer) -> UInt16 { ~fold(sum(p, from: 0, to: p.count)) }

    /// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit field that changed from `old` to `new`.
    @inlinable
    public static func update(_ checksum: UInt16, old: UInt16, new: UInt16) -> UInt16 {
        let s = UInt64(~checksum) &+ UInt64(~old) &+ UInt64(new)
        return ~fold(s)
    }

    /// RFC 1624 for a 32-bit field (an IPv4 address) that changed.
    @inlinable
    public static func update(_ checksum: UInt16, old: UInt32, new: UInt32) -> UInt16 {
        let s = UInt64(~checksum) &+ UInt64(~UInt16(truncatingIfNeeded: old >> 16)) &+ UInt64(~UInt16(truncatingIfNeeded: old))
            &+ UInt64(UInt16(truncatingIfNeeded: new >> 16)) &+ UInt64(UInt16(truncatingIfNeeded: new))
        return ~fold(s)
    }

    /// What a checksum check concluded.
    public enum Verdict: Equatable, Sendable, CustomStringConvertible {
        case good
        /// `stored` is in the packet; `expected` is what it should have been.
        case bad(stored: UInt16, expected: UInt16)
        /// The header allows no checksum and carries none (UDP over IPv4 with 0).
        case absent
        /// The bytes needed are not all there (fragment, short capture) or the
        /// protocol has no checksum Bowman knows.
        case unverifiable

        public var isBad: Bool { if case .bad = self { true } else { false } }
        public var description: String {
            switch self {
            case .good: "ok"
            case .bad(let s, let e): "bad 0x\(String(s, radix: 16)) -> 0x\(String(e, radix: 16))"
            case .absent: "none"
            case .unverifiable: "unverifiable"
            }
        }
    }

    @inlinable static func verdict(sumIncludingField s: UInt64, stored: UInt16) -> Verdict {
        if fold(s) == 0xFFFF { return .good }
        // Expected value: the sum without the stored field, complemented.
        let without = s &+ UInt64(~stored)
        return .bad(stored: stored, expected: ~fold(without))
    }

    /// Checks the IPv4 header checksum of a parsed packet.
    public static func verifyIPv4Header(_ p: UnsafeRawBufferPointer, _ m: PacketMetadata) -> Verdict {
        guard m.ipVersion == 4 else { return .unverifiable }
        let off = Int(m.l3Offset)
        let ihl = Int(p.load(fromByteOffset: off, as: UInt8.self) & 0xF) << 2
        guard p.count - off >= ihl, ihl >= 20 else { return .unverifiable }
        let stored = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: off + 10, as: UInt16.self))
        return verdict(sumIncludingField: sum(p, from: off, to: off + ihl), stored: stored)
    }

    /// Offset of the checksum field inside the transport header, or nil.
    @inlinable static func fieldOffset(protocol proto: UInt8) -> Int? {
        switch proto {
        case IPProtocol.udp: 6
        case IPProtocol.tcp: 16
        case IPProtocol.icmp, IPProtocol.icmpv6, IPProtocol.igmp: 2
        case IPProtocol.mobility: 4
        default: nil
        }
    }

    /// Sum of the IPv4 or IPv6 pseudo-header for an upper-layer length.
    public static func pseudoHeaderSum(_ p: UnsafeRawBufferPointer, _ m: PacketMetadata, length: Int) -> UInt64 {
        if m.ipVersion == 4 {
            let off = Int(m.l3Offset)
            return sum(p, from: off + 12, to: off + 20) &+ UInt64(m.l4Protocol) &+ UInt64(length)
        }
        let off = Int(m.l3Offset)
        let src = m.pseudoSourceOffset != 0 ? Int(m.pseudoSourceOffset) : off + 8
        let dst = m.pseudoDestinationOffset != 0 ? Int(m.pseudoDestinationOffset) : off + 24
        return sum(p, from: src, to: src + 16) &+ sum(p, from: dst, to: dst + 16)
            &+ UInt64(length) &+ UInt64(m.l4Protocol)
    }

    /// Checks the transport checksum (UDP, TCP, ICMP, ICMPv6, IGMP, Mobility
    /// Header) of a parsed packet, pseudo-header included where the protocol has one.
    public static func verifyTransport(_ p: UnsafeRawBufferPointer, _ m: PacketMetadata) -> Verdict {
        guard m.flags.contains(.hasL4), !m.flags.contains(.fragment), !m.flags.contains(.truncatedL3),
              let field = fieldOffset(protocol: m.l4Protocol) else { return .unverifiable }
        let l4 = Int(m.l4Offset), end = Int(m.l3End)
        guard end - l4 >= field + 2 else { return .unverifiable }
        let stored = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: l4 + field, as: UInt16.self))
        var length = end - l4
        if m.l4Protocol == IPProtocol.udp {
            // The UDP length field bounds the datagram (the IP payload may be padded).
            length = min(length, Int(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: l4 + 4, as: UInt16.self))))
            if stored == 0 { return m.ipVersion == 4 ? .absent : .bad(stored: 0, expected: expectedUDP(p, m, l4, length)) }
        }
        var s = sum(p, from: l4, to: l4 + length)
        switch m.l4Protocol {
        case IPProtocol.icmp, IPProtocol.igmp: break
        default: s &+= pseudoHeaderSum(p, m, length: length)
        }
        return verdict(sumIncludingField: s, stored: stored)
    }

    static func expectedUDP(_ p: UnsafeRawBufferPointer, _ m: PacketMetadata, _ l4: Int, _ length: Int) -> UInt16 {
        let c = ~fold(sum(p, from: l4, to: l4 + length) &+ pseudoHeaderSum(p, m, length: length))
        return c == 0 ? 0xFFFF : c
    }
}
