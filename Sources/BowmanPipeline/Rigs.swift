import BowmanClassifier
import BowmanCore
import BowmanIO
import BowmanPacket
import BowmanSystem

// Where the specialised pipeline is assembled: a rig owns one worker's
// frame pool and ports, and `runFunction` picks the forwarding function
// once, so `Worker.run` is specialised for the concrete ports and function
// (no existential, no indirect call per packet). The management core
// builds rigs and drives them (Bowman's `DataPlane`); a rig's worker thread
// only moves packets.

/// The forwarding function a worker runs.
public enum ForwardMode: String, Sendable, CaseIterable {
    case drop, l2fwd, reflect
}

/// What a rig's worker runs, beyond its ports.
public struct RigSettings: Sendable {
    public var forward: ForwardMode = .l2fwd
    /// Next-hop MACs per port for l2fwd (port i's packets leave with this destination).
    public var nextHopMACs: [MACAddress?] = []
    public var idle: IdlePolicy = .poll(emptyPolls: 1, milliseconds: 100)
    /// Frames in the worker's pool (2048 bytes each).
    public var frameCount = 16384
    /// Classify every packet before forwarding (nil: no classifier stage).
    public var classification: Classification?
    /// Drop what no rule matches (with `classification`).
    public var dropUnmatched = false
    /// Index of this worker (its quiescent slot and flow counters).
    public var workerIndex = 0
    public init() {}
}

/// The rules every worker classifies against, published as one table,
/// and each worker's per-flow counters.
public final class Classification: @unchecked Sendable {
    public let live: LiveClassifier
    public var tables: TablePublisher<ClassifierTables> { live.tables }
    public let flows: [FlowCounters]
    public init(_ c: Classifier, workers: Int) {
        live = LiveClassifier(c, workers: workers)
        flows = (0..<workers).map { _ in FlowCounters(capacity: 65536) }
    }
}

public struct RigError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// One worker's pool, ports and function, handed between the management
/// thread (set-up, tear-down) and the worker thread (run); only one of them
/// touches it at a time. Management-core code holds rigs as `any Rig`; the
/// data path inside `runWorker` is concrete.
public protocol Rig: AnyObject, Sendable {
    var stats: WorkerStats { get }
    var stopFlag: StopFlag { get }
    /// Runs the worker loop on the calling thread until `stopFlag` is set.
    func runWorker()
    func closeAll()
    func audit() -> FramePool.Audit
}

/// An AF_XDP worker: one or two XSK sockets on one UMEM over its pool.
public final class AFXDPRig: Rig, @unchecked Sendable {
    var pool: FramePool
    let umem: XSKUmem
    var a: AFXDPPort?
    var b: AFXDPPort?
    /// The XSKMAP entries this rig's sockets hold (cleared on close).
    public var maps: [(XDPMaps, UInt32)] = []
    public let settings: RigSettings
    public let stats = WorkerStats()
    public let stopFlag = StopFlag()
    public let poolNode: Int
    var closed = false

    /// `ports`: one or two (interface, queue); frames on `numaNode`.
    public init(ports: [(interface: String, queue: UInt32)], settings: RigSettings, numaNode: Int, umemConfig: XSKUmem.Configuration) throws {
        guard (1...2).contains(ports.count) else { throw RigError("a worker serves one or two ports") }
        self.settings = settings
        pool = try FramePool.onNUMANode(numaNode, frameSize: 2048, frameCount: settings.frameCount)
        poolNode = pool.numaNode
        umem = try XSKUmem(pool: pool, configuration: umemConfig)
        // A worker that only drops opens receive-only sockets.
        let transmit = settings.forward != .drop
        a = try AFXDPPort(interface: ports[0].interface, queue: ports[0].queue, umem: umem, pool: &pool, transmit: transmit)
        if ports.count > 1 {
            b = try AFXDPPort(interface: ports[1].interface, queue: ports[1].queue, umem: umem, pool: &pool, transmit: transmit)
        }
    }

    public func runWorker() { runPorts(&a, &b, settings, &pool, stats, stopFlag) }

