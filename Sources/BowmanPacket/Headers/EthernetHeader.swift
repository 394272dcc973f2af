import BowmanCore

/// An Ethernet II header (14 bytes) at the start of a frame.
public struct EthernetHeader {
    public static let length = 14
    @usableFromInline let h: HeaderBytes

    @inlinable public init(_ packet: UnsafeRawBufferPointer, at offset: Int = 0) throws(ParseError) {
        try HeaderBytes.require(packet, offset, Self.length, .ethernet)
        h = HeaderBytes(packet, offset)
    }

    @inlinable public var destination: MACAddress { MACAddress(loadingFrom: h.packet, at: h.offset) }
    @inlinable public var source: MACAddress { MACAddress(loadingFrom: h.packet, at: h.offset + 6) }
    /// The EtherType, or an 802.3 length when below 0x0600.
    @inlinable public var etherType: UInt16 { h.u16(12) }
}

/// One 802.1Q / 802.1ad tag (4 bytes: TCI, then the inner EtherType).
public struct VLANTag {
    public static let length = 4
    @usableFromInline let h: HeaderBytes

    @inlinable public init(_ packet: UnsafeRawBufferPointer, at offset: Int) throws(ParseError) {
        try HeaderBytes.require(packet, offset, Self.length, .vlan)
        h = HeaderBytes(packet, offset)
    }

    @inlinable public var tci: UInt16 { h.u16(0) }
    /// Priority code point (802.1p).
    @inlinable public var priority: UInt8 { UInt8(tci >> 13) }
    @inlinable public var dropEligible: Bool { tci & 0x1000 != 0 }
    @inlinable public var vlanID: UInt16 { tci & 0x0FFF }
    @inlinable public var etherType: UInt16 { h.u16(2) }
}
