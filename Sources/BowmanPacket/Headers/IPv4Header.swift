import BowmanCore

/// An IPv4 header with its options, checked on creation: version 4, IHL at
/// least 5 and captured, total length not below the header.
public struct IPv4Header {
    @usableFromInline let h: HeaderBytes

    public init(_ packet: UnsafeRawBufferPointer, at offset: Int) throws(ParseError) {
        try HeaderBytes.require(packet, offset, 20, .ipv4)
        let v = HeaderBytes(packet, offset)
        guard v.u8(0) >> 4 == 4 else { throw ParseError(.ipv4, .badVersion(v.u8(0) >> 4), at: offset) }
        let ihl = Int(v.u8(0) & 0xF) * 4
        guard ihl >= 20 else { throw ParseError(.ipv4, .badHeaderLength(ihl), at: offset) }
        try HeaderBytes.require(packet, offset, ihl, .ipv4)
        guard Int(v.u16(2)) >= ihl else { throw ParseError(.ipv4, .badLength(Int(v.u16(2))), at: offset) }
        h = v
    }

    public var headerLength: Int { Int(h.u8(0) & 0xF) * 4 }
    public var tos: UInt8 { h.u8(1) }
    public var totalLength: Int { Int(h.u16(2)) }
    public var identification: UInt16 { h.u16(4) }
    public var dontFragment: Bool { h.u16(6) & 0x4000 != 0 }
    public var moreFragments: Bool { h.u16(6) & 0x2000 != 0 }
    /// In 8-byte units.
    public var fragmentOffset: UInt16 { h.u16(6) & 0x1FFF }
    public var isFragment: Bool { moreFragments || fragmentOffset != 0 }
    public var ttl: UInt8 { h.u8(8) }
    public var `protocol`: UInt8 { h.u8(9) }
    public var checksum: UInt16 { h.u16(10) }
    public var source: IPv4Address { IPv4Address(loadingFrom: h.packet, at: h.offset + 12) }
    public var destination: IPv4Address { IPv4Address(loadingFrom: h.packet, at: h.offset + 16) }
    /// Whether the header checksum is right (RFC 1071).
    public var isChecksumValid: Bool { Checksum.fold(Checksum.sum(h.packet, from: h.offset, to: h.offset + headerLength)) == 0xFFFF }

    /// One IPv4 option: its type and the offset/length of its data.
    public struct Option: Equatable, Sendable {
        public var type: UInt8
        public var dataOffset: Int
        public var dataLength: Int
        public var copied: Bool { type & 0x80 != 0 }
        public var number: UInt8 { type & 0x1F }
    }

    /// The options (RFC 791 §3.1): EOL ends the list, NOP is one byte, every
    /// other option has a length ≥ 2 inside the header.
    public func options() throws(ParseError) -> [Option] {
        var out: [Option] = []
        var o = 20
        while o < headerLength {
            let t = h.u8(o)
            if t == 0 { break }
            if t == 1 { out.append(Option(type: 1, dataOffset: h.offset + o + 1, dataLength: 0)); o += 1; continue }
            guard headerLength - o >= 2, h.u8(o + 1) >= 2, headerLength - o >= Int(h.u8(o + 1)) else {
                throw ParseError(.ipv4Options, .badOption(offset: h.offset + o), at: h.offset)
            }
            let len = Int(h.u8(o + 1))
            out.append(Option(type: t, dataOffset: h.offset + o + 2, dataLength: len - 2))
            o += len
        }
        return out
    }
}
