import BowmanCore
import BowmanIO
import BowmanPacket
import BowmanPipeline
import BowmanSystem

/// A source that produces `remaining` copies of one frame into pool frames
/// (as a NIC would DMA them), then stops the worker; as a sink it gives
/// every frame back to the pool. No allocation after init.
public struct SyntheticPort: PacketPort {
    let template: UnsafeMutableRawBufferPointer
    public var remaining = 0
    let stop: StopFlag
    /// Only the source ends the run when it has delivered everything.
    let isSource: Bool

    public init(frame: [UInt8], stop: StopFlag, isSource: Bool) {
        self.isSource = isSource
        template = .allocate(byteCount: frame.count, alignment: 64)
        template.copyBytes(from: frame)
        self.stop = stop
    }

    public mutating func receive(into burst: inout Burst, pool: inout FramePool) -> Int {
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
    public mutating func transmit(_ burst: inout Burst, pool: inout FramePool) -> Int {
        let n = burst.count
        pool.release(burst: &burst)
        return n
    }
    public mutating func service(pool: inout FramePool) {}
    public var pollDescriptor: Int32 { -1 }
    public mutating func close(returningFramesTo pool: inout FramePool) {}
    public var name: String { "synthetic" }
}

public final class WorkerRig: @unchecked Sendable {
    public var pool = try! FramePool(frameSize: 2048, frameCount: 1024)
    public let stop = StopFlag()
    public let stats = WorkerStats()
    public let frame: [UInt8]
    public init(frame: [UInt8] = try! PacketBuilder.bytes(.udp4(from: IPv4Address(198, 18, 0, 1), to: IPv4Address(198, 18, 1, 2), frameLength: 64))) {
        self.frame = frame
    }
    public lazy var source = SyntheticPort(frame: frame, stop: stop, isSource: true)
    public lazy var sink = SyntheticPort(frame: [0], stop: stop, isSource: false)

    /// Packets the worker took in the last run (to check the benchmark does the work).
    public var lastReceived: UInt64 { stats.rxPackets.load(ordering: .relaxed) }

    /// One iteration over a group: the source as port 0, `sinks` sinks after it.
    public func runGroup<F: ForwardingFunction>(_ f: F, sinks: Int) {
        var fn = f
        var group = PortGroup<SyntheticPort>(capacity: sinks + 1)
        var src = SyntheticPort(frame: frame, stop: stop, isSource: true)
        src.remaining = 64_000
        group.append(src)
        for _ in 0..<sinks { group.append(SyntheticPort(frame: [0], stop: stop, isSource: false)) }
        stop.clear()
        Worker.run(&group, function: &fn, pool: &pool, idle: .spin, stats: stats, stop: stop)
        precondition(lastReceived == 64_000, "worker stopped after \(lastReceived) packets")
    }

    /// One iteration: 64,000 packets through the real worker loop.
    public func run<F: ForwardingFunction>(_ f: F, tap: CaptureTap? = nil) {
        var fn = f
        source.remaining = 64_000
        stop.clear()
        Worker.run(&source, &sink, function: &fn, pool: &pool, idle: .spin, stats: stats, stop: stop, tap: tap)
        precondition(lastReceived == 64_000, "worker stopped after \(lastReceived) packets")
    }
}

