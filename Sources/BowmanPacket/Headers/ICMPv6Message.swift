import BowmanCore

/// An ICMPv6 message (RFC 4443) with the bodies Bowman acts on decoded and
/// validated: echo, neighbour discovery (RFC 4861) with its options, and
/// multicast listener discovery v1 (RFC 2710) and v2 (RFC 3810).
public struct ICMPv6Message: Equatable, Sendable {
    /// A neighbour-discovery option: type, total length in bytes, data.
    public struct NDOption: Equatable, Sendable {
        public var type: UInt8
        public var length: Int
        public var dataOffset: Int
        /// Source/target link-layer address options (types 1, 2) on Ethernet.
        public var linkLayerAddress: MACAddress?
    }

    public struct MLDRecord: Equatable, Sendable {
        public var type: UInt8
        public var group: IPv6Address
        public var sources: [IPv6Address]
        public var auxDataWords: Int
        public init(type: UInt8, group: IPv6Address, sources: [IPv6Address], auxDataWords: Int) {
            self.type = type; self.group = group; self.sources = sources; self.auxDataWords = auxDataWords
        }
    }

    public enum Body: Equatable, Sendable {
        case echoRequest(identifier: UInt16, sequence: UInt16)
        case echoReply(identifier: UInt16, sequence: UInt16)
        case routerSolicitation(options: [NDOption])
        case routerAdvertisement(curHopLimit: UInt8, lifetime: UInt16, reachableTime: UInt32, retransTimer: UInt32, options: [NDOption])
        case neighborSolicitation(target: IPv6Address, options: [NDOption])
        case neighborAdvertisement(target: IPv6Address, router: Bool, solicited: Bool, override: Bool, options: [NDOption])
        case redirect(target: IPv6Address, destination: IPv6Address, options: [NDOption])
        case mldQueryV1(group: IPv6Address, maxDelay: UInt16)
        case mldQueryV2(group: IPv6Address, maxResponseCode: UInt16, sources: [IPv6Address])
        case mldReportV1(group: IPv6Address)
        case mldDone(group: IPv6Address)
        case mldReportV2(records: [MLDRecord])
        /// Error messages (1–4) and anything else: the body is not decoded.
        case other
    }

    public var type: UInt8
    public var code: UInt8
    public var checksum: UInt16
    public var body: Body

    /// Parses the message at `offset`, `length` bytes long (the upper-layer length).
    public init(_ packet: UnsafeRawBufferPointer, at offset: Int, length: Int) throws(ParseError) {
        try HeaderBytes.require(packet, offset, 4, .icmpv6)
        let len = min(length, packet.count - offset)
        let h = HeaderBytes(packet, offset)
        type = h.u8(0); code = h.u8(1); checksum = h.u16(2)
        func need(_ n: Int, _ layer: ParseError.Layer) throws(ParseError) {
            guard len >= n else { throw ParseError(layer, .truncated(needed: n, available: len), at: offset) }
        }
        func addr(_ o: Int) -> IPv6Address { IPv6Address(loadingFrom: packet, at: offset + o) }
        func options(from start: Int) throws(ParseError) -> [NDOption] {
            var out: [NDOption] = []
            var o = start
            while o < len {
                // RFC 4861 §4.6: a length of zero is invalid and the packet is dropped.
                guard len - o >= 2, h.u8(o + 1) != 0, len - o >= Int(h.u8(o + 1)) * 8 else {
                    throw ParseError(.neighborDiscovery, .badOption(offset: offset + o), at: offset)
                }
                let t = h.u8(o), size = Int(h.u8(o + 1)) * 8
                let mac: MACAddress? = (t == 1 || t == 2) && size == 8 ? MACAddress(loadingFrom: packet, at: offset + o + 2) : nil
                out.append(NDOption(type: t, length: size, dataOffset: offset + o + 2, linkLayerAddress: mac))
                o += size
            }
            return out
        }
        switch type {
        case 128, 129:
            try need(8, .icmpv6)
            body = type == 128 ? .echoRequest(identifier: h.u16(4), sequence: h.u16(6)) : .echoReply(identifier: h.u16(4), sequence: h.u16(6))
        case 133:
            try need(8, .neighborDiscovery)
            body = .routerSolicitation(options: try options(from: 8))
        case 134:
            try need(16, .neighborDiscovery)
            body = .routerAdvertisement(curHopLimit: h.u8(4), lifetime: h.u16(6), reachableTime: h.u32(8), retransTimer: h.u32(12),
                                        options: try options(from: 16))
        case 135:
            try need(24, .neighborDiscovery)
            body = .neighborSolicitation(target: addr(8), options: try options(from: 24))
        case 136:
            try need(24, .neighborDiscovery)
            let f = h.u8(4)
            body = .neighborAdvertisement(target: addr(8), router: f & 0x80 != 0, solicited: f & 0x40 != 0, override: f & 0x20 != 0,
                                          options: try options(from: 24))
        case 137:
            try need(40, .neighborDiscovery)
            body = .redirect(target: addr(8), destination: addr(24), options: try options(from: 40))
        case 130:
            try need(24, .mld)
            if len == 24 {
                body = .mldQueryV1(group: addr(8), maxDelay: h.u16(4))
            } else {
                // RFC 3810 §8.1: 24 bytes is v1, 28 or more is v2; between is invalid.
                guard len >= 28 else { throw ParseError(.mld, .badLength(len), at: offset) }
                let n = Int(h.u16(26))
                try need(28 + 16 * n, .mld)
                body = .mldQueryV2(group: addr(8), maxResponseCode: h.u16(4), sources: (0..<n).map { addr(28 + 16 * $0) })
            }
        case 131, 132:
            try need(24, .mld)
            body = type == 131 ? .mldReportV1(group: addr(8)) : .mldDone(group: addr(8))
        case 143:
            try need(8, .mld)
            var records: [MLDRecord] = []
            var o = 8
            for _ in 0..<Int(h.u16(6)) {
                try need(o + 20, .mld)
                let aux = Int(h.u8(o + 1)), n = Int(h.u16(o + 2))
                let size = 20 + 16 * n + 4 * aux
                try need(o + size, .mld)
                records.append(MLDRecord(type: h.u8(o), group: addr(o + 4), sources: (0..<n).map { addr(o + 20 + 16 * $0) }, auxDataWords: aux))
                o += size
            }
            body = .mldReportV2(records: records)
        default:
            body = .other
        }
    }
}
