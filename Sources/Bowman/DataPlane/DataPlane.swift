import BowmanClassifier
import BowmanCore
import BowmanIO
import BowmanPacket
import BowmanPipeline
import BowmanSystem
import Foundation

/// Runs ports and one pinned worker until told to stop: what `bowman run`
/// does. Set-up and tear-down are on the calling (management) thread; the
/// worker thread only moves packets.
public enum DataPlane {
    public struct Options: Sendable {
        public var ports: [PortSpec] = []
        public var forward: ForwardMode = .l2fwd
        /// One worker per data core. With af_xdp ports worker i serves queue
        /// Q+i of each port's interface; with af_packet ports every worker
        /// opens its own ring in one PACKET_FANOUT group.
        public var dataCores: [CoreID?] = [nil]
        public var dataCore: CoreID? {
            get { dataCores.first ?? nil }
            set { dataCores = [newValue] }
        }
        public var xdpMode: XDPAttachMode = .native
        public var zeroCopy = true
        public var needWakeup = true
        public var busyPollMicroseconds: Int32 = 0
        public var idle: IdlePolicy = .poll(emptyPolls: 1, milliseconds: 100)
        public var frameCount = 16384
        public var ringSize: UInt32 = 2048
        /// Next-hop MACs per port for l2fwd (port i's packets leave with this destination).
        public var nextHopMACs: [MACAddress?] = []
        public var statsInterval: Double = 1
        /// A file that gets the received-packet count every 100 ms.
        public var countFile: String?
        /// Fill the XDP program's host-address map when Bowman attaches it
        /// (false: benchmark mode, see XDPProgram.attach).
        public var passHostAddresses = true
        /// PACKET_FANOUT group (hash mode) for af_packet ports, so several
        /// runs (one per core) share an interface's traffic by flow.
        public var fanoutGroup: Int32?
        /// Classify every packet against these rules before forwarding
        /// (per-flow counts; `dropUnmatched` drops what no rule matches).
        public var rules: (path: String, format: Classify.Format, policy: MatchPolicy)?
        public var dropUnmatched = false
        /// Set (by SIGHUP) to reload `rules` without stopping traffic.
        public var reload: StopFlag?
        var classification: Classification?
        /// Index of the worker a rig serves (for its quiescent slot and flow counters).
        var workerIndex = 0
        public init() {}
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var seconds: Double
        public var stats: WorkerStats.Snapshot
        public var audit: FramePool.Audit
        public var portNotes: [String]
        public var workers: Int = 1
        public var description: String {
            let s = stats
            return (workers > 1 ? "\(workers) workers, " : "") + String(format: "%.2f s: rx %llu (%.3f Mpps), tx %llu, dropped %llu, tx ring full %llu; worker CPU %.1f ns/packet; ",
                          seconds, s.rxPackets, Double(s.rxPackets) / seconds / 1e6, s.txPackets, s.dropped, s.txFull,
                          s.rxPackets > 0 ? Double(s.cpuNanoseconds) / Double(s.rxPackets) : 0)
                + "frames: \(audit)"
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }

