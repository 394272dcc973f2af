import Benchmark
import BowmanClassifier
import BowmanCore
import ClassifyWorkload
import BowmanIO
import BowmanPacket
import BowmanPipeline
import BowmanSystem

/// A source that produces `remaining` copies of one frame into pool frames
/// (as a NIC would DMA them), then stops the worker; as a sink it gives
/// every frame back to the pool. No allocation after init.
struct SyntheticPort: PacketPort {
    let template: UnsafeMutableRawBufferPointer
    var remaining = 0
    let stop: StopFlag
    /// Only the source ends the run when it has delivered everything.
    let isSource: Bool

    init(frame: [UInt8], stop: StopFlag, isSource: Bool) {
        self.isSource = isSource
        template = .allocate(byteCount: frame.count, alignment: 64)
        template.copyBytes(from: frame)
        self.stop = stop
    }

    mutating func receive(into burst: inout Burst, pool: inout FramePool) -> Int {
        var n = 0
        while remaining > 0, !burst.isFull, let i = pool.allocateIndex() {
            pool.buffer(index: i).baseAddress!.copyMemory(from: template.baseAddress!, byteCount: template.count)
            burst.append(index: i, length: UInt32(template.count))
            remaining -= 1
            n += 1
        }
        if isSource && remaining == 0 && n == 0 { stop.set() }
        return n
    }
    mutating func transmit(_ burst: inout Burst, pool: inout FramePool) -> Int {
        let n = burst.count
        pool.release(burst: &burst)
        return n
    }
    mutating func service(pool: inout FramePool) {}
    var pollDescriptor: Int32 { -1 }
    mutating func close(returningFramesTo pool: inout FramePool) {}
    var name: String { "synthetic" }
}

final class WorkerRig: @unchecked Sendable {
    var pool = try! FramePool(frameSize: 2048, frameCount: 1024)
    let stop = StopFlag()
    let stats = WorkerStats()
    let frame: [UInt8]
    init(frame: [UInt8] = try! PacketBuilder.bytes(.udp4(from: IPv4Address(198, 18, 0, 1), to: IPv4Address(198, 18, 1, 2), frameLength: 64))) {
        self.frame = frame
    }
    lazy var source = SyntheticPort(frame: frame, stop: stop, isSource: true)
    lazy var sink = SyntheticPort(frame: [0], stop: stop, isSource: false)

    /// Packets the worker took in the last run (to check the benchmark does the work).
    var lastReceived: UInt64 { stats.rxPackets.load(ordering: .relaxed) }

    /// One iteration: 64,000 packets through the real worker loop.
    func run<F: ForwardingFunction>(_ f: F) {
        var fn = f
        source.remaining = 64_000
        stop.clear()
        Worker.run(&source, &sink, function: &fn, pool: &pool, idle: .spin, stats: stats, stop: stop)
        precondition(lastReceived == 64_000, "worker stopped after \(lastReceived) packets")
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
    Benchmark("worker loop, reflect (parse + swap), 64,000 packets") { benchmark in
        for _ in benchmark.scaledIterations { rig.run(ReflectFunction()) }
    }
}
