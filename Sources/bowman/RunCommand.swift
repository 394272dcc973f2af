import ArgumentParser
import Foundation
import Bowman
import BowmanClassifier
import BowmanCore
import BowmanIO
import BowmanPipeline
import BowmanSystem

/// Set by SIGINT/SIGTERM; an atomic store is async-signal-safe.
let signalStop = StopFlag()
/// Set by SIGHUP: reload the rules.
let signalReload = StopFlag()

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the data plane: ports, one pinned worker, a forwarding function.",
        discussion: """
        Ports: af_xdp:IF:QUEUE (Bowman's XDP program is attached to IF if it is not already, and \
        detached again on exit, SIGINT or SIGTERM) or af_packet:IF (a TPACKET_V3 ring; --fanout to share \
        the interface across runs). Example:
          bowman run --port af_xdp:eth1:0 --port af_xdp:eth2:0 --forward l2fwd --cores 1
        """)

    @Option(help: "Run a node from this config file (YAML; docs/configuration.md): console, metrics, reload on SIGHUP. Excludes the other options.")
    var config: String?
    @Option(name: .customLong("port"), help: "A port (repeat: two for l2fwd, any number for router).") var ports: [String] = []
    @Option(help: "drop, l2fwd, reflect or router.") var forward: String = "l2fwd"
    @Option(help: "router: follow a Linux routing table (kernel = main, or kernel:TABLE).") var fib: String?
    @Option(help: "router: routes from this file (prefix GATEWAY%INTERFACE | INTERFACE | blackhole | unreachable | prohibit).")
    var routes: String?
    @Option(help: "router: follow the routing manager's route table NAME (filled by (calculate TOPOLOGY NAME)); needs --manage.")
    var routeTable: String?
    @Option(help: "router: run the ALM (UDP 9998), ATM (9999) and routing manager (9990) on this address.") var manage: String?
    @Option(help: "router: a name this node answers to in ALP messages (repeatable; its addresses always are).") var identity: [String] = []
    @Option(help: "Data cores, one worker each (af_xdp: worker i serves queue Q+i; af_packet: workers share by PACKET_FANOUT).")
    var cores: Int = 1
    @Option(help: "CPU of the first data core (default: the last CPUs this process may use; the management thread keeps the others).")
    var core: Int32?
    @Option(help: "XDP attach mode when Bowman attaches its program: native, generic, offload.") var xdpMode: String = "native"
    @Flag(help: "Ask for copy mode instead of trying zero-copy.") var copy = false
    @Flag(help: "Do not use need_wakeup (the kernel is kicked on every burst).") var noNeedWakeup = false
    @Option(help: "SO_BUSY_POLL microseconds for preferred busy polling (0 off).") var busyPoll: Int32 = 0
    @Option(help: "SO_BUSY_POLL_BUDGET: packets one busy poll may process (with --busy-poll).") var busyBudget: Int32 = 64
    @Option(help: "Idle policy: spin, or poll (sleep in poll(2) as soon as a round finds nothing).") var idle: String = "poll"
    @Option(help: "Frames in the pool.") var frames: Int = 16384
    @Option(help: "PACKET_FANOUT group (hash) for af_packet ports, to share an interface across runs.") var fanout: Int32?
    @Option(help: "Classify every packet against these rules before forwarding (per-flow counts; SIGHUP reloads).")
    var rules: String?
    @Option(help: "Rule file format: odyssey or classbench.") var rulesFormat: String = "odyssey"
    @Option(help: "Match policy: most-predicates or first-match (default: by format).") var policy: String?
    @Flag(help: "Drop packets no rule matches.") var dropUnmatched = false
    @Flag(help: "Benchmark mode: do not pass the host's own addresses to the kernel (every IP packet goes to Bowman).")
    var noHostPass = false
    @Option(help: "Next-hop MAC for packets leaving port N (repeat in port order; l2fwd).") var nextHop: [String] = []
    @Option(help: "Capture a port's packets into this pcap file while running (see --capture-port, --capture-point, --capture-filter).")
    var capture: String?
    @Option(help: "The port to capture: index, spec or interface.") var capturePort: String = "0"
    @Option(help: "rx: as received, before the forwarding function; tx: as sent.") var capturePoint: String = "rx"
    @Option(help: "A tcpdump expression or an Odyssey filter [ ... ] for --capture.") var captureFilter: String = ""
    @Option(name: [.customShort("d"), .long], help: "Stop after this many seconds (default: until SIGINT/SIGTERM).") var seconds: Double?
    @Option(name: [.customShort("c"), .customLong("count-file")],
            help: "Write the received-packet count to this file every 100 ms (for ../shared/perf/measure.py).") var countFile: String?

    func run() throws {
        if let config {
            guard ports.isEmpty, rules == nil, fib == nil, routes == nil, manage == nil else {
                throw ValidationError("--config names everything; give the ports, rules and routes in the file")
            }
            try NodeCommand.run(config: config, seconds: seconds)
            return
        }
        var o = DataPlane.Options()
        do {
            o.ports = try ports.map { try PortSpec(parsing: $0) }
        } catch {
            throw ValidationError("\(error)")
        }
        guard let f = ForwardMode(rawValue: forward) else { throw ValidationError("--forward must be drop, l2fwd, reflect or router") }
        o.forward = f
        if [fib, routes, routeTable].compactMap({ $0 }).count > 1 { throw ValidationError("give one of --fib, --routes, --route-table") }
        if (fib != nil || routes != nil || routeTable != nil) && f != .router {
            throw ValidationError("--fib, --routes and --route-table are for --forward router")
        }
        if (routeTable == nil) != (manage == nil) { throw ValidationError("--route-table and --manage go together") }
        if let routeTable, let manage {
            guard let a = IPAddress(manage) else { throw ValidationError("--manage: '\(manage)' is not an IPv4 or IPv6 address") }
            o.routeSource = .manager(address: a, table: routeTable, identity: identity)
        }
        if let fib {
            guard let t = KernelFIB.parseSource(fib) else { throw ValidationError("--fib wants kernel or kernel:TABLE, not '\(fib)'") }
            o.routeSource = .kernel(table: t)
        }
        if let routes { o.routeSource = .file(routes) }
        if f == .router && o.routeSource == nil { throw ValidationError("--forward router needs --fib kernel[:TABLE], --routes FILE or --route-table NAME --manage ADDRESS") }
        guard cores >= 1 else { throw ValidationError("--cores must be at least 1") }
        guard let m = XDPAttachMode(rawValue: xdpMode) else { throw ValidationError("--xdp-mode must be native, generic or offload") }
        o.xdpMode = m
        o.zeroCopy = !copy
        o.needWakeup = !noNeedWakeup
        o.busyPollMicroseconds = busyPoll
        o.busyPollBudget = busyBudget
        switch idle {
        case "spin": o.idle = .spin
        case "poll": o.idle = .poll(emptyPolls: 1, milliseconds: 100)
        default: throw ValidationError("--idle must be spin or poll")
        }
        guard frames >= 256 else { throw ValidationError("--frames must be at least 256") }
        o.frameCount = frames
        o.nextHopMACs = try nextHop.map { t in
            guard let mac = MACAddress(t) else { throw ValidationError("--next-hop '\(t)' is not a MAC address") }
            return mac
        }
        // The data core is the last CPU we may use (or --core); the management
        // thread, and everything it starts later, keeps the others.
        let allowed = Affinity.allowedCPUs
        var data: [CoreID]
        if let c = core {
            data = (0..<Int32(cores)).map { CoreID(c + $0) }
        } else {
            data = Array(allowed.suffix(cores))
            while data.count < cores { data.append(data.last ?? CoreID(0)) }   // more workers than CPUs: they share
        }
        for d in data where !allowed.isEmpty && !allowed.contains(d) {
            throw ValidationError("CPU \(d.rawValue) is not among the CPUs this process may use: \(allowed.map(\.rawValue))")
        }
        o.dataCores = data
        let management = allowed.filter { !data.contains($0) }
        if !management.isEmpty {
            try? Affinity.restrictCurrentThread(to: management)
        } else if cores > 1 {
            print("note: every CPU runs a worker; the management thread shares one with a worker")
        }
        o.countFile = countFile
        o.passHostAddresses = !noHostPass
        o.fanoutGroup = fanout

        if let r = rules {
            let (f, p): (Classify.Format, MatchPolicy)
            do { (f, p) = try Classify.options(format: rulesFormat, policy: policy) } catch { throw ValidationError("\(error)") }
            o.rules = (r, f, p)
            o.dropUnmatched = dropUnmatched
            o.reload = signalReload
        }
        var services: CaptureService?
        if let capture {
            guard let point = Captures.Point(rawValue: capturePoint) else { throw ValidationError("--capture-point must be rx or tx") }
            let path = capture.hasPrefix("/") ? capture : FileManager.default.currentDirectoryPath + "/" + capture
            services = CaptureService(port: capturePort, point: point, file: path, filter: captureFilter) { print($0) }
        }
        Signals.unblockTermination()
        Signals.route(stop: signalStop, reload: signalReload)
        do {
            let report = try DataPlane.run(o, seconds: seconds, stop: signalStop, services: services) { print($0) }
            print("bowman run: \(report)")
            if !report.audit.isConsistent { printError("bowman run: frame accounting is inconsistent"); throw ExitCode(1) }
        } catch let e as ExitCode {
            throw e
        } catch {
            printError("bowman run: \(error)")
            throw ExitCode(1)
        }
    }
}
