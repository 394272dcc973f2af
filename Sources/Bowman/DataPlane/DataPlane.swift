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
        /// SO_BUSY_POLL_BUDGET (packets a busy poll may process), with busy polling.
        public var busyPollBudget: Int32 = 64
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
        /// Where the router's routes come from (forward mode `router`).
        public var routeSource: RouteSource?
        var classification: Classification?
        var router: RouterWiring?
        /// One capture tap per worker (a capture arms them; idle they cost a load per burst).
        var captureTaps: [CaptureTap] = []
        /// Flows: their filters as the classifier's rules (demux id = flow
        /// index) and the stages bound at their slots (instead of `rules`).
        public var flows: (classifier: Classifier, program: FlowProgram)?
        /// Each worker's state for the flows' stages.
        var stageStates: [FlowStageState] = []
        public init() {}

        /// Where worker `w`'s frames live: its data core's NUMA node, else
        /// the first port's NIC's, else node 0.
        func numaNode(worker w: Int) -> Int {
            let core = w < dataCores.count ? dataCores[w] : nil
            return core.flatMap { NUMA.node(ofCPU: $0.rawValue) } ?? NUMA.node(ofInterface: ports[0].interface) ?? 0
        }

        /// What worker `w`'s rig runs.
        func rigSettings(worker w: Int) -> RigSettings {
            var s = RigSettings()
            s.forward = forward
            s.nextHopMACs = nextHopMACs
            s.idle = idle
            s.frameCount = frameCount
            s.classification = classification
            s.dropUnmatched = dropUnmatched
            s.workerIndex = w
            s.router = router
            s.capture = w < captureTaps.count ? captureTaps[w] : nil
            if let f = flows, w < stageStates.count { s.stages = (f.program, stageStates[w]) }
            return s
        }
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var seconds: Double
        public var stats: WorkerStats.Snapshot
        public var audit: FramePool.Audit
        public var portNotes: [String]
        public var workers: Int = 1
        /// The router's counters (forward mode `router`).
        public var router: String?
        /// The kernel's counters per port (AF_XDP: XDP_STATISTICS), a line each.
        public var kernel: [String] = []
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
                           ready: (@Sendable () -> Void)? = nil, services: (any NodeServices)? = nil,
                           progress: @escaping (String) -> Void) throws -> Report {
        guard !o.ports.isEmpty else { throw Failure("give at least one --port") }
        guard o.forward == .router || o.ports.count <= 2 else { throw Failure("\(o.forward.rawValue) serves one or two ports (a router any number)") }
        guard o.ports.count < Int(Burst.dropEgress) else { throw Failure("a worker serves at most 254 ports") }
        if o.forward == .l2fwd && o.ports.count != 2 { throw Failure("l2fwd needs two ports") }
        if o.forward == .router && o.routeSource == nil { throw Failure("the router needs routes: --fib kernel[:TABLE] or --routes FILE") }
        let xdp = o.ports.allSatisfy { if case .afXDP = $0 { true } else { false } }
        let packet = o.ports.allSatisfy { if case .afPacket = $0 { true } else { false } }
        let pcap = o.ports.allSatisfy(\.isPcap)
        guard xdp || packet || pcap else {
            throw Failure("one worker serves ports of one kind: af_xdp, af_packet, or pcap in and pcap-out (mixing kinds is not supported yet)")
        }
        if Set(o.ports.map(\.interface)).count != o.ports.count { throw Failure("a port is given twice: \(o.ports.map(\.description))") }
        if pcap {
            guard o.ports.count == 2, case .pcapIn = o.ports[0], case .pcapOut = o.ports[1] else {
                throw Failure("a pcap run takes --port pcap:IN.pcap then --port pcap-out:OUT.pcap")
            }
            guard o.forward == .l2fwd || o.forward == .drop else {
                throw Failure("\(o.forward.rawValue) over pcap ports is not supported (l2fwd and drop are; \(o.forward == .router ? "the router needs interfaces" : "a replay cannot transmit"))")
            }
            guard o.dataCores.count <= 1 else { throw Failure("a pcap run has one worker") }
        }
        for p in o.ports where !p.isPcap && (try? NetworkNamespace.interfaceIndex(p.interface)) == nil { throw Failure("no such interface: \(p.interface)") }

        var o = o
        o.captureTaps = (0..<max(1, o.dataCores.count)).map { _ in CaptureTap() }
        if o.rules != nil || o.flows != nil {
            let c: Classifier
            let source: String
            if let f = o.flows {
                c = f.classifier
                source = "the config's \(c.rules.count) flow\(c.rules.count == 1 ? "" : "s")"
                o.stageStates = (0..<max(1, o.dataCores.count)).map { _ in FlowStageState(f.program) }
            } else {
                let r = o.rules!
                c = try Classify.load(rules: r.path, format: r.format, policy: r.policy)
                source = r.path
            }
            let t0 = Date()
            let cl = Classification(c, workers: max(1, o.dataCores.count))
            o.classification = cl
            let base = cl.tables.current(worker: 0).pointee.base
            let form = base.tree.map { String(format: "a tree of %d node%@ in %d tree%@, %.1f MB", $0.nodeCount, $0.nodeCount == 1 ? "" : "s",
                                               $0.treeCount, $0.treeCount == 1 ? "" : "s", Double($0.tableBytes) / 1e6) }
                ?? "bit-vector tables (the rules need more than 256 key entries for a tree)"
            progress("classifying against \(c.rules.count) rules from \(source) (\(c.policy.rawValue)): "
                     + form + String(format: ", compiled in %.0f ms", Date().timeIntervalSince(t0) * 1000)
                     + (o.dropUnmatched ? ", dropping unmatched packets" : ""))
        }
        var control: RouterControl?
        if o.forward == .router, let source = o.routeSource {
            let c = try RouterControl(source: source, interfaces: o.ports.map(\.interface), workers: max(1, o.dataCores.count))
            c.onAnswer = { progress("routing manager: \($0)") }
            o.router = RouterWiring(routes: c.routes, tables: c.publisher, punts: c.punts, counters: c.counters)
            control = c
            progress("routing with \(c.routes.count) routes from \(source) over \(o.ports.count) ports")
        }
        if pcap {
            return try runPcap(o, seconds: seconds, stop: stop, ready: ready, progress: progress, services: services)
        }
        if xdp {
            return try runAFXDP(o, seconds: seconds, stop: stop, ready: ready, progress: progress, control: control, services: services)
        }
        return try runAFPacket(o, seconds: seconds, stop: stop, ready: ready, progress: progress, control: control, services: services)
    }

    // MARK: - AF_XDP

    static func runAFXDP(_ o: Options, seconds: Double?, stop: StopFlag, ready: (@Sendable () -> Void)?, progress: @escaping (String) -> Void,
                         control: RouterControl?, services: (any NodeServices)?) throws -> Report {
        guard CurrentProcess.isRoot else { throw Failure("AF_XDP ports need root (CAP_NET_ADMIN, CAP_BPF, CAP_NET_RAW)") }
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
        umemConfig.busyPollBudget = o.busyPollBudget
        var rigs: [AFXDPRig] = []
        defer { for r in rigs { r.closeAll() } }
        for w in 0..<workers {
            // Worker w: queue Q+w of each interface, its own pool and UMEM on its core's node.
            let ports = o.ports.compactMap { p -> (interface: String, queue: UInt32)? in
                if case .afXDP(let i, let q) = p { return (i, q + UInt32(w)) }
                return nil
            }
            let core = o.dataCores[w]
            let rig = try AFXDPRig(ports: ports, settings: o.rigSettings(worker: w), numaNode: o.numaNode(worker: w), umemConfig: umemConfig)
            rigs.append(rig)
            for (k, (i, q)) in ports.enumerated() {
                let maps = try XDPMaps(directory: XDPProgram.pinDirectory(i))
                let (fd, port, zc, why) = rig.portInfo(k)
                try maps.setSocket(queue: q, fd: fd)
                rig.maps.append((maps, q))
                notes.append("\(port): \(zc ? "zero-copy" : "copy mode")\(why.map { " (\($0))" } ?? ""), "
                             + "frames on NUMA node \(rig.poolNode), worker \(w) on cpu \(core?.rawValue ?? -1)")
            }
        }
        for n in notes { progress(n) }
        return try drive(rigs, o, seconds: seconds, stop: stop, ready: ready, progress: progress, notes: notes, control: control,
                         services: services, attached: attachedHere)
    }

    // MARK: - pcap in, pcap out

    /// A capture through the forwarding function into a capture, until the
    /// replay ends (or `seconds`, or `stop`).
    static func runPcap(_ o: Options, seconds: Double?, stop: StopFlag, ready: (@Sendable () -> Void)?,
                        progress: @escaping (String) -> Void, services: (any NodeServices)?) throws -> Report {
        let rig: PcapRig
        do {
            rig = try PcapRig(input: o.ports[0].interface, output: o.ports[1].interface, settings: o.rigSettings(worker: 0))
        } catch {
            throw Failure("\(error)")
        }
        var r = try drive([rig], o, seconds: seconds, stop: stop, ready: ready, progress: progress, notes: [], services: services,
                          finished: rig.finished)
        let c = rig.counts
        let line = "pcap: replayed \(c.replayed) packets from \(o.ports[0].interface)\(c.truncated > 0 ? " (\(c.truncated) cut to 2048 bytes)" : ""), "
            + "wrote \(c.written) to \(o.ports[1].interface)" + (c.readError.map { "; the replay stopped early: \($0)" } ?? "")
        progress(line)
        r.portNotes.append(line)
        return r
    }

    // MARK: - AF_PACKET (TPACKET_V3 rx ring, sendmmsg tx)

    static func runAFPacket(_ o: Options, seconds: Double?, stop: StopFlag, ready: (@Sendable () -> Void)?, progress: @escaping (String) -> Void,
                            control: RouterControl?, services: (any NodeServices)?) throws -> Report {
        guard CurrentProcess.isRoot else { throw Failure("AF_PACKET ports need root (CAP_NET_RAW)") }
        var o = o
        if o.dataCores.count > 1 && o.fanoutGroup == nil {
            // Several workers on the same interfaces: one fanout group, flows split by hash.
            o.fanoutGroup = CurrentProcess.id & 0x7FFF
        }
        let rigs = try o.dataCores.indices.map { w in
            try PacketRig(interfaces: o.ports.map(\.interface), fanoutGroup: o.fanoutGroup, settings: o.rigSettings(worker: w),
                          numaNode: o.numaNode(worker: w))
        }
        var notes = rigs.enumerated().map { w, r in "worker \(w): frames on NUMA node \(r.poolNode), cpu \(o.dataCores[w]?.rawValue ?? -1)" }
        if o.dataCores.count > 1 { notes.append("\(o.dataCores.count) workers share each interface through PACKET_FANOUT group \(o.fanoutGroup!) (hash)") }
        for n in notes { progress(n) }
        return try drive(rigs, o, seconds: seconds, stop: stop, ready: ready, progress: progress, notes: notes, control: control,
                         services: services)
    }

    // MARK: - Running a rig

    /// Runs one worker thread per rig (pinned to its data core) until told to
    /// stop, printing summed rates; then stops, joins and closes them all.
    /// (Management-core code: the rigs are an existential here, never on
    /// the data path.)
    static func drive(_ rigs: [any Rig], _ o: Options, seconds: Double?, stop: StopFlag,
                      ready: (@Sendable () -> Void)?, progress: @escaping (String) -> Void, notes: [String],
                      control: RouterControl? = nil, services: (any NodeServices)? = nil, attached: [String] = [],
                      finished: StopFlag? = nil) throws -> Report {
        let start = Date()
        var threads: [PinnedThread] = []
        for (w, rig) in rigs.enumerated() {
            let core = w < o.dataCores.count ? o.dataCores[w] : nil
            do {
                threads.append(try PinnedThread(name: "bowman-w\(w)", core: core) { rig.runWorker() })
            } catch {
                // Nothing runs unpinned: stop the workers already started.
                for r in rigs { r.stopFlag.set() }
                for t in threads { t.join() }
                for r in rigs { r.closeAll() }
                throw Failure("cannot " + (core.map { "pin worker \(w) to CPU \($0.rawValue)" } ?? "start worker \(w)") + ": \(error)")
            }
        }
        let summed = { rigs.map { $0.stats.snapshot() }.reduce(WorkerStats.Snapshot.zero, +) }
        if let services {
            services.started(RunningDataPlane(options: o, stats: rigs.map(\.stats), control: control, notes: notes, attached: attached))
        }
        defer { services?.stopping() }
        ready?()
        var last = summed(), lastTime = start, lastCount = Date.distantPast
        while !stop.isSet {
            if let s = seconds, Date().timeIntervalSince(start) >= s { break }
            if let f = finished, f.isSet { break }   // the input has ended (a replay), all it gave sent
            if let s = services {
                control?.service(milliseconds: 5)
                s.service(milliseconds: 45)
            } else if let c = control {
                c.service(milliseconds: 50)
            } else {
                Thread.sleep(forTimeInterval: 0.05)
            }
            if let r = o.reload, r.isSet, let rules = o.rules, let cl = o.classification {
                r.clear()
                do {
                    progress(try reloadRules(cl, path: rules.path, format: rules.format, policy: rules.policy))
                } catch {
                    progress("rules not reloaded, the running table stays: \(error)")
                }
            }
            o.classification?.live.reclaim()
            let now = Date()
            if let f = o.countFile, now.timeIntervalSince(lastCount) >= 0.05 {
                writeCount(f, summed().rxPackets)
                lastCount = now
            }
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
        let kernel = rigs.flatMap { $0.kernelStatistics() }
        for r in rigs { r.closeAll() }
        kernel.forEach(progress)
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
        var routerSummary: String?
        if let c = control {
            c.service(milliseconds: 0)   // what the workers punted last
            routerSummary = c.summary()
            progress(routerSummary!)
        }
        let audit = rigs.map { $0.audit() }.reduce(FramePool.Audit(total: 0, free: 0, inFlight: 0)) { a, b in
            FramePool.Audit(total: a.total + b.total, free: a.free + b.free, inFlight: a.inFlight + b.inFlight,
                            duplicatedFree: a.duplicatedFree + b.duplicatedFree, freeButReferenced: a.freeButReferenced + b.freeButReferenced,
                            lost: a.lost + b.lost, invalidReleases: a.invalidReleases + b.invalidReleases)
        }
        return Report(seconds: elapsed, stats: total, audit: audit, portNotes: notes, workers: rigs.count, router: routerSummary, kernel: kernel)
    }
}

