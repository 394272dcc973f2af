import BowmanCore
import BowmanIO
import BowmanPacket
import BowmanPipeline
import BowmanSystem
import BowmanTestSupport
import Glibc
import Synchronization
import Testing

/// A worker with memory ports, run on its own thread by the real loop.
final class Rig<F: ForwardingFunction>: @unchecked Sendable {
    var pool: FramePool
    var a = MemoryPort(name: "a")
    var b = MemoryPort(name: "b")
    var function: F
    let stats = WorkerStats()
    let stop = StopFlag()
    var tap: CaptureTap?

    init(_ f: F, frames: Int = 256) throws {
        pool = try FramePool(frameSize: 2048, frameCount: frames)
        function = f
    }

    /// Runs until `expected` packets were received (or 10 s), then stops and joins.
    func run(twoPorts: Bool, expected: UInt64) throws {
        let t = try PinnedThread(name: "test-worker", core: nil) { [self] in
            if twoPorts {
                Worker.run(&a, &b, function: &function, pool: &pool, idle: .spin, stats: stats, stop: stop, tap: tap)
            } else {
                var none = NullPort()
                Worker.run(&a, &none, function: &function, pool: &pool, idle: .spin, stats: stats, stop: stop, tap: tap)
            }
        }
        let deadline = SystemClock.monotonicNanoseconds + 10_000_000_000
        while stats.rxPackets.load(ordering: .relaxed) < expected && SystemClock.monotonicNanoseconds < deadline { usleep(200) }
        stop.set()
        t.join()
    }
}

let macA = MACAddress(2, 0, 0, 0, 0, 0xA), macB = MACAddress(2, 0, 0, 0, 0, 0xB)

func frames(_ n: Int) throws -> [[UInt8]] {
    try (0..<n).map { i in
        i % 2 == 0
            ? try PacketBuilder.bytes(.udp4(from: IPv4Address(198, 18, 0, 1), to: IPv4Address(198, 18, 1, 2),
                                            sourcePort: UInt16(1000 + i), destinationPort: 9, frameLength: 64 + i % 700))
            : try PacketBuilder.bytes(.udp6(from: IPv6Address("fd00:18::1")!, to: IPv6Address("fd00:19::2")!,
                                            sourcePort: UInt16(1000 + i), destinationPort: 9, frameLength: 78 + i % 700))
    }
}

func metadata(_ f: [UInt8]) -> PacketMetadata {
    var m = PacketMetadata()
    f.withUnsafeBytes { p in do throws(ParseError) { try PacketParser.parse(ethernet: p, into: &m) } catch {} }
    return m
}

@Suite struct WorkerTests {
    @Test func l2ForwardRewritesOnlyMACs() throws {
        let rig = try Rig(L2ForwardFunction(rewrite: [(nil, nil), (source: macB, destination: macA)]))
        let input = try frames(2000)
        for f in input { rig.a.enqueue(f) }
        try rig.run(twoPorts: true, expected: UInt64(input.count))
        #expect(rig.b.sent.count == input.count)
        for (i, out) in rig.b.sent.enumerated() {
            #expect(Array(out[0..<6]) == macA.octets && Array(out[6..<12]) == macB.octets)
            #expect(out[12...] == input[i][12...], "frame \(i) changed beyond the MACs")
        }
        let s = rig.stats.snapshot()
        #expect(s.rxPackets == 2000 && s.txPackets == 2000 && s.dropped == 0 && s.txFull == 0)
        #expect(rig.pool.audit() == FramePool.Audit(total: 256, free: 256, inFlight: 0))
    }

    @Test func l2ForwardBothDirections() throws {
        let rig = try Rig(L2ForwardFunction())
        let input = try frames(600)
        for f in input[..<300] { rig.a.enqueue(f) }
        for f in input[300...] { rig.b.enqueue(f) }
        try rig.run(twoPorts: true, expected: 600)
        #expect(rig.b.sent == Array(input[..<300]) && rig.a.sent == Array(input[300...]))
        #expect(rig.pool.audit().isConsistent)
    }

    @Test func reflectSwapsAndKeepsChecksums() throws {
        let rig = try Rig(ReflectFunction())
        let input = try frames(500)
        for f in input { rig.a.enqueue(f) }
        try rig.run(twoPorts: false, expected: 500)
        #expect(rig.a.sent.count == 500)
        for (i, out) in rig.a.sent.enumerated() {
            let before = metadata(input[i]), after = metadata(out)
            #expect(after.srcLow == before.dstLow && after.dstLow == before.srcLow && after.srcHigh == before.dstHigh)
            #expect(after.srcPort == before.dstPort && after.dstPort == before.srcPort)
            #expect(Array(out[0..<6]) == Array(input[i][6..<12]))
            out.withUnsafeBytes { p in
                if after.ipVersion == 4 { #expect(Checksum.verifyIPv4Header(p, after) == .good) }
                #expect(Checksum.verifyTransport(p, after) == .good)
            }
        }
        #expect(rig.pool.audit().isConsistent)
    }

    @Test func dropReleasesEverything() throws {
        let rig = try Rig(DropFunction(), frames: 64)
        for f in try frames(5000) { rig.a.enqueue(f) }
        try rig.run(twoPorts: false, expected: 5000)
        let s = rig.stats.snapshot()
        #expect(s.rxPackets == 5000 && s.dropped == 5000 && s.txPackets == 0)
        #expect(rig.pool.audit() == FramePool.Audit(total: 64, free: 64, inFlight: 0))
    }

    /// An output port that takes only part of each burst: the rest is
    /// counted and dropped, and every frame still returns to the pool.
    @Test func fullOutputRingIsCountedNotLeaked() throws {
        let rig = try Rig(L2ForwardFunction())
        rig.b.transmitLimit = 10
        for f in try frames(3000) { rig.a.enqueue(f) }
        try rig.run(twoPorts: true, expected: 3000)
        let s = rig.stats.snapshot()
        #expect(s.rxPackets == 3000 && s.txPackets + s.txFull == 3000 && s.txFull > 0)
        #expect(UInt64(rig.b.sent.count) == s.txPackets)
        #expect(rig.pool.audit().isConsistent)
    }

    /// An output port that says how much it can take: the worker receives
    /// no more than that, so nothing is dropped at transmit and the rest
    /// waits in the input (a kernel ring, with AF_XDP) in order.
    @Test func reportedRoomHoldsInputBack() throws {
        let rig = try Rig(L2ForwardFunction())
        rig.b.transmitLimit = 10
        rig.b.reportsRoom = true
        let input = try frames(3000)
        for f in input { rig.a.enqueue(f) }
        try rig.run(twoPorts: true, expected: 3000)
        let s = rig.stats.snapshot()
        #expect(s.rxPackets == 3000 && s.txPackets == 3000 && s.txFull == 0, "\(s)")
        let inOrder = rig.b.sent == input
        #expect(inOrder)
        #expect(rig.pool.audit().isConsistent)
    }

    /// A pool smaller than the input: receive stops when frames run out and
    /// resumes as they come back; nothing is lost.
    @Test func smallPoolBackpressure() throws {
        let rig = try Rig(L2ForwardFunction(), frames: 8)
        let input = try frames(1000)
        for f in input { rig.a.enqueue(f) }
        try rig.run(twoPorts: true, expected: 1000)
        #expect(rig.b.sent == input)
        #expect(rig.pool.audit().isConsistent)
    }
}
