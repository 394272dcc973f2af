import BowmanClassifier
import BowmanCore
import BowmanIO
import BowmanPacket
import BowmanPipeline
import BowmanSystem
import BowmanTestSupport
import Glibc
import Testing

func flatTable(_ rules: [(String, Int)]) throws -> FlatClassifier {
    var c = Classifier()
    for (text, demux) in rules { try c.addFilter(text, demuxID: demux) }
    return FlatClassifier(c)
}

final class ClassifyRig: @unchecked Sendable {
    var pool = try! FramePool(frameSize: 2048, frameCount: 256)
    var a = MemoryPort(name: "in"), b = MemoryPort(name: "out")
    var function: ClassifyFunction<L2ForwardFunction>
    let stats = WorkerStats(), stop = StopFlag()
    let flows = FlowCounters(capacity: 16)
    let tables: TablePublisher<FlatClassifier>

    init(initial: FlatClassifier, dropUnmatched: Bool) {
        tables = TablePublisher(initial, workers: 1)
        function = ClassifyFunction(tables: tables, worker: 0, flows: flows, dropUnmatched: dropUnmatched, then: L2ForwardFunction())
    }

    func start() throws -> PinnedThread {
        try PinnedThread(name: "classify", core: nil) { [self] in
            Worker.run(&a, &b, function: &function, pool: &pool, idle: .spin, stats: stats, stop: stop)
            tables.offline(worker: 0)
        }
    }

    func waitFor(received n: UInt64) {
        let deadline = Clock.monotonicNanoseconds + 20_000_000_000
        while stats.rxPackets.load(ordering: .relaxed) < n && Clock.monotonicNanoseconds < deadline { usleep(200) }
    }
}

func udpFrame(_ dport: UInt16) -> [UInt8] {
    try! PacketBuilder.bytes(.udp4(from: IPv4Address(198, 18, 0, 1), to: IPv4Address(198, 18, 1, 2), sourcePort: 1, destinationPort: dport))
}

@Suite struct ClassifyStageTests {
    @Test func demuxCountsPerFlowAndDropsUnmatched() throws {
        let t = try flatTable([("[ ethernet | ip (proto = 17) | udp (dport = 9) | * ]", 1),
                               ("[ ethernet | ip (proto = 17) | udp (dport in 100..199) | * ]", 2)])
        let rig = ClassifyRig(initial: t, dropUnmatched: true)
        for i in 0..<3000 { rig.a.enqueue(udpFrame([9, 150, 7][i % 3])) }
        let th = try rig.start()
        rig.waitFor(received: 3000)
        rig.stop.set(); th.join()
        #expect(rig.flows.count(1) == 1000 && rig.flows.count(2) == 1000)
        #expect(rig.flows.unmatched.load(ordering: .relaxed) == 1000)
        #expect(rig.b.sent.count == 2000)   // unmatched dropped
        #expect(rig.pool.audit().isConsistent)
    }

    /// Rules change while the worker classifies: the management thread
    /// compiles and publishes a new table again and again. Every packet is
    /// counted once under one table or the other, nothing is freed under the
    /// worker, and after the last publish the new rules apply.
    @Test func liveUpdatesWhileClassifying() throws {
        let ruleA = try flatTable([("[ ethernet | ip | udp (dport = 9) | * ]", 1)])
        let ruleB = try flatTable([("[ ethernet | ip | udp (dport = 9) | * ]", 2)])
        let rig = ClassifyRig(initial: ruleA, dropUnmatched: false)
        let total = 200_000
        for _ in 0..<total { rig.a.enqueue(udpFrame(9)) }
        let th = try rig.start()
        var publishes = 0
        var worst: UInt64 = 0
        while rig.stats.rxPackets.load(ordering: .relaxed) < UInt64(total) / 2 {
            let t0 = Clock.monotonicNanoseconds
            rig.tables.publish(publishes % 2 == 0 ? ruleB : ruleA)
            worst = max(worst, Clock.monotonicNanoseconds - t0)
            publishes += 1
            usleep(50)
        }
        rig.tables.publish(ruleB)
        rig.waitFor(received: UInt64(total))
        rig.stop.set(); th.join()
        rig.tables.reclaim()
        #expect(rig.flows.count(1) + rig.flows.count(2) == UInt64(total))
        #expect(rig.flows.count(2) > 0 && publishes > 10)
        #expect(rig.tables.pending == 0 && rig.tables.freed == rig.tables.published)
        #expect(worst < 50_000_000, "a publish took \(worst) ns")
        #expect(rig.pool.audit().isConsistent)
    }
}
