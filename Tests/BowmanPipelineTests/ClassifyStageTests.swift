import BowmanClassifier
import BowmanCore
import BowmanIO
import BowmanPacket
import BowmanPipeline
import BowmanSystem
import BowmanTestSupport
import Glibc
import Testing

func flatTable(_ rules: [(String, Int)]) throws -> ClassifierTables {
    var c = Classifier()
    for (text, demux) in rules { try c.addFilter(text, demuxID: demux) }
    return ClassifierTables(c)
}

final class ClassifyRig: @unchecked Sendable {
    var pool = try! FramePool(frameSize: 2048, frameCount: 256)
    var a = MemoryPort(name: "in"), b = MemoryPort(name: "out")
    var function: ClassifyFunction<L2ForwardFunction, NoSlots>
    let stats = WorkerStats(), stop = StopFlag()
    let flows = FlowCounters(capacity: 16)
    let tables: TablePublisher<ClassifierTables>

    convenience init(initial: ClassifierTables, dropUnmatched: Bool) {
        self.init(tables: TablePublisher(initial, workers: 1), dropUnmatched: dropUnmatched)
    }

    init(tables: TablePublisher<ClassifierTables>, dropUnmatched: Bool) {
        self.tables = tables
        function = ClassifyFunction(tables: tables, worker: 0, flows: flows, dropUnmatched: dropUnmatched, then: L2ForwardFunction())
    }

    func start() throws -> PinnedThread {
        try PinnedThread(name: "classify", core: nil) { [self] in
            Worker.run(&a, &b, function: &function, pool: &pool, idle: .spin, stats: stats, stop: stop)
            tables.offline(worker: 0)
        }
    }

    func waitFor(received n: UInt64) {
        let deadline = SystemClock.monotonicNanoseconds + 20_000_000_000
        while stats.rxPackets.load(ordering: .relaxed) < n && SystemClock.monotonicNanoseconds < deadline { usleep(200) }
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
            let t0 = SystemClock.monotonicNanoseconds
            rig.tables.publish(publishes % 2 == 0 ? ruleB : ruleA)
            worst = max(worst, SystemClock.monotonicNanoseconds - t0)
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

    /// Rules added and deleted one at a time through `LiveClassifier` on a
    /// ClassBench base while a worker classifies: each change is published
    /// on the running base at once (the worker's next burst sees it) and a
    /// new base is compiled in the background; after every change the
    /// published tables answer as the reference does.
    @Test func liveAddDeleteOnAClassBenchBase() throws {
        let text = try String(contentsOfFile: TestData.path("classbench/acl1_1k"), encoding: .utf8)
        let rules = try ClassBench.parseRules(text)
        let live = LiveClassifier(try ClassBench.classifier(rules), workers: 1)
        let rig = ClassifyRig(tables: live.tables, dropUnmatched: false)
        var rng = SeededRandom(seed: 17)
        let probes = (0..<200).map { _ in ClassBench.header(inside: rules.randomElement(using: &rng)!, using: &rng).frame() }
        for _ in 0..<100_000 { rig.a.enqueue(udpFrame(9)) }
        let th = try rig.start()
        var added: [(FilterID, Int)] = []
        for step in 0..<40 {
            if step % 3 == 2, let (id, d) = added.popLast() {
                // A wrong demux id is refused and changes nothing.
                #expect(throws: ClassifierError.self) { try live.delete(id, demuxID: d + 1) }
                try live.delete(id, demuxID: d)
            } else if step % 5 == 4 {
                // Delete a base rule (by its line) the probes may hit.
                let victim = live.rules.rules[Int.random(in: 0..<live.rules.rules.count, using: &rng)]
                try live.delete(victim.id, demuxID: victim.demuxID)
            } else {
                let r = rules.randomElement(using: &rng)!
                let demux = 5000 + step
                added.append((try live.add(r.filterText, demuxID: demux, priority: Int.random(in: 0...1000, using: &rng)), demux))
            }
            #expect(throws: ClassifierError.self) { try live.add("[ ethernet | nosuch | * ]", demuxID: 1) }
            let reference = live.rules
            let current = live.tables.current(worker: 0).pointee
            for p in probes {
                let (a, b) = p.withUnsafeBytes { (reference.match($0), current.match($0)) }
                #expect(a == b, "step \(step): reference \(a), published \(b)")
                if a != b { break }
            }
            if step % 10 == 9 { live.waitForCompile() }
        }
        live.waitForCompile()
        #expect(live.backgroundCompiles > 0)
        let final = live.tables.current(worker: 0).pointee
        #expect(final.addedCount == 0 && final.deletedCount == 0, "the background compile caught up")
        rig.waitFor(received: 100_000)
        rig.stop.set(); th.join()
        live.reclaim()
        #expect(rig.tables.pending == 0)
        #expect(rig.pool.audit().isConsistent)
    }

    /// A reload (a freshly loaded classifier, its ids from 0 again) is
    /// applied as its difference: rules that stay keep their identity, and
    /// the published tables answer for the new rules at once.
    @Test func reloadIsAppliedAsItsDifference() throws {
        var a = Classifier()
        let kept = try a.addFilter("[ ethernet | ip (proto = 17) | udp (dport = 9) | * ]", demuxID: 1)
        try a.addFilter("[ ethernet | ipv6 | * ]", demuxID: 2)
        let live = LiveClassifier(a, workers: 1)
        var b = Classifier()
        try b.addFilter("[ ethernet | * ]", demuxID: 3)
        try b.addFilter("[ ethernet | ip (proto = 17) | udp (dport = 9) | * ]", demuxID: 1)
        live.replace(with: b)
        let now = live.rules
        #expect(now.rules.count == 2 && now.rules.contains { $0.id == kept && $0.demuxID == 1 })
        let frames = [udpFrame(9), udpFrame(10)]
        for f in frames {
            let (want, got) = f.withUnsafeBytes { (b.match($0), live.tables.current(worker: 0).pointee.match($0)) }
            #expect(want == got, "reference \(want), published \(got)")
        }
        live.waitForCompile()
        for f in frames {
            let (want, got) = f.withUnsafeBytes { (b.match($0), live.tables.current(worker: 0).pointee.match($0)) }
            #expect(want == got, "after the compile: reference \(want), published \(got)")
        }
        live.reclaim()
    }
}