    /// Runs until `stop` is set (or `seconds` pass, when given). `progress`
    /// receives a line per `statsInterval`.
    public static func run(_ o: Options, seconds: Double? = nil, stop: StopFlag,
                           ready: (@Sendable () -> Void)? = nil,
                           progress: @escaping (String) -> Void) throws -> Report {
        guard (1...2).contains(o.ports.count) else { throw Failure("give one or two --port (got \(o.ports.count))") }
        if o.forward == .l2fwd && o.ports.count != 2 { throw Failure("l2fwd needs two ports") }
        let xdp = o.ports.allSatisfy { if case .afXDP = $0 { true } else { false } }
        let packet = o.ports.allSatisfy { if case .afPacket = $0 { true } else { false } }
        guard xdp || packet else { throw Failure("one worker serves ports of one kind: mix af_xdp and af_packet on separate runs") }
        if o.ports.count == 2 && o.ports[0] == o.ports[1] { throw Failure("the two ports are the same (\(o.ports[0]))") }
        for p in o.ports where if_nametoindex(p.interface) == 0 { throw Failure("no such interface: \(p.interface)") }

        var o = o
        if let r = o.rules {
            let c = try Classify.load(rules: r.path, format: r.format, policy: r.policy)
            let t0 = Date()
            let cl = Classification(c, workers: max(1, o.dataCores.count))
            o.classification = cl
            let base = cl.tables.current(worker: 0).pointee.base
            let form = base.tree.map { String(format: "a tree of %d node%@ in %d tree%@, %.1f MB", $0.nodeCount, $0.nodeCount == 1 ? "" : "s",
                                               $0.treeCount, $0.treeCount == 1 ? "" : "s", Double($0.tableBytes) / 1e6) }
                ?? "bit-vector tables (the rules need more than 256 key entries for a tree)"
            progress("classifying against \(c.rules.count) rules from \(r.path) (\(r.policy.rawValue)): "
                     + form + String(format: ", compiled in %.0f ms", Date().timeIntervalSince(t0) * 1000)
                     + (o.dropUnmatched ? ", dropping unmatched packets" : ""))
        }
        if xdp {
            return try runAFXDP(o, seconds: seconds, stop: stop, ready: ready, progress: progress)
        }
        return try runAFPacket(o, seconds: seconds, stop: stop, ready: ready, progress: progress)
    }

    /// The rules every worker classifies against, published as one table.
    final class Classification: @unchecked Sendable {
        let live: LiveClassifier
        var tables: TablePublisher<ClassifierTables> { live.tables }
        let flows: [FlowCounters]
        init(_ c: Classifier, workers: Int) {
            live = LiveClassifier(c, workers: workers)
            flows = (0..<workers).map { _ in FlowCounters(capacity: 65536) }
        }
    }

    // MARK: - AF_XDP

    static func runAFXDP(_ o: Options, seconds: Double?, stop: StopFlag, ready: (@Sendable () -> Void)?, progress: @escaping (String) -> Void) throws -> Report {
        guard geteuid() == 0 else { throw Failure("AF_XDP ports need root (CAP_NET_ADMIN, CAP_BPF, CAP_NET_RAW)") }
        var attachedHere: [String] = []
        var notes: [String] = []
        // Attach Bowman's program where it is not yet, and detach on every exit path.
        defer { for i in attachedHere { _ = try? XDPProgram.detach(interface: i) } }
        let workers = max(1, o.dataCores.count)
        for ifc in Set(o.ports.map(\.interface)).sorted() {
            let queues = XDPProgram.receiveQueueCount(ifc)
            for case .afXDP(let i, let q) in o.ports where i == ifc && Int(q) + workers > queues {
                throw Failure(workers == 1
                    ? "\(i) has \(queues) receive queue\(queues == 1 ? "" : "s"); queue \(q) is out of range"
                    : "\(i) has \(queues) receive queue\(queues == 1 ? "" : "s"); \(workers) workers from queue \(q) need \(Int(q) + workers)")
            }
            let progs = try XDPProgram.programs(on: ifc)
            if !progs.contains(where: { $0.name == XDPProgram.name }) {
                let r = try XDPProgram.attach(interface: ifc, mode: o.xdpMode, passHostAddresses: o.passHostAddresses)
                attachedHere.append(ifc)
                notes.append(r.description)
            }
        }
        var umemConfig = XSKUmem.Configuration()
        umemConfig.ringSize = o.ringSize
        umemConfig.zeroCopy = o.zeroCopy
        umemConfig.needWakeup = o.needWakeup
        umemConfig.busyPollMicroseconds = o.busyPollMicroseconds
        var rigs: [AFXDPRig] = []
        defer { for r in rigs { r.closeAll() } }
        for w in 0..<workers {
            // Worker w: queue Q+w of each interface, its own pool and UMEM on its core's node.
            var ow = o
            ow.workerIndex = w
            ow.ports = o.ports.map { p in
                if case .afXDP(let i, let q) = p { return .afXDP(interface: i, queue: q + UInt32(w)) }
                return p
            }
            let core = o.dataCores[w]
            let node = core.flatMap { NUMA.node(ofCPU: $0.rawValue) } ?? NUMA.node(ofInterface: o.ports[0].interface) ?? 0
            let rig = try AFXDPRig(options: ow, numaNode: node, umemConfig: umemConfig)
            rigs.append(rig)
            for (k, spec) in ow.ports.enumerated() {
                guard case .afXDP(let i, let q) = spec else { continue }
                let maps = try XDPMaps(directory: XDPProgram.pinDirectory(i))
                let (fd, port, zc, why) = rig.portInfo(k)
                try maps.setSocket(queue: q, fd: fd)
                rig.maps.append((maps, q))
                notes.append("\(port): \(zc ? "zero-copy" : "copy mode")\(why.map { " (\($0))" } ?? ""), "
                             + "frames on NUMA node \(rig.poolNode), worker \(w) on cpu \(core?.rawValue ?? -1)")
            }
        }
        for n in notes { progress(n) }
        return try drive(rigs, o, seconds: seconds, stop: stop, ready: ready, progress: progress, notes: notes)
    }

