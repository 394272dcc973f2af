import BowmanClassifier
import BowmanCore
import BowmanIO
import BowmanPacket
import BowmanRouting
import BowmanSystem

// Where the specialised pipeline is assembled: a rig owns one worker's
// frame pool and ports, and `runFunction` picks the forwarding function
// once, so `Worker.run` is specialised for the concrete ports and function
// (no existential, no indirect call per packet). The management core
// builds rigs and drives them (Bowman's `DataPlane`); a rig's worker thread
// only moves packets.

/// The forwarding function a worker runs.
public enum ForwardMode: String, Sendable, CaseIterable {
    case drop, l2fwd, reflect, router
}

/// What the router function of every worker shares with the management
/// core: the route table, the published adjacencies, and per worker a
/// punt ring and counters.
public final class RouterWiring: Sendable {
    public let routes: RouteTable
    public let tables: TablePublisher<RouterView>
    public let punts: [PuntRing]
    public let counters: [RouterCounters]
    public init(routes: RouteTable, tables: TablePublisher<RouterView>, punts: [PuntRing], counters: [RouterCounters]) {
        self.routes = routes; self.tables = tables; self.punts = punts; self.counters = counters
    }
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
    /// The router's tables and rings (forward mode `router`).
    public var router: RouterWiring?
    /// The worker's capture tap (nil: no capture possible; armed by the management core).
    public var capture: CaptureTap?
    /// The stages bound at the flows' slots and this worker's state for them (with `classification`).
    public var stages: (program: FlowProgram, state: FlowStageState)?
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
    /// A line per port of the kernel's own counters for it (AF_XDP:
    /// XDP_STATISTICS), read before `closeAll`.
    func kernelStatistics() -> [String]
}

extension Rig {
    public func kernelStatistics() -> [String] { [] }
}

/// An AF_XDP worker: one or two XSK sockets on one UMEM over its pool.
public final class AFXDPRig: Rig, @unchecked Sendable {
    var pool: FramePool
    let umem: XSKUmem
    var ports: PortGroup<AFXDPPort>
    /// The XSKMAP entries this rig's sockets hold (cleared on close).
    public var maps: [(XDPMaps, UInt32)] = []
    public let settings: RigSettings
    public let stats = WorkerStats()
    public let stopFlag = StopFlag()
    public let poolNode: Int
    var closed = false

    /// `ports`: one or more (interface, queue), all on one UMEM, so a frame
    /// received on any of them can leave by any other; frames on `numaNode`.
    public init(ports: [(interface: String, queue: UInt32)], settings: RigSettings, numaNode: Int, umemConfig: XSKUmem.Configuration) throws {
        guard (1...Int(Burst.dropEgress)).contains(ports.count) else { throw RigError("a worker serves 1 to 254 ports") }
        self.settings = settings
        pool = try FramePool.onNUMANode(numaNode, frameSize: 2048, frameCount: settings.frameCount)
        poolNode = pool.numaNode
        umem = try XSKUmem(pool: pool, configuration: umemConfig)
        // A worker that only drops opens receive-only sockets.
        let transmit = settings.forward != .drop
        self.ports = PortGroup(capacity: ports.count)
        for p in ports {
            self.ports.append(try AFXDPPort(interface: p.interface, queue: p.queue, umem: umem, pool: &pool, transmit: transmit))
        }
    }

    public func runWorker() { runFunction(settings, &ports, &pool, stats, stopFlag) }

    /// Socket, name, zero-copy and copy-mode reason of port k.
    public func portInfo(_ k: Int) -> (socket: Int32, name: String, zeroCopy: Bool, copyModeReason: String?) {
        (ports[k].socketDescriptor, ports[k].name, ports[k].zeroCopy, ports[k].copyModeReason)
    }

    public func closeAll() {
        guard !closed else { return }
        closed = true
        for (m, q) in maps { m.clearSocket(queue: q) }
        ports.closeAll(returningFramesTo: &pool)
    }

    public func audit() -> FramePool.Audit { pool.audit() }

    public func kernelStatistics() -> [String] {
        guard !closed else { return [] }
        let order = ["rx_dropped", "rx_ring_full", "rx_fill_ring_empty_descs", "rx_invalid_descs", "tx_invalid_descs", "tx_ring_empty_descs"]
        var lines: [String] = []
        for i in 0..<ports.count {
            let s = ports[i].kernelStatistics()
            let name = "af_xdp:\(ports[i].interface):\(ports[i].queue)"
            lines.append(s.isEmpty ? "\(name) XDP_STATISTICS: not available"
                         : "\(name) XDP_STATISTICS: " + order.map { "\($0) \(s[$0] ?? 0)" }.joined(separator: ", "))
        }
        return lines
    }
}

/// An AF_PACKET worker: one or two TPACKET_V3 rings, frames copied into its pool.
public final class PacketRig: Rig, @unchecked Sendable {
    var pool: FramePool
    var ports: PortGroup<TPacketV3Port>
    public let settings: RigSettings
    public let stats = WorkerStats()
    public let stopFlag = StopFlag()
    public let poolNode: Int

    /// `fanoutGroup`: PACKET_FANOUT (hash) group shared with the other workers on these interfaces.
    public init(interfaces: [String], fanoutGroup: Int32?, settings: RigSettings, numaNode: Int) throws {
        guard (1...Int(Burst.dropEgress)).contains(interfaces.count) else { throw RigError("a worker serves 1 to 254 ports") }
        self.settings = settings
        pool = try FramePool.onNUMANode(numaNode, frameSize: 2048, frameCount: settings.frameCount)
        poolNode = pool.numaNode
        ports = PortGroup(capacity: interfaces.count)
        do {
            for i in interfaces { ports.append(try TPacketV3Port(interface: i, fanoutGroup: fanoutGroup)) }
        } catch {
            throw RigError("cannot open an AF_PACKET TPACKET_V3 ring: \(error)")
        }
    }