extension DataPlane {
    /// Rules change without stopping traffic: the new set is published at
    /// once as changes on the running tables (one pointer store), compiled
    /// in the background; a bad file throws and leaves the running tables.
    static func reloadRules(_ cl: Classification, path: String, format: Classify.Format, policy: MatchPolicy) throws -> String {
        let c = try Classify.load(rules: path, format: format, policy: policy)
        cl.live.replace(with: c)
        return String(format: "rules reloaded: %d rules, published in %.3f ms; compiling them in the background", c.rules.count,
                      Double(cl.live.lastPublishNanoseconds) / 1e6)
    }
}

/// What a node serves on the management thread beside the data plane
/// (the console, the metrics endpoint, reloads). `DataPlane.run` calls
/// `started` once the workers are up, `service` in its loop, `stopping`
/// before the workers stop. Management-thread code: an existential is
/// fine here, it is never on the data path.
public protocol NodeServices: AnyObject {
    func started(_ running: RunningDataPlane)
    /// Serves the management sockets, waiting at most `milliseconds`.
    func service(milliseconds: Int)
    func stopping()
}

/// A running data plane as the management services see it: each worker's
/// counters (read with relaxed loads, never written), the router's control
/// half, what the ports came up as.
public final class RunningDataPlane {
    public let options: DataPlane.Options
    public let stats: [WorkerStats]
    public let control: RouterControl?
    public let notes: [String]
    /// Interfaces Bowman attached its XDP program to for this run.
    public let attached: [String]
    public let startedAt = SystemClock.monotonicMilliseconds
    init(options: DataPlane.Options, stats: [WorkerStats], control: RouterControl?, notes: [String], attached: [String]) {
        self.options = options; self.stats = stats; self.control = control; self.notes = notes; self.attached = attached
    }
    public var classification: Classification? { options.classification }
    /// Each worker's capture tap.
    public var captureTaps: [CaptureTap] { options.captureTaps }
    /// Each worker's state for the flows' stages (empty without flows).
    public var stageStates: [FlowStageState] { options.stageStates }

    /// Loads rules again (or new ones) into the running classifier.
    public func reloadRules(path: String, format: Classify.Format, policy: MatchPolicy) throws -> String {
        guard let cl = options.classification else { throw DataPlane.Failure("the node runs without a classifier: it needs a restart to get one") }
        return try DataPlane.reloadRules(cl, path: path, format: format, policy: policy)
    }
}

/// The received-packet count for the benchmark harness (replaced whole, never half-written).
func writeCount(_ path: String, _ n: UInt64) { SmallFile.replace(path, with: Array("\(n)\n".utf8)) }