    // MARK: - AF_PACKET (TPACKET_V3 rx ring, sendmmsg tx)

    static func runAFPacket(_ o: Options, seconds: Double?, stop: StopFlag, ready: (@Sendable () -> Void)?, progress: @escaping (String) -> Void) throws -> Report {
        guard geteuid() == 0 else { throw Failure("AF_PACKET ports need root (CAP_NET_RAW)") }
        var o = o
        if o.dataCores.count > 1 && o.fanoutGroup == nil {
            // Several workers on the same interfaces: one fanout group, flows split by hash.
            o.fanoutGroup = Int32(getpid() & 0x7FFF)
        }
        let rigs = try o.dataCores.indices.map { w in
            var ow = o
            ow.workerIndex = w
            return try PacketRig(options: ow)
        }
        let notes = o.dataCores.count > 1 ? ["\(o.dataCores.count) workers share each interface through PACKET_FANOUT group \(o.fanoutGroup!) (hash)"] : []
        for n in notes { progress(n) }
        return try drive(rigs, o, seconds: seconds, stop: stop, ready: ready, progress: progress, notes: notes)
    }

    // MARK: - Running a rig

    /// Runs one worker thread per rig (pinned to its data core) until told to
    /// stop, printing summed rates; then stops, joins and closes them all.
    /// (Management-core code: the rigs are an existential here, never on
    /// the data path.)
    static func drive(_ rigs: [any RigProtocol], _ o: Options, seconds: Double?, stop: StopFlag,
                      ready: (@Sendable () -> Void)?, progress: @escaping (String) -> Void, notes: [String]) throws -> Report {
        let start = Date()
        var threads: [PinnedThread] = []
        for (w, rig) in rigs.enumerated() {
            threads.append(try PinnedThread(name: "bowman-w\(w)", core: w < o.dataCores.count ? o.dataCores[w] : nil) { rig.runWorker() })
        }
        ready?()
        let summed = { rigs.map { $0.stats.snapshot() }.reduce(WorkerStats.Snapshot.zero, +) }
        var last = summed(), lastTime = start
        while !stop.isSet {
            if let s = seconds, Date().timeIntervalSince(start) >= s { break }
            Thread.sleep(forTimeInterval: 0.05)
            if let r = o.reload, r.isSet, let rules = o.rules, let cl = o.classification {
                r.clear()
                // Rules change without stopping traffic: the new set is
                // published at once as changes on the running tables (one
                // pointer store), compiled in the background; a bad file
                // leaves the running tables.
                do {
                    let c = try Classify.load(rules: rules.path, format: rules.format, policy: rules.policy)
                    cl.live.replace(with: c)
                    progress(String(format: "rules reloaded: %d rules, published in %.3f ms; compiling them in the background", c.rules.count,
                                    Double(cl.live.lastPublishNanoseconds) / 1e6))
                } catch {
                    progress("rules not reloaded, the running table stays: \(error)")
                }
            }
            o.classification?.live.reclaim()
            if let f = o.countFile { writeCount(f, summed().rxPackets) }
            let now = Date()
            if now.timeIntervalSince(lastTime) >= o.statsInterval {
                let s = summed()
                let dt = now.timeIntervalSince(lastTime)
                progress(String(format: "  rx %10.0f pps  tx %10.0f pps  dropped %llu  tx-full %llu",
                                Double(s.rxPackets - last.rxPackets) / dt, Double(s.txPackets - last.txPackets) / dt,
                                s.dropped, s.txFull))
                last = s; lastTime = now
            }
        }
        let elapsed = Date().timeIntervalSince(start)
        for r in rigs { r.stopFlag.set() }
        for t in threads { t.join() }
        for r in rigs { r.closeAll() }
        let total = summed()
        if let cl = o.classification {
            var perFlow: [Int: UInt64] = [:]
            var unmatched: UInt64 = 0
            for f in cl.flows {
                for d in 0..<f.capacity { let n = f.count(d); if n > 0 { perFlow[d, default: 0] += n } }
                unmatched += f.unmatched.load(ordering: .relaxed)
            }
            progress("flows: " + perFlow.keys.sorted().prefix(32).map { "\($0): \(perFlow[$0]!)" }.joined(separator: ", ")
                     + (perFlow.count > 32 ? ", ..." : "") + "; unmatched \(unmatched)")
        }
        if let f = o.countFile { writeCount(f, total.rxPackets) }
        let audit = rigs.map { $0.audit() }.reduce(FramePool.Audit(total: 0, free: 0, inFlight: 0)) { a, b in
            FramePool.Audit(total: a.total + b.total, free: a.free + b.free, inFlight: a.inFlight + b.inFlight,
                            duplicatedFree: a.duplicatedFree + b.duplicatedFree, freeButReferenced: a.freeButReferenced + b.freeButReferenced,
                            lost: a.lost + b.lost, invalidReleases: a.invalidReleases + b.invalidReleases)
        }
        return Report(seconds: elapsed, stats: total, audit: audit, portNotes: notes, workers: rigs.count)
    }
}

/// Replaces `path` with the count for the benchmark harness: write a
/// temporary, then rename (a reader never sees a half-written number), with
/// plain open/write/close as the C references do (Foundation's file writing
/// adds an fsync and extended attributes: ~0.3 ms a time, charged to
/// Bowman's CPU).
func writeCount(_ path: String, _ n: UInt64) {
    let tmp = path + ".tmp"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { return }
    let text = Array("\(n)\n".utf8)
    let ok = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == text.count
    close(fd)
    if ok { rename(tmp, path) }
}

protocol RigProtocol: AnyObject, Sendable {
    var stats: WorkerStats { get }
    var stopFlag: StopFlag { get }
    func runWorker()
    func closeAll()
    func audit() -> FramePool.Audit
}

/// Owns the pool, ports and function of one AF_XDP worker (a class so the
/// worker thread and the management thread can hand it over; only one of
/// them touches it at a time: set-up, run, tear-down).
final class AFXDPRig: RigProtocol, @unchecked Sendable {
    var pool: FramePool
    let umem: XSKUmem
    var a: AFXDPPort?
    var b: AFXDPPort?
    var maps: [(XDPMaps, UInt32)] = []
    let options: DataPlane.Options
    let stats = WorkerStats()
    let stopFlag = StopFlag()
    let poolNode: Int
    var closed = false