    /// Socket, name, zero-copy and copy-mode reason of port k (0 or 1).
    public func portInfo(_ k: Int) -> (socket: Int32, name: String, zeroCopy: Bool, copyModeReason: String?) {
        if k == 0 {
            return (a?.socketDescriptor ?? -1, a?.name ?? "", a?.zeroCopy ?? false, a?.copyModeReason ?? nil)
        }
        return (b?.socketDescriptor ?? -1, b?.name ?? "", b?.zeroCopy ?? false, b?.copyModeReason ?? nil)
    }

    public func closeAll() {
        guard !closed else { return }
        closed = true
        for (m, q) in maps { m.clearSocket(queue: q) }
        a?.close(returningFramesTo: &pool)
        b?.close(returningFramesTo: &pool)
    }

    public func audit() -> FramePool.Audit { pool.audit() }
}

/// An AF_PACKET worker: one or two TPACKET_V3 rings, frames copied into its pool.
public final class PacketRig: Rig, @unchecked Sendable {
    var pool: FramePool
    var a: TPacketV3Port?
    var b: TPacketV3Port?
    public let settings: RigSettings
    public let stats = WorkerStats()
    public let stopFlag = StopFlag()
    public let poolNode: Int

    /// `fanoutGroup`: PACKET_FANOUT (hash) group shared with the other workers on these interfaces.
    public init(interfaces: [String], fanoutGroup: Int32?, settings: RigSettings, numaNode: Int) throws {
        guard (1...2).contains(interfaces.count) else { throw RigError("a worker serves one or two ports") }
        self.settings = settings
        pool = try FramePool.onNUMANode(numaNode, frameSize: 2048, frameCount: settings.frameCount)
        poolNode = pool.numaNode
        do {
            a = try TPacketV3Port(interface: interfaces[0], fanoutGroup: fanoutGroup)
            if interfaces.count > 1 { b = try TPacketV3Port(interface: interfaces[1], fanoutGroup: fanoutGroup) }
        } catch {
            throw RigError("cannot open an AF_PACKET TPACKET_V3 ring: \(error)")
        }
    }

    public func runWorker() { runPorts(&a, &b, settings, &pool, stats, stopFlag) }

    public func closeAll() {}
    public func audit() -> FramePool.Audit { pool.audit() }
}

/// Runs a rig's worker: its one or two ports (a missing second port is a
/// `NullPort`) are moved out of the rig for the run and back after.
func runPorts<P: PacketPort & ~Copyable>(_ a: inout P?, _ b: inout P?, _ s: RigSettings, _ pool: inout FramePool,
                                         _ stats: WorkerStats, _ stop: StopFlag) {
    var pa = a.take()!
    if var pb = b.take() {
        runFunction(s, &pa, &pb, &pool, stats, stop)
        b = consume pb
    } else {
        var none = NullPort()
        runFunction(s, &pa, &none, &pool, stats, stop)
    }
    a = consume pa
}

/// Picks the forwarding function once; the worker loop is specialised for it.
func runFunction<A: PacketPort & ~Copyable, B: PacketPort & ~Copyable>(
    _ s: RigSettings, _ a: inout A, _ b: inout B, _ pool: inout FramePool, _ stats: WorkerStats, _ stop: StopFlag
) {
    switch s.forward {
    case .drop: run(DropFunction())
    case .reflect: run(ReflectFunction())
    case .l2fwd:
        let f = L2ForwardFunction(rewrite: (0..<2).map { k in
            (source: nil, destination: k < s.nextHopMACs.count ? s.nextHopMACs[k] : nil)
        })
        run(f)
    }

    /// With rules, the function runs behind the classifier stage.
    func run<F: ForwardingFunction>(_ f: F) {
        if let cl = s.classification {
            var c = ClassifyFunction(tables: cl.tables, worker: s.workerIndex, flows: cl.flows[s.workerIndex],
                                     dropUnmatched: s.dropUnmatched, then: f)
            Worker.run(&a, &b, function: &c, pool: &pool, idle: s.idle, stats: stats, stop: stop)
            cl.tables.offline(worker: s.workerIndex)
        } else {
            var f = f
            Worker.run(&a, &b, function: &f, pool: &pool, idle: s.idle, stats: stats, stop: stop)
        }
    }
}
