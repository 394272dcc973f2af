import BowmanCore

/// An IGMP message (RFC 1112 v1, RFC 2236 v2, RFC 3376 v3), validated:
/// every v3 record and source list must fit the message.
public struct IGMPMessage: Equatable, Sendable {
    public struct GroupRecord: Equatable, Sendable {
        /// 1 MODE_IS_INCLUDE ... 6 BLOCK_OLD_SOURCES (RFC 3376 §4.2.12).
        public var type: UInt8
        public var group: IPv4Address
        public var sources: [IPv4Address]
        public var auxDataWords: Int
        public init(type: UInt8, group: IPv4Address, sources: [IPv4Address], auxDataWords: Int) {
            self.type = type; self.group = group; self.sources = sources; self.auxDataWords = auxDataWords
        }
    }

    public enum Kind: Equatable, Sendable {
        case queryV1
        case queryV2(group: IPv4Address, maxResponseTenths: UInt8)
        case queryV3(group: IPv4Address, maxResponseCode: UInt8, suppressRouterSide: Bool, robustness: UInt8, sources: [IPv4Address])
        case reportV1(group: IPv4Address)
        case reportV2(group: IPv4Address)
        case leave(group: IPv4Address)
        case reportV3(records: [GroupRecord])
        case other(type: UInt8)
    }

    public var kind: Kind
    public var checksum: UInt16

    /// Parses the message at `offset`, `length` bytes long (the IP payload).
    public init(_ packet: UnsafeRawBufferPointer, at offset: Int, length: Int) throws(ParseError) {
        try HeaderBytes.require(packet, offset, 8, .igmp)
        let len = min(length, packet.count - offset)
        guard len >= 8 else { throw ParseError(.igmp, .truncated(needed: 8, available: len), at: offset) }
        let h = HeaderBytes(packet, offset)
        checksum = h.u16(2)
        let group = IPv4Address(loadingFrom: packet, at: offset + 4)
        switch h.u8(0) {
        case 0x11:
            if len == 8 {
                kind = h.u8(1) == 0 ? .queryV1 : .queryV2(group: group, maxResponseTenths: h.u8(1))
            } else {
                // RFC 3376 §7.1: 9–11 bytes is no valid query.
                guard len >= 12 else { throw ParseError(.igmp, .badLength(len), at: offset) }
                let n = Int(h.u16(10))
                guard len >= 12 + 4 * n else { throw ParseError(.igmp, .truncated(needed: 12 + 4 * n, available: len), at: offset) }
                kind = .queryV3(group: group, maxResponseCode: h.u8(1), suppressRouterSide: h.u8(8) & 0x08 != 0,
                                robustness: h.u8(8) & 0x07,
                                sources: (0..<n).map { IPv4Address(loadingFrom: packet, at: offset + 12 + 4 * $0) })
            }
        case 0x12: kind = .reportV1(group: group)
        case 0x16: kind = .reportV2(group: group)
        case 0x17: kind = .leave(group: group)
        case 0x22:
            var records: [GroupRecord] = []
            var o = 8
            for _ in 0..<Int(h.u16(6)) {
                guard len - o >= 8 else { throw ParseError(.igmp, .truncated(needed: o + 8, available: len), at: offset) }
                let aux = Int(h.u8(o + 1)), n = Int(h.u16(o + 2))
                let size = 8 + 4 * n + 4 * aux
                guard len - o >= size else { throw ParseError(.igmp, .truncated(needed: o + size, available: len), at: offset) }
                records.append(GroupRecord(type: h.u8(o), group: IPv4Address(loadingFrom: packet, at: offset + o + 4),
                                           sources: (0..<n).map { IPv4Address(loadingFrom: packet, at: offset + o + 8 + 4 * $0) },
                                           auxDataWords: aux))
                o += size
            }
            kind = .reportV3(records: records)
        case let t: kind = .other(type: t)
        }
    }
}