    init(options o: DataPlane.Options, numaNode: Int, umemConfig: XSKUmem.Configuration) throws {
        options = o
        pool = try FramePool.onNUMANode(numaNode, frameSize: 2048, frameCount: o.frameCount)
        poolNode = pool.numaNode
        umem = try XSKUmem(pool: pool, configuration: umemConfig)
        guard case .afXDP(let i0, let q0) = o.ports[0] else { throw DataPlane.Failure("not an af_xdp port") }
        // A worker that only drops opens receive-only sockets.
        let transmit = o.forward != .drop
        a = try AFXDPPort(interface: i0, queue: q0, umem: umem, pool: &pool, transmit: transmit)
        if o.ports.count > 1, case .afXDP(let i1, let q1) = o.ports[1] {
            b = try AFXDPPort(interface: i1, queue: q1, umem: umem, pool: &pool, transmit: transmit)
        }
    }

    func runWorker() { runPorts(&a, &b, options, &pool, stats, stopFlag) }

    /// Socket, name, zero-copy and copy-mode reason of port k (0 or 1).
    func portInfo(_ k: Int) -> (Int32, String, Bool, String?) {
        if k == 0 {
            return (a?.socketDescriptor ?? -1, a?.name ?? "", a?.zeroCopy ?? false, a?.copyModeReason ?? nil)
        }
        return (b?.socketDescriptor ?? -1, b?.name ?? "", b?.zeroCopy ?? false, b?.copyModeReason ?? nil)
    }

