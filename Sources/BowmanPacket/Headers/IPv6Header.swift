import BowmanCore

/// An IPv6 fixed header and its extension-header chain.
public struct IPv6Header {
    @usableFromInline let h: HeaderBytes

    public init(_ packet: UnsafeRawBufferPointer, at offset: Int) throws(ParseError) {
        try HeaderBytes.require(packet, offset, 40, .ipv6)
        let v = HeaderBytes(packet, offset)
        guard v.u8(0) >> 4 == 6 else { throw ParseError(.ipv6, .badVersion(v.u8(0) >> 4), at: offset) }
        h = v
    }

    public var trafficClass: UInt8 { UInt8(truncatingIfNeeded: h.u32(0) >> 20) }
    public var flowLabel: UInt32 { h.u32(0) & 0xFFFFF }
    public var payloadLength: Int { Int(h.u16(4)) }
    public var nextHeader: UInt8 { h.u8(6) }
    public var hopLimit: UInt8 { h.u8(7) }
    public var source: IPv6Address { IPv6Address(loadingFrom: h.packet, at: h.offset + 8) }
    public var destination: IPv6Address { IPv6Address(loadingFrom: h.packet, at: h.offset + 24) }

    /// One extension header of the chain.
    public struct Extension: Equatable, Sendable {
        /// Its own type (the next-header value that announced it).
        public var type: UInt8
        public var offset: Int
        public var length: Int
        /// For a fragment header: offset in 8-byte units, more-fragments flag.
        public var fragmentOffset: UInt16?
        public var moreFragments: Bool?
        /// For a routing header: its routing type and segments left.
        public var routingType: UInt8?
        public var segmentsLeft: UInt8?
    }

    /// Walks hop-by-hop, routing, fragment, destination-options and AH
    /// headers (at most `PacketParser.maxExtensionHeaders`); returns them and
    /// the upper-layer protocol with its offset. Stops after a non-first
    /// fragment. TLV options of hop-by-hop and destination headers are checked.
    public func extensionHeaders() throws(ParseError) -> (headers: [Extension], upperLayer: UInt8, upperOffset: Int) {
        var out: [Extension] = []
        var next = nextHeader
        var cur = h.offset + 40
        let end = min(h.packet.count, h.offset + 40 + payloadLength)
        while [IPProtocol.hopByHop, IPProtocol.routing, IPProtocol.fragment, IPProtocol.destinationOptions, IPProtocol.ah].contains(next) {
            guard out.count < Int(PacketParser.maxExtensionHeaders) else { throw ParseError(.ipv6Extension, .tooManyExtensionHeaders, at: cur) }
            guard end - cur >= 8 else { throw ParseError(.ipv6Extension, .truncated(needed: 8, available: max(0, end - cur)), at: cur) }
            let e = HeaderBytes(h.packet, cur)
            let len = next == IPProtocol.fragment ? 8 : next == IPProtocol.ah ? (Int(e.u8(1)) + 2) * 4 : (Int(e.u8(1)) + 1) * 8
            guard end - cur >= len else { throw ParseError(.ipv6Extension, .truncated(needed: len, available: end - cur), at: cur) }
            var x = Extension(type: next, offset: cur, length: len)
            switch next {
            case IPProtocol.fragment:
                x.fragmentOffset = e.u16(2) >> 3
                x.moreFragments = e.u16(2) & 1 != 0
            case IPProtocol.routing:
                x.routingType = e.u8(2)
                x.segmentsLeft = e.u8(3)
            case IPProtocol.hopByHop, IPProtocol.destinationOptions:
                var m = PacketMetadata()
                try PacketParser.walkOptions(h.packet, cur, len, isDestination: false, &m)
            default: break
            }
            out.append(x)
            next = e.u8(0)
            cur += len
            if let f = x.fragmentOffset, f != 0 { break }
        }
        return (out, next, cur)
    }
}
