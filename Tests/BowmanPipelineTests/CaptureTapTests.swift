import BowmanCore
import BowmanPacket
import BowmanPipeline
import BowmanTestSupport
import Testing

/// The workers' capture taps: a copy of exactly the packets armed for, as
/// received or as sent, and drops counted (never waited for) when the
/// ring is full.
@Suite struct CaptureTapTests {
    func copied(_ tap: CaptureTap) -> [(CaptureHeader, [UInt8])] {
        var out: [(CaptureHeader, [UInt8])] = []
        _ = tap.ring.pop(max: Int.max) { h, b in out.append((h, Array(b))) }
        return out
    }

    @Test func receivedAndSentCopiesAreExact() throws {
        let rig = try Rig(L2ForwardFunction(rewrite: [(nil, nil), (source: macB, destination: macA)]))
        let tap = CaptureTap(bytes: 1 << 20)
        tap.armed.store(CaptureTap.bit(port: 0, afterProcessing: false) | CaptureTap.bit(port: 1, afterProcessing: true), ordering: .relaxed)
        rig.tap = tap
        let input = try frames(500)
        for f in input { rig.a.enqueue(f) }
        try rig.run(twoPorts: true, expected: 500)
        let got = copied(tap)
        let rx = got.filter { $0.0.point == 0 }, tx = got.filter { $0.0.point == 1 }
        #expect(rx.count == 500 && tx.count == 500)
        #expect(rx.allSatisfy { $0.0.port == 0 } && tx.allSatisfy { $0.0.port == 1 })
        #expect(rx.map(\.1) == input, "as received: untouched")
        #expect(tx.map(\.1) == rig.b.sent, "as sent: after the MAC rewrite")
        #expect(rx.allSatisfy { Int($0.0.wireLength) == $0.1.count && $0.0.timestamp > 1_700_000_000_000_000_000 })
        #expect(tap.ring.overflow.load(ordering: .relaxed) == 0)
        #expect(rig.pool.audit().isConsistent)
    }

    @Test func disarmedCopiesNothingAndAFullRingDropsAndCounts() throws {
        let idle = try Rig(L2ForwardFunction())
        let none = CaptureTap(bytes: 4096)
        idle.tap = none
        for f in try frames(200) { idle.a.enqueue(f) }
        try idle.run(twoPorts: true, expected: 200)
        #expect(none.ring.pendingBytes == 0 && idle.b.sent.count == 200)

        let full = try Rig(L2ForwardFunction())
        let small = CaptureTap(bytes: 4096)
        small.armed.store(CaptureTap.bit(port: 0, afterProcessing: false), ordering: .relaxed)
        full.tap = small
        for f in try frames(300) { full.a.enqueue(f) }
        try full.run(twoPorts: true, expected: 300)
        let kept = copied(small)
        #expect(!kept.isEmpty && kept.count + Int(small.ring.overflow.load(ordering: .relaxed)) == 300, "\(kept.count) kept")
        #expect(kept.reduce(0) { $0 + 24 + ($1.1.count + 7) & ~7 } <= 4096)
        #expect(zip(kept.map(\.1), try frames(300)).allSatisfy { $0 == $1 }, "the first ones, whole")
        #expect(full.b.sent.count == 300, "forwarding never waits for the capture")
    }
}