    func closeAll() {
        guard !closed else { return }
        closed = true
        for (m, q) in maps { m.clearSocket(queue: q) }
        a?.close(returningFramesTo: &pool)
        b?.close(returningFramesTo: &pool)
    }

    func audit() -> FramePool.Audit { pool.audit() }
}

final class PacketRig: RigProtocol, @unchecked Sendable {
    var pool: FramePool
    var a: TPacketV3Port?
    var b: TPacketV3Port?
    let options: DataPlane.Options
    let stats = WorkerStats()
    let stopFlag = StopFlag()

    init(options o: DataPlane.Options) throws {
        options = o
        pool = try FramePool.onNUMANode(0, frameSize: 2048, frameCount: o.frameCount)
        do {
            a = try TPacketV3Port(interface: o.ports[0].interface, fanoutGroup: o.fanoutGroup)
            if o.ports.count > 1 { b = try TPacketV3Port(interface: o.ports[1].interface, fanoutGroup: o.fanoutGroup) }
        } catch {
            throw DataPlane.Failure("cannot open an AF_PACKET TPACKET_V3 ring: \(error)")
        }
    }

    func runWorker() { runPorts(&a, &b, options, &pool, stats, stopFlag) }

    func closeAll() {}
    func audit() -> FramePool.Audit { pool.audit() }
}

/// Runs a rig's worker: its one or two ports (a missing second port is a
/// `NullPort`) are moved out of the rig for the run and back after.
func runPorts<P: PacketPort & ~Copyable>(_ a: inout P?, _ b: inout P?, _ o: DataPlane.Options, _ pool: inout FramePool,
                                         _ stats: WorkerStats, _ stop: StopFlag) {
    var pa = a.take()!
    if var pb = b.take() {
        runFunction(o, &pa, &pb, &pool, stats, stop)
        b = consume pb
    } else {
        var none = NullPort()
        runFunction(o, &pa, &none, &pool, stats, stop)
    }
    a = consume pa
}

/// Picks the forwarding function once; the worker loop is specialised for it.
func runFunction<A: PacketPort & ~Copyable, B: PacketPort & ~Copyable>(
    _ o: DataPlane.Options, _ a: inout A, _ b: inout B, _ pool: inout FramePool, _ stats: WorkerStats, _ stop: StopFlag
) {
    switch o.forward {
    case .drop: run(DropFunction())
    case .reflect: run(ReflectFunction())
    case .l2fwd:
        let f = L2ForwardFunction(rewrite: (0..<2).map { k in
            (source: nil, destination: k < o.nextHopMACs.count ? o.nextHopMACs[k] : nil)
        })
        run(f)
    }

    /// With rules, the function runs behind the classifier stage.
    func run<F: ForwardingFunction>(_ f: F) {
        if let cl = o.classification {
            var c = ClassifyFunction(tables: cl.tables, worker: o.workerIndex, flows: cl.flows[o.workerIndex],
                                     dropUnmatched: o.dropUnmatched, then: f)
            Worker.run(&a, &b, function: &c, pool: &pool, idle: o.idle, stats: stats, stop: stop)
            cl.tables.offline(worker: o.workerIndex)
        } else {
            var f = f
            Worker.run(&a, &b, function: &f, pool: &pool, idle: o.idle, stats: stats, stop: stop)
        }
    }
}
