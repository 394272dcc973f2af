/// A UDP header (8 bytes).
public struct UDPHeader {
    @usableFromInline let h: HeaderBytes
    public init(_ packet: UnsafeRawBufferPointer, at offset: Int) throws(ParseError) {
        try HeaderBytes.require(packet, offset, 8, .udp)
        h = HeaderBytes(packet, offset)
        guard length >= 8 else { throw ParseError(.udp, .badLength(length), at: offset) }
    }
    public var sourcePort: UInt16 { h.u16(0) }
    public var destinationPort: UInt16 { h.u16(2) }
    public var length: Int { Int(h.u16(4)) }
    public var checksum: UInt16 { h.u16(6) }
}

/// A TCP header with its options (RFC 9293).
public struct TCPHeader {
    @usableFromInline let h: HeaderBytes
    public init(_ packet: UnsafeRawBufferPointer, at offset: Int) throws(ParseError) {
        try HeaderBytes.require(packet, offset, 20, .tcp)
        let v = HeaderBytes(packet, offset)
        let doff = Int(v.u8(12) >> 4) * 4
        guard doff >= 20 else { throw ParseError(.tcp, .badHeaderLength(doff), at: offset) }
        try HeaderBytes.require(packet, offset, doff, .tcp)
        h = v
    }
    public var sourcePort: UInt16 { h.u16(0) }
    public var destinationPort: UInt16 { h.u16(2) }
    public var sequenceNumber: UInt32 { h.u32(4) }
    public var acknowledgmentNumber: UInt32 { h.u32(8) }
    public var headerLength: Int { Int(h.u8(12) >> 4) * 4 }
    public var flags: UInt8 { h.u8(13) }
    public var window: UInt16 { h.u16(14) }
    public var checksum: UInt16 { h.u16(16) }
    public var urgentPointer: UInt16 { h.u16(18) }

    public static let fin: UInt8 = 0x01, syn: UInt8 = 0x02, rst: UInt8 = 0x04, psh: UInt8 = 0x08, ack: UInt8 = 0x10

    /// Option kinds with their data (kind 0 ends the list, 1 is one byte).
    public func options() throws(ParseError) -> [(kind: UInt8, dataOffset: Int, dataLength: Int)] {
        var out: [(UInt8, Int, Int)] = []
        var o = 20
        while o < headerLength {
            let k = h.u8(o)
            if k == 0 { break }
            if k == 1 { o += 1; continue }
            guard headerLength - o >= 2, h.u8(o + 1) >= 2, headerLength - o >= Int(h.u8(o + 1)) else {
                throw ParseError(.tcpOptions, .badOption(offset: h.offset + o), at: h.offset)
            }
            out.append((k, h.offset + o + 2, Int(h.u8(o + 1)) - 2))
            o += Int(h.u8(o + 1))
        }
        return out.map { (kind: $0.0, dataOffset: $0.1, dataLength: $0.2) }
    }
}

/// An ICMP (v4) header (RFC 792): 8 bytes, the last four type-specific.
public struct ICMPHeader {
    @usableFromInline let h: HeaderBytes
    public init(_ packet: UnsafeRawBufferPointer, at offset: Int) throws(ParseError) {
        try HeaderBytes.require(packet, offset, 8, .icmp)
        h = HeaderBytes(packet, offset)
    }
    public var type: UInt8 { h.u8(0) }
    public var code: UInt8 { h.u8(1) }
    public var checksum: UInt16 { h.u16(2) }
    /// Echo request/reply identifier and sequence number.
    public var identifier: UInt16 { h.u16(4) }
    public var sequence: UInt16 { h.u16(6) }
    public var isEcho: Bool { type == 0 || type == 8 }
}
