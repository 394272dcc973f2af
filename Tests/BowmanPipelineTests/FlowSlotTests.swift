import BowmanClassifier
import BowmanCore
import BowmanIO
import BowmanPacket
import BowmanPipeline
import BowmanSystem
import BowmanTestSupport
import Glibc
import Testing

/// Stages bound at the flows' pre-route slot, in the real worker loop: a
/// counter counts exactly its flow's packets, deny and rate-limit drop
/// (and count) what they must, a sampler copies one in N, a channel limits
/// a flow to its ports.
@Suite struct FlowSlotTests {
    final class SlotRig<F: ForwardingFunction>: @unchecked Sendable {
        var pool = try! FramePool(frameSize: 2048, frameCount: 256)
        var a = MemoryPort(name: "in"), b = MemoryPort(name: "out")
        var function: ClassifyFunction<F, BoundSlots>
        let stats = WorkerStats(), stop = StopFlag()
        let flows = FlowCounters(capacity: 16)
        let tables: TablePublisher<ClassifierTables>
        let state: FlowStageState

        init(rules: [(String, Int)], program: FlowProgram, then f: F) throws {
            tables = TablePublisher(try flatTable(rules), workers: 1)
            state = FlowStageState(program)
            function = ClassifyFunction(tables: tables, worker: 0, flows: flows, dropUnmatched: false,
                                        slots: BoundSlots(program: program, state: state), then: f)
        }

        func run(_ frames: [[UInt8]], onB: [[UInt8]] = []) throws {
            for f in frames { a.enqueue(f) }
            for f in onB { b.enqueue(f) }
            let th = try PinnedThread(name: "slots", core: nil) { [self] in
                Worker.run(&a, &b, function: &function, pool: &pool, idle: .spin, stats: stats, stop: stop)
                tables.offline(worker: 0)
            }
            let n = UInt64(frames.count + onB.count)
            let deadline = SystemClock.monotonicNanoseconds + 20_000_000_000
            while stats.rxPackets.load(ordering: .relaxed) < n && SystemClock.monotonicNanoseconds < deadline { usleep(200) }
            stop.set()
            th.join()
        }
    }

    static let rules = [("[ ethernet | ip (proto = 17) | udp (dport = 53) | * ]", 0),
                        ("[ ethernet | ip (proto = 17) | udp (dport = 80) | * ]", 1),
                        ("[ ethernet | ip (proto = 17) | udp (dport = 99) | * ]", 2)]

    @Test func aCounterAtPreRouteCountsExactlyItsFlow() throws {
        let p = FlowProgram(preRoute: [[.counter(slot: 0)], [], []], ports: [nil, nil, nil])
        let rig = try SlotRig(rules: Self.rules, program: p, then: L2ForwardFunction())
        let frames = (0..<3000).map { udpFrame([53, 80, 7][$0 % 3]) }
        try rig.run(frames)
        #expect(rig.state.value(0) == 1000, "packets")
        #expect(rig.state.value(1) == UInt64(1000 * frames[0].count), "bytes")
        #expect(rig.b.sent.count == 3000, "a counter drops nothing")
        #expect(rig.pool.audit().isConsistent)
    }

    @Test func denyAndRateLimitDropAndCount() throws {
        // Flow 0 denied; flow 1 at 10 packets/s with a burst of 50: of 1000 sent at once, about 50 pass.
        let p = FlowProgram(preRoute: [[.counter(slot: 0), .deny(slot: 2)], [.rateLimit(slot: 3, rate: 10, burst: 50), .counter(slot: 6)], []],
                            ports: [nil, nil, nil])
        let rig = try SlotRig(rules: Self.rules, program: p, then: L2ForwardFunction())
        let frames = (0..<3000).map { udpFrame([53, 80, 7][$0 % 3]) }
        try rig.run(frames)
        #expect(rig.state.value(0) == 1000 && rig.state.value(2) == 1000, "counted, then denied")
        let passed = rig.state.value(6), dropped = rig.state.value(5)
        #expect(passed + dropped == 1000 && passed >= 50 && passed <= 60, "passed \(passed), dropped \(dropped)")
        #expect(rig.b.sent.count == 1000 + Int(passed), "flow 2 unhindered, flow 1's share, none of flow 0")
        #expect(rig.b.sent.allSatisfy { $0[36] != 0 || $0[37] != 53 }, "no denied packet left")
        #expect(rig.pool.audit().isConsistent)
    }

