import Benchmark
import BenchSupport
import Glibc
import BowmanClassifier
import BowmanCore
import ClassifyWorkload
import BowmanIO
import BowmanPacket
import BowmanPipeline
import BowmanRouting
import BowmanSystem
import Synchronization

/// l2fwd's rewrite with the verdict given per packet (what a router
/// returns): the cost of `.perPacket` against `.forward(toPort:)`.
struct PerPacketL2Function: ForwardingFunction {
    let source = MACAddress(2, 0, 0, 0, 0, 1), destination = MACAddress(2, 0, 0, 0, 0, 2)
    /// Out ports 1...spread in turn (a power of two).
    let spread: Int
    mutating func process(_ burst: inout Burst, input: Int, pool: inout FramePool) -> BurstVerdict {
        for k in 0..<burst.count {
            let p = burst.packet(at: k, in: pool)
            guard p.count >= 14 else { burst.setEgress(Burst.dropEgress, at: k); continue }
            destination.store(to: p, at: 0)
            source.store(to: p, at: 6)
            burst.setEgress(UInt8(truncatingIfNeeded: 1 &+ k & (spread &- 1)), at: k)
        }
        return .perPacket
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal, .retainCount, .releaseCount],
                                           warmupIterations: 3, maxDuration: .seconds(3), maxIterations: 500)
    let rig = WorkerRig()
    Benchmark("worker loop, drop, 64,000 packets") { benchmark in
        for _ in benchmark.scaledIterations { rig.run(DropFunction()) }
    }
    Benchmark("worker loop, l2fwd with MAC rewrite, 64,000 packets") { benchmark in
        let f = L2ForwardFunction(rewrite: [(nil, nil), (source: MACAddress(2, 0, 0, 0, 0, 1), destination: MACAddress(2, 0, 0, 0, 0, 2))])
        for _ in benchmark.scaledIterations { rig.run(f) }
    }
    Benchmark("worker loop, l2fwd per-packet verdict, 64,000 packets") { benchmark in
        for _ in benchmark.scaledIterations { rig.run(PerPacketL2Function(spread: 1)) }
    }
    Benchmark("worker loop, l2fwd per-packet verdict over 4 out ports, 64,000 packets") { benchmark in
        for _ in benchmark.scaledIterations { rig.runGroup(PerPacketL2Function(spread: 4), sinks: 4) }
    }
    // The router: the frame's destination (198.18.1.2) on a /24 via a
    // resolved next hop, looked up per packet, TTL decremented, MACs set.
    let routes = RouteTable(name: "bench", wordsV4: 1 << 16, groupsV6: 64)
    try! routes.add(IPPrefix("198.18.1.0/24")!, channel: 0)
    var adj = Adjacencies()
    adj.append([(.init(kind: .forward, port: 1, source: MACAddress(2, 0, 0, 0, 0, 1), destination: MACAddress(2, 0, 0, 0, 0, 2)), 1)])
    let routerTables = RouterTables(adj)
    let routerView = TablePublisher(routerTables.view, workers: 1)
    let punts = PuntRing(), routerCounters = RouterCounters()
    Benchmark("worker loop, router (LPM, TTL, MACs), 64,000 packets") { benchmark in
        let f = RouterFunction(routes: routes, tables: routerView, punts: punts, counters: routerCounters, worker: 0)
        for _ in benchmark.scaledIterations { rig.run(f) }
        precondition(routerCounters.forwarded.load(ordering: .relaxed) > 0)
        withExtendedLifetime(routerTables) {}
    }
    // The classifier stage in front of l2fwd: acl1_1k compiled, published,
    // read once per burst; the synthetic frame matches one of its rules.
    let acl = try! ClassifyWorkload(set: "acl1_1k", root: ClassifyWorkload.testData, headers: 1)
    let tables = TablePublisher(acl.tables, workers: 1)
    let flows = FlowCounters(capacity: 4096)
    let classifyRig = WorkerRig(frame: acl.frames[0])
    Benchmark("worker loop, classify (acl1_1k) + l2fwd, 64,000 packets") { benchmark in
        let f = ClassifyFunction(tables: tables, worker: 0, flows: flows, dropUnmatched: false, then: L2ForwardFunction())
        for _ in benchmark.scaledIterations { classifyRig.run(f) }
    }
    // Capture: a tap present but not armed (one relaxed load per burst),
    // and one copying every received packet into its ring while another
    // thread empties it (as the management core does).
    let l2 = L2ForwardFunction(rewrite: [(nil, nil), (source: MACAddress(2, 0, 0, 0, 0, 1), destination: MACAddress(2, 0, 0, 0, 0, 2))])
    let idleTap = CaptureTap()
    Benchmark("worker loop, l2fwd, capture tap not armed, 64,000 packets") { benchmark in
        for _ in benchmark.scaledIterations { rig.run(l2, tap: idleTap) }
    }
    let tap = CaptureTap()
    // The other thread empties the ring as the node's management loop
    // does while a capture runs: everything there is, then a 0.5 ms sleep.
    Benchmark("worker loop, l2fwd, capturing every packet (drained by another thread), 64,000 packets") { benchmark in
        tap.armed.store(CaptureTap.bit(port: 0, afterProcessing: false), ordering: .relaxed)
        let done = StopFlag()
        let taken = Atomic<Int>(0)
        let drainer = try! PinnedThread(name: "drain", core: nil) {
            while !done.isSet {
                taken.add(tap.ring.pop(max: Int.max, { _, _ in }), ordering: .relaxed)
                usleep(500)
            }
        }
        let dropsBefore = tap.ring.overflow.load(ordering: .relaxed)
        for _ in benchmark.scaledIterations { rig.run(l2, tap: tap) }
        done.set()
        drainer.join()
        tap.armed.store(0, ordering: .relaxed)
        let rest = tap.ring.pop(max: Int.max) { _, _ in }
        let dropped = tap.ring.overflow.load(ordering: .relaxed) - dropsBefore
        StandardError.writeLine("capture bench: \(taken.load(ordering: .relaxed) + rest) copied, \(dropped) dropped (ring full)")
    }
    // Two stages bound at the flows' pre-route slot (a counter, then a token
    // bucket that never runs dry), on every flow of acl1_1k, against the
    // same classifier with no stages.
    let demuxCount = (acl.classifier.rules.map(\.demuxID).max() ?? 0) + 1
    let program = FlowProgram(preRoute: (0..<demuxCount).map { d in [.counter(slot: 5 * d), .rateLimit(slot: 5 * d + 2, rate: 1e12, burst: 1e12)] },
                              ports: Array(repeating: nil, count: demuxCount))
    let stageState = FlowStageState(program)
    Benchmark("worker loop, classify (acl1_1k) + two pre-route stages + l2fwd, 64,000 packets") { benchmark in
        let f = ClassifyFunction(tables: tables, worker: 0, flows: flows, dropUnmatched: false,
                                 slots: BoundSlots(program: program, state: stageState), then: L2ForwardFunction())
        for _ in benchmark.scaledIterations { classifyRig.run(f) }
        precondition((0..<demuxCount).contains { stageState.value(5 * $0) > 0 }, "no stage ran")
    }
    Benchmark("worker loop, reflect (parse + swap), 64,000 packets") { benchmark in
        for _ in benchmark.scaledIterations { rig.run(ReflectFunction()) }
    }
}