    public func runWorker() { runFunction(settings, &ports, &pool, stats, stopFlag) }

    public func closeAll() {}
    public func audit() -> FramePool.Audit { pool.audit() }

    public func kernelStatistics() -> [String] {
        (0..<ports.count).map { i in
            guard let s = ports[i].kernelStatistics() else { return "\(ports[i].name) PACKET_STATISTICS: not available" }
            return "\(ports[i].name) PACKET_STATISTICS: packets \(s.packets), drops \(s.drops), queue freezes \(s.freezes)"
        }
    }
}

/// A capture replayed through a worker into a capture (port 0 the replay,
/// port 1 the capture): any forwarding function, offline, no privileges.
/// `finished` turns true once the replay has delivered its last packet.
public final class PcapRig: Rig, @unchecked Sendable {
    var pool: FramePool
    var input: FinishingReplay
    var output: PcapCapturePort
    public let settings: RigSettings
    public let stats = WorkerStats()
    public let stopFlag = StopFlag()
    public let finished: StopFlag
    var closed = false

    public init(input: String, output: String, settings: RigSettings) throws {
        pool = try FramePool(frameSize: 2048, frameCount: settings.frameCount)
        let replay = try PcapReplayPort(path: input)
        self.output = try PcapCapturePort(path: output, linkType: replay.linkType)
        finished = StopFlag()
        self.input = FinishingReplay(replay, finished: finished)
        self.settings = settings
    }

    public func runWorker() {
        withUnsafeMutablePointer(to: &input) { a in
            withUnsafeMutablePointer(to: &output) { b in
                var pair = PortPair(a: a, b: b)
                runFunction(settings, &pair, &pool, stats, stopFlag)
            }
        }
    }

    /// Packets replayed, cut to the frame size, and written.
    public var counts: (replayed: UInt64, truncated: UInt64, written: UInt64, readError: String?) {
        (input.replay.packets, input.replay.truncated, output.packets, input.replay.readError)
    }

    public func closeAll() {
        guard !closed else { return }
        closed = true
        input.replay.close(returningFramesTo: &pool)
        output.close(returningFramesTo: &pool)
    }

    public func audit() -> FramePool.Audit { pool.audit() }
}

/// A replay that raises a flag when it has nothing more to give.
struct FinishingReplay: ~Copyable, PacketPort {
    var replay: PcapReplayPort
    let finished: StopFlag
    init(_ r: consuming PcapReplayPort, finished: StopFlag) { replay = r; self.finished = finished }
    mutating func receive(into burst: inout Burst, pool: inout FramePool) -> Int {
        let n = replay.receive(into: &burst, pool: &pool)
        if n == 0 && replay.isFinished { finished.set() }
        return n
    }
    mutating func transmit(_ burst: inout Burst, pool: inout FramePool) -> Int { 0 }
    mutating func service(pool: inout FramePool) {}
    var pollDescriptor: Int32 { -1 }
    mutating func close(returningFramesTo pool: inout FramePool) { replay.close(returningFramesTo: &pool) }
    var name: String { replay.name }
}

/// Picks the forwarding function once; the worker loop is specialised for it.
func runFunction<Ports: WorkerPorts & ~Copyable>(
    _ s: RigSettings, _ ports: inout Ports, _ pool: inout FramePool, _ stats: WorkerStats, _ stop: StopFlag
) {
    switch s.forward {
    case .drop: run(DropFunction())
    case .reflect: run(ReflectFunction())
    case .l2fwd:
        let f = L2ForwardFunction(rewrite: (0..<2).map { k in
            (source: nil, destination: k < s.nextHopMACs.count ? s.nextHopMACs[k] : nil)
        })
        run(f)
    case .router:
        guard let r = s.router else { preconditionFailure("router mode without its tables") }
        run(RouterFunction(routes: r.routes, tables: r.tables, punts: r.punts[s.workerIndex], counters: r.counters[s.workerIndex],
                           worker: s.workerIndex))
    }

    /// With rules, the function runs behind the classifier stage.
    func run<F: ForwardingFunction>(_ f: F) {
        if let cl = s.classification, let st = s.stages {
            var c = ClassifyFunction(tables: cl.tables, worker: s.workerIndex, flows: cl.flows[s.workerIndex],
                                     dropUnmatched: s.dropUnmatched, slots: BoundSlots(program: st.program, state: st.state), then: f)
            Worker.loop(&ports, function: &c, pool: &pool, idle: s.idle, stats: stats, stop: stop, tap: s.capture)
            cl.tables.offline(worker: s.workerIndex)
        } else if let cl = s.classification {
            var c = ClassifyFunction(tables: cl.tables, worker: s.workerIndex, flows: cl.flows[s.workerIndex],
                                     dropUnmatched: s.dropUnmatched, then: f)
            Worker.loop(&ports, function: &c, pool: &pool, idle: s.idle, stats: stats, stop: stop, tap: s.capture)
            cl.tables.offline(worker: s.workerIndex)
        } else {
            var f = f
            Worker.loop(&ports, function: &f, pool: &pool, idle: s.idle, stats: stats, stop: stop, tap: s.capture)
        }
    }
}
