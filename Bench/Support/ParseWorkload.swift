import BowmanCore
import BowmanPacket

/// The parse benchmark's input: one burst of 64 frames preloaded in a frame
/// pool: IPv4 and IPv6, UDP and TCP, some VLAN-tagged, some with IPv6
/// extension headers, sizes 64 to 1514. Swift and C parse the same bytes.
public struct ParseWorkload: ~Copyable {
    public var pool: FramePool
    public var burst: Burst
    /// Frame indices and lengths as plain arrays for the C reference.
    public let indices: [UInt32]
    public let lengths: [UInt32]

    public init() {
        var pool = try! FramePool(frameSize: 2048, frameCount: 128)
        var burst = Burst()
        var rng = UInt64(0x5EED)
        func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 33 }
        _ = pool.allocate(into: &burst, count: 64)
        for k in 0..<64 {
            let size = [64, 128, 512, 1514][Int(next() % 4)]
            var spec: FrameSpec
            let sport = UInt16(truncatingIfNeeded: next()), dport = UInt16(truncatingIfNeeded: next())
            if k % 2 == 0 {
                spec = .udp4(from: IPv4Address(rawValue: UInt32(truncatingIfNeeded: next())),
                             to: IPv4Address(rawValue: UInt32(truncatingIfNeeded: next())),
                             sourcePort: sport, destinationPort: dport, frameLength: size)
            } else {
                spec = .udp6(from: IPv6Address(high: 0xFD00 << 48 | next(), low: next()), to: IPv6Address(high: 0xFD00 << 48, low: next()),
                             sourcePort: sport, destinationPort: dport, frameLength: max(size, 78))
                if k % 6 == 1, case .ipv6(var v6) = spec.network {
                    v6.extensionHeaders = [.hopByHop(options: [])]
                    spec.network = .ipv6(v6)
                }
            }
            if k % 4 == 3 {
                spec.transport = .tcp(source: sport, destination: dport, sequence: 1, acknowledgment: 0, flags: 0x10, window: 512)
                spec.payload.removeLast(12)
            }
            if k % 8 == 5 { spec.vlanTags = [100] }
            let n = try! PacketBuilder.build(spec, into: pool.buffer(index: burst.index(at: k)))
            burst.setLength(UInt32(n), at: k)
        }
        indices = (0..<64).map { burst.index(at: $0) }
        lengths = (0..<64).map { burst.length(at: $0) }
        self.pool = pool
        self.burst = burst
    }

    /// Parses the burst once with Bowman's parser; returns a hash of the
    /// 5-tuples so the work cannot be optimised away. Errors add 1.
    @inlinable
    public func parseSwift() -> UInt64 {
        var h: UInt64 = 0
        var m = PacketMetadata()
        for k in 0..<burst.count {
            let frame = pool.buffer(index: burst.index(at: k))
            let p = UnsafeRawBufferPointer(start: frame.baseAddress, count: Int(burst.length(at: k)))
            do throws(ParseError) {
                try PacketParser.parse(ethernet: p, into: &m)
            } catch { h &+= 1; continue }
            h ^= (m.srcLow &* 0x9E37_79B9_7F4A_7C15) ^ (m.dstLow &+ m.srcHigh &+ m.dstHigh)
                ^ (UInt64(m.srcPort) << 32 | UInt64(m.dstPort) << 16 | UInt64(m.l4Protocol))
            h = h << 7 | h >> 57
        }
        return h
    }
}
