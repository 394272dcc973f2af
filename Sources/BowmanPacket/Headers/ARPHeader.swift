import BowmanCore

/// An ARP packet (RFC 826). Addresses are readable when it is the
/// Ethernet/IPv4 kind (hardware length 6, protocol length 4).
public struct ARPHeader {
    @usableFromInline let h: HeaderBytes

    public init(_ packet: UnsafeRawBufferPointer, at offset: Int) throws(ParseError) {
        try HeaderBytes.require(packet, offset, 8, .arp)
        let v = HeaderBytes(packet, offset)
        try HeaderBytes.require(packet, offset, 8 + 2 * Int(v.u8(4)) + 2 * Int(v.u8(5)), .arp)
        h = v
    }

    public var hardwareType: UInt16 { h.u16(0) }
    public var protocolType: UInt16 { h.u16(2) }
    public var hardwareLength: UInt8 { h.u8(4) }
    public var protocolLength: UInt8 { h.u8(5) }
    /// 1 request, 2 reply.
    public var operation: UInt16 { h.u16(6) }
    public var isEthernetIPv4: Bool { hardwareType == 1 && protocolType == EtherType.ipv4 && hardwareLength == 6 && protocolLength == 4 }
    /// Sender/target addresses, nil unless `isEthernetIPv4`.
    public var senderMAC: MACAddress? { isEthernetIPv4 ? MACAddress(loadingFrom: h.packet, at: h.offset + 8) : nil }
    public var senderIP: IPv4Address? { isEthernetIPv4 ? IPv4Address(loadingFrom: h.packet, at: h.offset + 14) : nil }
    public var targetMAC: MACAddress? { isEthernetIPv4 ? MACAddress(loadingFrom: h.packet, at: h.offset + 18) : nil }
    public var targetIP: IPv4Address? { isEthernetIPv4 ? IPv4Address(loadingFrom: h.packet, at: h.offset + 24) : nil }
}
