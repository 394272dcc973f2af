import BowmanCore
import BowmanPacket
import BowmanTestSupport
import Testing

@Suite struct ChecksumTests {
    /// RFC 1071 §3 example: the one's-complement sum of these words is ddf2.
    @Test func rfc1071Example() {
        let bytes: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]
        bytes.withUnsafeBytes { #expect(Checksum.fold(Checksum.sum($0, from: 0, to: 8)) == 0xDDF2) }
    }

    @Test func oddLength() {
        let bytes: [UInt8] = [0x12, 0x34, 0x56]
        bytes.withUnsafeBytes { #expect(Checksum.fold(Checksum.sum($0, from: 0, to: 3)) == 0x1234 + 0x5600) }
    }

    /// RFC 1624: the incremental update equals a full recomputation for
    /// random headers and random 16- and 32-bit field changes.
    @Test func incrementalUpdateMatchesRecompute() {
        var rng = SeededRandom(seed: 1624)
        for _ in 0..<20_000 {
            var h = (0..<20).map { _ in UInt8.random(in: 0...255, using: &rng) }
            h[10] = 0; h[11] = 0
            let c0 = h.withUnsafeBytes { Checksum.internet($0) }
            let field = Int.random(in: 0..<10, using: &rng) * 2
            guard field != 10 else { continue }
            let old = UInt16(h[field]) << 8 | UInt16(h[field + 1])
            let new = UInt16.random(in: 0...0xFFFF, using: &rng)
            h[field] = UInt8(new >> 8); h[field + 1] = UInt8(new & 0xFF)
            let full = h.withUnsafeBytes { Checksum.internet($0) }
            let inc = Checksum.update(c0, old: old, new: new)
            // 0x0000 and 0xFFFF are the same value in one's complement.
            #expect(inc == full || (inc == 0xFFFF && full == 0) || (inc == 0 && full == 0xFFFF))
        }
    }

    @Test func addressRewriteUpdate() throws {
        var b = try PacketBuilder.bytes(.udp4(from: IPv4Address(198, 18, 0, 1), to: IPv4Address(198, 18, 0, 2)))
        let c = UInt16(b[24]) << 8 | UInt16(b[25])
        let newSrc = IPv4Address(198, 19, 7, 7)
        b.withUnsafeMutableBytes { newSrc.store(to: $0, at: 26) }
        let u = Checksum.update(c, old: IPv4Address(198, 18, 0, 1).rawValue, new: newSrc.rawValue)
        b[24] = UInt8(u >> 8); b[25] = UInt8(u & 0xFF)
        let (m, _) = parse(b)
        b.withUnsafeBytes { #expect(Checksum.verifyIPv4Header($0, m) == .good) }
    }

    @Test func ttlDecrementKeepsHeaderValid() throws {
        var b = try PacketBuilder.bytes(.udp4(from: IPv4Address(198, 18, 0, 1), to: IPv4Address(198, 18, 0, 2)))
        for expected in stride(from: 63, through: 0, by: -1) {
            let ttl = b.withUnsafeMutableBytes { HeaderEdits.decrementIPv4TTL($0, l3: 14) }
            #expect(Int(ttl) == expected)
            let (m, _) = parse(b)
            b.withUnsafeBytes { #expect(Checksum.verifyIPv4Header($0, m) == .good) }
        }
        #expect(b.withUnsafeMutableBytes { HeaderEdits.decrementIPv4TTL($0, l3: 14) } == 0)
    }

    @Test func corruptedChecksumsAreReported() throws {
        var b = try PacketBuilder.bytes(.udp4(from: IPv4Address(198, 18, 0, 1), to: IPv4Address(198, 18, 0, 2)))
        let good = UInt16(b[40]) << 8 | UInt16(b[41])
        b[40] = 0; b[41] = 1
        b[24] ^= 0xFF
        let (m, _) = parse(b)
        b.withUnsafeBytes { p in
            #expect(Checksum.verifyIPv4Header(p, m).isBad)
            #expect(Checksum.verifyTransport(p, m) == .bad(stored: 1, expected: good))
        }
        b[40] = 0; b[41] = 0
        b.withUnsafeBytes { #expect(Checksum.verifyTransport($0, m) == .absent) }
    }
}