    @Test func aSamplerCopiesOneInNAndAChannelLimitsAFlowToItsPorts() throws {
        // Flow 0 on port 1 only (its channel): packets of it on port 0 meet no stage.
        let p = FlowProgram(preRoute: [[.counter(slot: 0)], [.sample(slot: 2, every: 10, ring: 0)], []], ports: [[1], nil, nil])
        let rig = try SlotRig(rules: Self.rules, program: p, then: L2ForwardFunction())
        try rig.run((0..<500).map { udpFrame([53, 80][$0 % 2]) }, onB: (0..<40).map { _ in udpFrame(53) })
        #expect(rig.state.value(0) == 40, "only the flow's packets on its channel's port")
        #expect(rig.state.value(2) == 250 && rig.state.value(3) == 25, "one in ten of 250")
        var copies = 0
        _ = rig.state.samplers[0].pop(max: .max) { h, bytes in copies += 1; #expect(bytes.count == Int(h.wireLength)) }
        #expect(copies == 25)
    }

    @Test func postRouteSeesWhatIsForwardedAndTheDropSlotWhatIsDropped() throws {
        // Flow 0: counted before and after the function, denied after it; flow 1: counted after.
        let p = FlowProgram(slots: [[[.counter(slot: 0)], [], []], [[.counter(slot: 2), .deny(slot: 4)], [.counter(slot: 6)], []], [[], [], []]],
                            ports: [nil, nil, nil])
        let rig = try SlotRig(rules: Self.rules, program: p, then: L2ForwardFunction())
        try rig.run((0..<900).map { udpFrame([53, 80, 7][$0 % 3]) })
        #expect(rig.state.value(0) == 300 && rig.state.value(2) == 300 && rig.state.value(4) == 300)
        #expect(rig.state.value(6) == 300)
        #expect(rig.b.sent.count == 600, "flow 0 denied after the function")
        #expect(rig.pool.audit().isConsistent)

        // Behind a function that drops everything: the drop slot counts, post-route sees nothing.
        let q = FlowProgram(slots: [[[], [], []], [[.counter(slot: 0)], [], []], [[.counter(slot: 2)], [.counter(slot: 4)], []]],
                            ports: [nil, nil, nil])
        let dropper = try SlotRig(rules: Self.rules, program: q, then: DropFunction())
        try dropper.run((0..<600).map { udpFrame([53, 80][$0 % 2]) })
        #expect(dropper.state.value(0) == 0 && dropper.state.value(2) == 300 && dropper.state.value(4) == 300)
        #expect(dropper.b.sent.isEmpty && dropper.pool.audit().isConsistent)
    }

    @Test func aMirrorSendsACopyOutOfItsPort() throws {
        // Flow 0 forwarded a -> b by l2fwd and mirrored back out of port 0 (a) after the function;
        // flow 1 forwarded only. State slots 0 and 1 are the mirrors' totals.
        let p = FlowProgram(slots: [[[], [], []], [[.mirror(slot: 2, port: 0)], [], []]], ports: [nil, nil, nil])
        let rig = try SlotRig(rules: Self.rules, program: p, then: L2ForwardFunction(rewrite: [(nil, nil), (source: macB, destination: macA)]))
        let frames = (0..<400).map { udpFrame([53, 80][$0 % 2]) }
        try rig.run(frames)
        #expect(rig.b.sent.count == 400, "every packet forwarded")
        #expect(rig.a.sent.count == 200 && rig.state.value(0) == 200 && rig.state.value(2) == 200,
                "flow 0's copies out of a: sent \(rig.a.sent.count), copies \(rig.state.value(0)), no room \(rig.state.value(1)), chosen \(rig.state.value(2)), \(rig.stats.snapshot())")
        #expect(rig.a.sent.allSatisfy { $0[36] == 0 && $0[37] == 53 }, "only flow 0")
        #expect(rig.a.sent.allSatisfy { Array($0[0..<6]) == macA.octets }, "copies of the packet as the function left it")
        #expect(rig.pool.audit().isConsistent)
    }
}
