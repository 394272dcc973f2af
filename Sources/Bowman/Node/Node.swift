import BowmanClassifier
import BowmanControl
import BowmanControlIO
import BowmanCore
import BowmanIO
import BowmanPacket
import BowmanPipeline
import BowmanRouting
import BowmanSystem

/// A Bowman node run from its config file: the data plane (`DataPlane`)
/// and, on the management thread beside it, the Hal console, the metrics
/// endpoint and reloads. `bowman run --config FILE` is this.
public final class Node: NodeServices {
    public private(set) var config: NodeConfig
    /// Lines for the log (swift-log in `bowman`, collected in tests).
    public let log: (String) -> Void
    public let registry = InfoRegistry()
    let reloadFlag: StopFlag?
    var hal: Hal?
    var console: StreamServer<HalSession>?
    var consoleLimits = HalSession.Limits()
    var metricsServer: StreamServer<ScrapeSession>?
    let metrics: NodeMetrics
    var running: RunningDataPlane?
    public private(set) var captures: Captures?
    /// The config's flows and their stages (nil without a flows section).
    public private(set) var flows: NodeFlows?
    /// GRASP, Bowman.ALM and shim-UDP (the config's grasp and shim-udp sections).
    var controlLoop: ManagementLoop?
    var shimEvents: [String] = []
    /// Counter values when `clear counters` was last given (the console shows the difference; metrics never go back).
    var baseline: [WorkerStats.Snapshot] = []
    /// Failed logins per address: (count, first at), for barring a guesser.
    var failedLogins: [IPAddress: (count: Int, since: UInt64)] = [:]
    public private(set) var lastReload = "none yet"
    /// `set log-level LEVEL` on the console: the log's owner (bowman's swift-log handler) follows it.
    public var onLogLevel: (NodeConfig.LogLevel) -> Void = { _ in }
    /// The routes and rules files as last loaded, to see an edit on reload.
    var namedTexts: (routes: String?, rules: String?) = (nil, nil)

    static func namedFileTexts(_ c: NodeConfig) -> (routes: String?, rules: String?) {
        var routes: String?
        if case .file(let p) = c.routes { routes = try? SysFS.read(p) }
        return (routes, c.rules.flatMap { try? SysFS.read($0.path) })
    }
    public private(set) var reloads = (applied: 0, refused: 0)

    /// Binds the console and metrics listeners now (a taken port fails here, before any worker starts).
    public init(config: NodeConfig, reload: StopFlag? = nil, log: @escaping (String) -> Void) throws {
        self.config = config
        self.log = log
        reloadFlag = reload
        metrics = NodeMetrics()
        namedTexts = Self.namedFileTexts(config)
        if !config.flows.isEmpty {
            let f = try NodeFlows(config, workers: config.dataCores?.count ?? config.cores)
            try f.openSamplers()
            flows = f
        }
        try startConsole(config.console)
        try startMetrics(config.metrics)
        try startControlPlane()
        registerStatic()
    }

    /// What `bowman check` says: every problem a start would meet in the
    /// files the config names (rules, routes, the console secret), without
    /// opening a socket or touching an interface. Empty when all is well.
    public static func check(_ c: NodeConfig) -> [String] {
        var problems: [String] = []
        if let r = c.rules {
            do { _ = try Classify.load(rules: r.path, format: r.format, policy: r.policy) } catch { problems.append("classifier.rules: \(error)") }
        }
        if case .file(let path) = c.routes {
            do {
                let text = try SysFS.read(path)
                _ = try RouteFile.routeLines(text, file: path)
            } catch {
                problems.append("routes.file: \(error)")
            }
        }
        if let k = c.console {
            do { _ = try SecretFile.read(k.secretFile) } catch { problems.append("console.secret-file: \(error)") }
        }
        for case .pcapIn(let p) in c.ports where !SysFS.isReadable(p) { problems.append("ports: cannot read \(p)") }
        return problems
    }


    /// The data plane's options from the config; cores resolved against
    /// the CPUs this process may use.
    public func dataPlaneOptions() throws -> DataPlane.Options {
        let c = config
        var o = DataPlane.Options()
        o.ports = c.ports
        o.forward = c.forward
        o.nextHopMACs = c.nextHops
        let allowed = Affinity.allowedCPUs
        if let d = c.dataCores {
            for cpu in d where !allowed.isEmpty && !allowed.contains(CoreID(cpu)) {
                throw DataPlane.Failure("\(c.file): node.data-cores: CPU \(cpu) is not among the CPUs this process may use: \(allowed.map(\.rawValue))")
            }
            o.dataCores = d.map { CoreID($0) }
        } else {
            var data = Array(allowed.suffix(c.cores))
            while data.count < c.cores { data.append(data.last ?? CoreID(0)) }
            o.dataCores = data
        }
        o.xdpMode = c.xdpMode
        o.zeroCopy = c.zeroCopy
        o.needWakeup = c.needWakeup
        o.busyPollMicroseconds = c.busyPoll
        o.busyPollBudget = c.busyBudget
        o.idle = c.idleSpin ? .spin : .poll(emptyPolls: 1, milliseconds: 100)
        o.frameCount = c.frames
        o.passHostAddresses = c.passHostAddresses
        if let r = c.rules {
            o.rules = (r.path, r.format, r.policy)
            o.dropUnmatched = r.dropUnmatched
        }
        if let f = flows { o.flows = (f.classifier, f.program) }
        switch c.routes {
        case .file(let p): o.routeSource = .file(p)
        case .kernel(let t): o.routeSource = .kernel(table: t)
        case .manager(let t): o.routeSource = .manager(address: c.manager!.address, table: t, identity: c.manager!.identity)
        case nil: break
        }
        return o
    }

    /// The management thread's CPUs: `node.management-core`, else those no worker has.
    public func managementCPUs(_ o: DataPlane.Options) -> [CoreID] {
        if let m = config.managementCore { return [CoreID(m)] }
        let data = Set(o.dataCores.compactMap { $0 })
        return Affinity.allowedCPUs.filter { !data.contains($0) }
    }

    /// Runs until `stop` (SIGTERM, SIGINT): workers stop, the XDP program
    /// Bowman attached is detached, every socket closed.
    public func run(stop: StopFlag, seconds: Double? = nil, ready: (@Sendable () -> Void)? = nil) throws -> DataPlane.Report {
        let o = try dataPlaneOptions()
        let management = managementCPUs(o)
        if !management.isEmpty { try? Affinity.restrictCurrentThread(to: management) }
        log("node \(config.name): \(o.ports.count) port\(o.ports.count == 1 ? "" : "s"), \(config.forward.rawValue), "
            + "workers on CPU \(o.dataCores.map { $0.map { "\($0.rawValue)" } ?? "-" }.joined(separator: ","))"
            + (console.map { ", console on \($0.address)" } ?? "") + (metricsServer.map { ", metrics on http://\($0.address)/metrics" } ?? ""))
        defer { closeServices() }
        return try DataPlane.run(o, seconds: seconds, stop: stop, ready: ready, services: self, progress: log)
    }

    func closeServices() {
        controlLoop = nil
        console?.close(); console = nil
        metricsServer?.close(); metricsServer = nil
    }

    // MARK: NodeServices

    public func started(_ r: RunningDataPlane) {
        running = r
        captures = Captures(taps: r.captureTaps, ports: r.options.ports)
        baseline = r.stats.map { _ in .zero }
        registerRunning(r)
    }

    public func service(milliseconds: Int) {
        let requests = (console?.pollRequests ?? []) + (metricsServer?.pollRequests ?? [])
        let deadlines = [console?.nextDeadline, metricsServer?.nextDeadline].compactMap { $0 }
        // A capture running: the taps' rings are emptied every millisecond or two.
        let capturing = !(captures?.running.isEmpty ?? true)
        let wait = SystemClock.millisecondsUntil(deadlines.min(), cap: capturing ? 1 : Int32(milliseconds))
        let ready = requests.isEmpty ? { SystemClock.sleep(milliseconds: Int(wait)); return Set<Int32>() }() : Poll.wait(requests, milliseconds: wait)
        let now = SystemClock.monotonicMilliseconds
        console?.service(ready: ready, now: now)
        metricsServer?.service(ready: ready, now: now)
        captures?.drain()
        if let f = flows, let r = running { f.drain(r.stageStates) }
        // GRASP, the ALM and shim-UDP: their own poll(2), briefly (they keep their timers).
        controlLoop?.runOnce(milliseconds: capturing ? 0 : 5)
        if let f = reloadFlag, f.isSet {
            f.clear()
            log(reload())
        }
    }

    public func stopping() {
        if let f = flows, let r = running {
            f.drain(r.stageStates)
            f.closeSamplers()
        }
        captures?.stopAll()
        for c in captures?.sessions ?? [] where c.finishedAfter != nil && c.state == "stopped with the node" { log("capture \(c.summary)") }
        log("node \(config.name): stopping")
    }

    // MARK: console

    func startConsole(_ k: NodeConfig.Console?) throws {
        guard let k else { return }
        let secret: [UInt8]
        do { secret = try SecretFile.read(k.secretFile) } catch { throw DataPlane.Failure("console.secret-file: \(error)") }
        var limits = HalSession.Limits()
        limits.failureDelay = UInt64(k.failureDelay * 1000)
        limits.maxFailures = k.maxFailures
        limits.idleTimeout = UInt64(k.idleSeconds * 1000)
        limits.sessionTimeout = UInt64(k.sessionSeconds * 1000)
        limits.loginTimeout = min(30_000, limits.idleTimeout)
        consoleLimits = limits
        if let hal {
            hal.setSecret(secret)
        } else {
            hal = Hal(registry: registry, nodeName: config.name, version: BowmanVersion.string, secret: secret)
        }
        let h = hal!
        var hooks = StreamServer<HalSession>.Hooks(
            open: { [unowned self] peer, now in
                let s = HalSession(limits: self.consoleLimits, now: now)
                return (s, s.greeting(node: h.nodeName, version: h.version))
            },
            receive: { s, bytes, now in s.receive(bytes, now: now, hal: h) },
            tick: { s, now in s.tick(now: now, hal: h) },
            deadline: { $0.nextDeadline })
        hooks.closed = { [unowned self] s, peer, why in self.consoleClosed(s, peer: peer, why: why) }
        let address = SocketAddress(k.listen.address, port: k.listen.port)
        do {
            console = try StreamServer(name: "the console", listen: address, maxConnections: k.maxConnections, hooks: hooks)
        } catch {
            throw DataPlane.Failure("console.listen \(k.listen): \(error)")
        }
    }

    func consoleClosed(_ s: HalSession, peer: SocketAddress, why: String) {
        log("console: \(peer): \(s.linesServed) line\(s.linesServed == 1 ? "" : "s"), closed (\(why))" + (s.authenticated ? "" : ", never logged in")
            + (s.failures > 0 ? ", \(s.failures) failed" : ""))
        metrics.consoleSessions.increment(s.authenticated ? "authenticated" : "unauthenticated")
        guard s.failures > 0 else { return }
        let now = SystemClock.monotonicMilliseconds
        var f = failedLogins[peer.address] ?? (0, now)
        if now - f.since > 300_000 { f = (0, now) }
        f.count += s.failures
        failedLogins[peer.address] = f
        metrics.consoleFailures.add(UInt64(s.failures))
        if f.count >= 2 * consoleLimits.maxFailures {
            // A guesser that reconnects: its address is refused for five minutes.
            console?.bar(peer.address, until: now + 300_000)
            failedLogins[peer.address] = nil
            log("console: \(peer.address) barred for 300 s after \(f.count) failed tries")
        }
    }

    // MARK: control-plane services

    func startControlPlane() throws {
        var shim: ShimUDPDriver?, grasp: GRASPDriver?, alm: ALMDriver?
        if let k = config.shimUDP {
            do { shim = try ShimUDPDriver(address: k.address) } catch { throw DataPlane.Failure("shim-udp.address \(k.address): \(error)") }
            for a in k.applications { shim!.register(a) }
        }
        if let g = config.grasp {
            do { grasp = try GRASPDriver(interfaces: g.interfaces) } catch { throw DataPlane.Failure("grasp: \(error)") }
            if let a = g.alm {
                alm = ALMDriver(node: grasp!, alm: ShimUDP.Endpoint(a.address, a.port), interval: UInt64(a.interval * 1000))
            }
        }
        guard shim != nil || grasp != nil else { return }
        let loop = ManagementLoop(shim: shim, grasp: grasp, alm: alm)
        loop.onNeighbour = { [unowned self] n in self.log("grasp: \(n)") }
        loop.onShim = { [unowned self, weak shim] a in
            switch a {
            case .flowRequest(let f, let app, let from):
                // Registered applications are accepted: the node is their endpoint.
                _ = try? shim?.accept(f)
                self.note("shim-udp: flow \(f) to \(app) from \(from) accepted")
            case .flowAllocated(let f, let peer): self.note("shim-udp: flow \(f) allocated with \(peer)")
            case .flowFailed(let f, let why): self.note("shim-udp: flow \(f) failed: \(why)")
            case .flowDeleted(let f): self.note("shim-udp: flow \(f) deleted")
            default: break
            }
        }
        controlLoop = loop
        log("control plane: " + [shim.map { "shim-udp on \($0.address):\(ShimUDP.listenPort)" },
                                 grasp.map { "GRASP on " + $0.interfaces.map(\.name).joined(separator: ", ") },
                                 alm.map { _ in "Bowman.ALM every \(config.grasp!.alm!.interval) s" }].compactMap { $0 }.joined(separator: ", "))
    }

    func note(_ line: String) {
        log(line)
        shimEvents.append(line)
        if shimEvents.count > 100 { shimEvents.removeFirst() }
    }

    // MARK: metrics

    func startMetrics(_ m: NodeConfig.Metrics?) throws {
        guard let m else { return }
        let hooks = StreamServer<ScrapeSession>.Hooks(
            open: { _, now in (ScrapeSession(now: now), []) },
            receive: { [unowned self] s, bytes, _ in s.receive(bytes) { self.exposition() } },
            tick: { s, now in s.tick(now: now) },
            deadline: { $0.nextDeadline })
        do {
            metricsServer = try StreamServer(name: "the metrics endpoint", listen: SocketAddress(m.listen.address, port: m.listen.port),
                                             maxConnections: m.maxConnections, hooks: hooks)
        } catch {
            throw DataPlane.Failure("metrics.listen \(m.listen): \(error)")
        }
    }

    /// The Prometheus text exposition of every counter: read from the
    /// workers' counter blocks with relaxed loads (no lock, no write).
    public func exposition() -> [UInt8] {
        metrics.scrapes.add(1)
        if let r = running { metrics.update(from: r, config: config, console: console, flows: flows) }
        return metrics.registry.emitToBuffer()
    }

    /// The console's and the metrics endpoint's bound addresses (tests bind port 0).
    public var consoleAddress: SocketAddress? { console?.address }
    public var metricsAddress: SocketAddress? { metricsServer?.address }

    // MARK: reload

    /// Reads the config file again and applies the difference: rules and
    /// routes change under running workers, the console and metrics
    /// endpoint rebind if their addresses changed, the console secret is
    /// read again. A file that does not parse, a section that needs a
    /// restart (ports, cores, xdp, the forwarding function) or a file it
    /// names that is bad refuses the whole reload: nothing changes.
    public func reload() -> String {
        let result = reloadResult()
        lastReload = result.line
        if result.applied { reloads.applied += 1; metrics.reloads.increment("applied") } else { reloads.refused += 1; metrics.reloads.increment("refused") }
        return result.line
    }

    func reloadResult() -> (applied: Bool, line: String) {
        let new: NodeConfig
        do { new = try NodeConfig.load(config.file) } catch { return (false, "reload refused, the node runs unchanged: \(error)") }
        var changed = new.changedSections(from: config)
        // The files it names count too: a routes or rules file edited in place is a change.
        let texts = Self.namedFileTexts(new)
        if !changed.contains("routes") && texts.routes != namedTexts.routes { changed.append("routes") }
        if !changed.contains("classifier") && texts.rules != namedTexts.rules { changed.append("classifier") }
        if changed.isEmpty { return (true, "reload: \(config.file) and the files it names have not changed") }
        let restart = changed.filter { !NodeConfig.reloadable.contains($0) }
        if !restart.isEmpty {
            return (false, "reload refused, the node runs unchanged: \(restart.joined(separator: ", ")) changed, which needs a restart")
        }
        // Everything is checked before anything is applied.
        var steps: [() throws -> String] = []
        if changed.contains("classifier") {
            guard let r = new.rules, running?.classification != nil else {
                return (false, "reload refused, the node runs unchanged: a classifier added or removed needs a restart")
            }
            let c: Classifier
            do { c = try Classify.load(rules: r.path, format: r.format, policy: r.policy) } catch {
                return (false, "reload refused, the node runs unchanged: classifier.rules: \(error)")
            }
            if r.dropUnmatched != config.rules?.dropUnmatched { return (false, "reload refused, the node runs unchanged: classifier.drop-unmatched needs a restart") }
            steps.append { [unowned self] in
                guard let cl = self.running?.classification else { return "no classifier" }
                cl.live.replace(with: c)
                return "classifier: \(c.rules.count) rules from \(r.path) published"
            }
        }
        if changed.contains("routes") {
            guard case .file(let path) = new.routes, case .file = config.routes else {
                return (false, "reload refused, the node runs unchanged: routes can change from file to file; another source needs a restart")
            }
            do { _ = try RouterRoutes.load(path) { try? NetworkNamespace.interfaceIndex($0) } } catch {
                return (false, "reload refused, the node runs unchanged: routes.file: \(error)")
            }
            steps.append { [unowned self] in
                guard let control = self.running?.control else { return "no router" }
                return try control.reloadRoutes(file: path)
            }
        }
        if changed.contains("console") {
            if let k = new.console {
                do { _ = try SecretFile.read(k.secretFile) } catch { return (false, "reload refused, the node runs unchanged: console.secret-file: \(error)") }
            }
            steps.append { [unowned self] in
                if new.console?.listen != self.config.console?.listen || new.console == nil { self.console?.close(); self.console = nil }
                if self.console == nil {
                    try self.startConsole(new.console)
                } else if let k = new.console {
                    self.hal?.setSecret(try SecretFile.read(k.secretFile))
                    self.console?.maxConnections = k.maxConnections
                    var limits = self.consoleLimits
                    limits.failureDelay = UInt64(k.failureDelay * 1000); limits.maxFailures = k.maxFailures
                    limits.idleTimeout = UInt64(k.idleSeconds * 1000); limits.sessionTimeout = UInt64(k.sessionSeconds * 1000)
                    self.consoleLimits = limits
                }
                return "console: " + (self.console.map { "on \($0.address)" } ?? "off")
            }
        }
        if changed.contains("metrics") {
            steps.append { [unowned self] in
                self.metricsServer?.close(); self.metricsServer = nil
                try self.startMetrics(new.metrics)
                return "metrics: " + (self.metricsServer.map { "on \($0.address)" } ?? "off")
            }
        }
        if changed.contains("log") { steps.append { "log level \(new.logLevel.rawValue)" } }
        var done: [String] = []
        for s in steps {
            do { done.append(try s()) } catch { return (false, "reload stopped part way (\(done.joined(separator: "; "))): \(error)") }
        }
        config = new
        namedTexts = texts
        return (true, "reloaded \(config.file): " + done.joined(separator: "; "))
    }

    // MARK: the info registry

    func registerControlPlane() {
        guard let loop = controlLoop else { return }
        if let alm = loop.alm {
            registry.put(InfoRegistry.Entry(name: "neighbours", help: "the Bowman.ALM neighbours GRASP found, with their ALM endpoints", list: {
                alm.neighbours.values.sorted { $0.grasp.description < $1.grasp.description }.enumerated().map { i, n in "\(i) \(n)" }
            }, show: { i in
                let all = alm.neighbours.values.sorted { $0.grasp.description < $1.grasp.description }
                guard let k = Int(i), k >= 0, k < all.count else { return nil }
                let n = all[k]
                return ["neighbour \(n.grasp)", "ALM " + (n.alm.map { "\($0)" } ?? "none"), "value \(n.value)",
                        "seen \((SystemClock.monotonicMilliseconds &- n.lastSeen) / 1000) s ago"]
            }))
        }
        if let g = loop.grasp {
            registry.put(InfoRegistry.Entry(name: "grasp", help: "the GRASP speaker: interfaces and errors", list: {
                g.interfaces.enumerated().map { i, f in "\(i) \(f)" } + loop.errors.suffix(10).map { "error: \($0)" }
            }, show: { i in
                guard let k = Int(i), k >= 0, k < g.interfaces.count else { return nil }
                return ["interface \(g.interfaces[k].name)", "index \(g.interfaces[k].index)", "link-local \(g.interfaces[k].linkLocal)"]
            }))
        }
        if let shim = loop.shim {
            registry.put(InfoRegistry.Entry(name: "shim-udp", help: "shim-UDP flows and the last events", list: { [unowned self] in
                shim.machine.info + self.shimEvents.suffix(10)
            }, show: { _ in nil }))
        }
    }

    func registerStatic() {
        registerControlPlane()
        registry.put(InfoRegistry.Entry(name: "config", help: "the config file, its sections, and the last reload", list: { [unowned self] in
            ["0 \(self.config.file)", "sections: " + NodeConfig.sections.joined(separator: " "),
             "reloads applied \(self.reloads.applied), refused \(self.reloads.refused); last: \(self.lastReload)"]
        }, show: { [unowned self] i in i == "0" ? ["file \(self.config.file)", "node \(self.config.name)", "forward \(self.config.forward.rawValue)",
                                                  "last reload: \(self.lastReload)"] : nil }))
        registry.put(InfoRegistry.Entry(name: "interfaces", help: "the network interfaces of the node's namespace and their addresses", list: {
            ((try? NetworkInterface.all()) ?? []).enumerated().map { i, n in
                "\(i) \(n.name) index \(n.index) \(n.isUp ? "up" : "down") " + n.addresses.map(\.description).joined(separator: " ")
            }
        }, show: { i in
            let all = (try? NetworkInterface.all()) ?? []
            guard let k = Int(i), k >= 0, k < all.count else { return nil }
            let n = all[k]
            return ["name \(n.name)", "index \(n.index)", "up \(n.isUp)", "loopback \(n.isLoopback)", "multicast \(n.supportsMulticast)"]
                + n.addresses.map { "address \($0)" }
        }))
        registry.put(InfoRegistry.Entry(name: "sessions", help: "who is on the console now", list: { [unowned self] in
            (self.console?.sessions() ?? []).enumerated().map { i, s in
                "\(i) \(s.0) \(s.1.authenticated ? "logged in" : "not logged in"), \(s.1.linesServed) lines"
            }
        }, show: { _ in nil }))
        registry.put(InfoRegistry.Command(name: "reload", usage: "reload", help: "read the config file again and apply the difference") { [unowned self] _ in
            let line = self.reload()
            self.log(line)
            return line.hasPrefix("reload refused") || line.hasPrefix("reload stopped") ? .failure(HalError(line)) : .success([line])
        })
        registry.put(InfoRegistry.Command(name: "set", usage: "set log-level LEVEL | set console max-connections N | set console failure-delay SECONDS",
                                          help: "change a setting of the running node until the next reload or restart") { [unowned self] args in
            switch args.count == 2 ? (args[0], args[1]) : args.count == 3 ? (args[0] + " " + args[1], args[2]) : ("", "") {
            case ("log-level", let v):
                guard let level = NodeConfig.LogLevel(rawValue: v) else {
                    return .failure(HalError("log-level is one of \(NodeConfig.LogLevel.allCases.map(\.rawValue).joined(separator: ", "))"))
                }
                self.onLogLevel(level)
                self.log("log level \(level.rawValue) (set on the console)")
                return .success(["log level \(level.rawValue)"])
            case ("console max-connections", let v):
                guard let n = Int(v), (1...1024).contains(n), let c = self.console else { return .failure(HalError("max-connections is 1 to 1024")) }
                c.maxConnections = n
                return .success(["console max-connections \(n)"])
            case ("console failure-delay", let v):
                guard let d = Double(v), (0...60).contains(d) else { return .failure(HalError("failure-delay is 0 to 60 seconds")) }
                self.consoleLimits.failureDelay = UInt64(d * 1000)
                return .success(["console failure-delay \(d) s (new connections)"])
            default:
                return .failure(HalError("usage: set log-level LEVEL | set console max-connections N | set console failure-delay SECONDS"))
            }
        })
        registry.put(InfoRegistry.Command(name: "clear", usage: "clear counters", help: "start the console's counters from zero (the metrics endpoint's never go back)") { [unowned self] args in
            guard args == ["counters"] else { return .failure(HalError("usage: clear counters")) }
            self.baseline = self.running?.stats.map { $0.snapshot() } ?? []
            return .success(["counters cleared"])
        })
    }

    func registerCaptures() {
        registry.put(InfoRegistry.Entry(name: "captures", help: "packet captures into pcap files, running and finished (the last 64)", list: { [unowned self] in
            (self.captures?.sessions ?? []).map(\.summary)
        }, show: { [unowned self] i in
            guard let id = Int(i), let s = self.captures?.sessions.first(where: { $0.id == id }) else { return nil }
            return s.detail
        }))
        registry.put(InfoRegistry.Command(
            name: "capture", usage: "capture PORT FILE [count N] [point rx|tx] [filter EXPR...] | capture stop ID",
            help: "write PORT's packets (index, spec or interface; as received, or as sent) into the pcap FILE (an absolute path), "
                + "those EXPR matches (a tcpdump expression, or an Odyssey filter [ ... ]), until N are written or it is stopped"
        ) { [unowned self] args in
            guard let captures = self.captures else { return .failure(HalError("the data plane is not running")) }
            if args.first == "stop" {
                guard args.count == 2, let id = Int(args[1]) else { return .failure(HalError("usage: capture stop ID")) }
                guard let s = captures.stop(id) else { return .failure(HalError("no capture \(args[1]) (list captures)")) }
                self.log("capture \(s.summary)")
                return .success([s.summary])
            }
            guard args.count >= 2 else { return .failure(HalError("usage: capture PORT FILE [count N] [point rx|tx] [filter EXPR...]")) }
            var limit: Int?, point = Captures.Point.rx, filter = ""
            var i = 2
            while i < args.count {
                switch args[i] {
                case "count":
                    guard i + 1 < args.count, let n = Int(args[i + 1]), n > 0 else { return .failure(HalError("count wants a number above 0")) }
                    limit = n; i += 2
                case "point":
                    guard i + 1 < args.count, let p = Captures.Point(rawValue: args[i + 1]) else { return .failure(HalError("point is rx or tx")) }
                    point = p; i += 2
                case "filter":
                    filter = args[(i + 1)...].joined(separator: " "); i = args.count
                default:
                    return .failure(HalError("'\(args[i])': expected count, point or filter"))
                }
            }
            do {
                let s = try captures.start(port: args[0], point: point, file: args[1], filter: filter, limit: limit)
                self.log("capture \(s.id) started: \(s.portName) \(point.rawValue) into \(s.file), \(s.filter)")
                return .success(["capture \(s.id) started: \(s.portName) \(point.rawValue) into \(s.file), \(s.filter)"
                                 + (limit.map { ", up to \($0) packets" } ?? "")])
            } catch {
                return .failure(HalError("\(error)"))
            }
        })
    }

    func registerRunning(_ r: RunningDataPlane) {
        registerCaptures()
        let specs = r.options.ports
        registry.put(InfoRegistry.Entry(name: "ports", help: "the node's ports: kind, interface, queue, and the mode each came up in", list: {
            specs.enumerated().map { i, p in
                "\(i) \(p)" + (r.notes.first { $0.hasPrefix("\(p): ") }.map { ": " + $0.dropFirst("\(p): ".count) } ?? "")
            }
        }, show: { i in
            guard let k = Int(i), k >= 0, k < specs.count else { return nil }
            let p = specs[k]
            return ["port \(k) \(p)", "interface \(p.interface)"] + r.notes.filter { $0.contains(p.interface) }
                + (r.attached.contains(p.interface) ? ["Bowman's XDP program attached by this node (detached when it stops)"] : [])
        }))
        registry.put(InfoRegistry.Entry(name: "workers", help: "one worker per data core: CPU and counters since the last clear", list: { [unowned self] in
            r.stats.enumerated().map { w, s in
                let d = self.since(w, s.snapshot())
                return "\(w) cpu \(r.options.dataCores[w]?.rawValue ?? -1) rx \(d.rxPackets) tx \(d.txPackets) dropped \(d.dropped) tx-full \(d.txFull)"
            }
        }, show: { [unowned self] i in
            guard let w = Int(i), w >= 0, w < r.stats.count else { return nil }
            let d = self.since(w, r.stats[w].snapshot())
            return ["worker \(w) on cpu \(r.options.dataCores[w]?.rawValue ?? -1)", "rx packets \(d.rxPackets)", "tx packets \(d.txPackets)",
                    "dropped \(d.dropped)", "tx ring full \(d.txFull)", "bursts \(d.bursts)", "idle polls \(d.idlePolls)",
                    "frames free \(r.stats[w].framesFree.load(ordering: .relaxed)) of \(r.stats[w].framesTotal.load(ordering: .relaxed))"]
        }))
        registry.put(InfoRegistry.Entry(name: "counters", help: "the node's counters summed over workers, since the last clear", list: { [unowned self] in
            let d = r.stats.enumerated().map { self.since($0.offset, $0.element.snapshot()) }.reduce(WorkerStats.Snapshot.zero, +)
            var lines = ["0 rx \(d.rxPackets)", "1 tx \(d.txPackets)", "2 dropped \(d.dropped)", "3 tx-full \(d.txFull)", "4 bursts \(d.bursts)"]
            if let c = r.control { lines.append("5 router: \(c.stats)") }
            return lines
        }, show: { _ in nil }))
        if let c = r.control {
            registry.put(InfoRegistry.Entry(name: "routes", help: "the router's routes: prefix and next-hop channel (the first 1000)", list: {
                let e = c.routes.entries
                return e.prefix(1000).enumerated().map { i, x in "\(i) \(x.prefix) channel \(x.channel)" }
                    + (e.count > 1000 ? ["... \(e.count - 1000) more"] : [])
            }, show: { i in
                let e = c.routes.entries
                guard let k = Int(i), k >= 0, k < e.count else { return nil }
                return ["route \(k) \(e[k].prefix)", "channel \(e[k].channel)", "table \(c.routes.name)"]
            }))
        }
        if let cl = r.classification {
            registry.put(InfoRegistry.Entry(name: "filters", help: "the classifier's rules: demux id and filter (the first 1000)", list: {
                let rules = cl.live.rules.rules
                return rules.prefix(1000).enumerated().map { i, rule in "\(i) demux \(rule.demuxID): \(rule.filter.text)" }
                    + (rules.count > 1000 ? ["... \(rules.count - 1000) more"] : [])
            }, show: { i in
                let rules = cl.live.rules.rules
                guard let k = Int(i), k >= 0, k < rules.count else { return nil }
                let rule = rules[k]
                return ["rule \(k) (\(rule.id))", "demux id \(rule.demuxID)", "priority \(rule.priority)", "filter \(rule.filter.text)",
                        "predicates \(rule.filter.predicates.count)"]
            }))
        }
        if let f = flows {
            registerFlows(f, r)
        } else if let cl = r.classification {
            registry.put(InfoRegistry.Entry(name: "flows", help: "the classifier's flows (demux ids) with packet counts, the first 1000 that matched", list: {
                var out: [String] = []
                var unmatched: UInt64 = 0
                for f in cl.flows { unmatched += f.unmatched.load(ordering: .relaxed) }
                let cap = cl.flows.first?.capacity ?? 0
                for d in 0..<cap where out.count < 1000 {
                    let n = cl.flows.reduce(UInt64(0)) { $0 + $1.count(d) }
                    if n > 0 { out.append("\(d) packets \(n)") }
                }
                return out + ["unmatched \(unmatched)"]
            }, show: { i in
                guard let d = Int(i), d >= 0, d < (cl.flows.first?.capacity ?? 0) else { return nil }
                return ["flow \(d)"] + cl.flows.enumerated().map { "worker \($0.offset): \($0.element.count(d)) packets" }
            }))
        }
    }

    /// The config's flows: packets per flow, each bound stage's counters, the state stores.
    func registerFlows(_ f: NodeFlows, _ r: RunningDataPlane) {
        let cl = r.classification
        func packets(_ d: Int) -> UInt64 { cl?.flows.reduce(UInt64(0)) { $0 + $1.count(d) } ?? 0 }
        func stages(_ d: Int) -> [String] {
            f.bound.filter { $0.flow == d }.map { b in
                "\(b.slot.name) \(b.stage): " + f.values(b, r.stageStates).map { "\($0.0) \($0.1)" }.joined(separator: ", ")
            }
        }
        registry.put(InfoRegistry.Entry(name: "flows", help: "the config's flows: channel, packets, the stages bound at their slots", list: {
            f.config.enumerated().map { d, fl in
                "\(d) \(fl.name)" + (fl.channel.map { " on \($0)" } ?? "") + ": packets \(packets(d))"
                    + (stages(d).isEmpty ? "" : "; " + stages(d).joined(separator: "; "))
            }
        }, show: { i in
            guard let d = f.index(i) else { return nil }
            let fl = f.config[d]
            let m = f.mirrorTotals(r.stageStates)
            return ["flow \(d) \(fl.name) (demux id \(d))", "channel " + (fl.channel ?? "any port"), "filter \(fl.filter)",
                    "packets \(packets(d))"] + stages(d) + f.stores[d].keys.sorted().map { "store \($0) = \(f.stores[d][$0]!)" }
                + (f.program.mirrors ? ["mirror copies (every flow) \(m.copies), not made for want of room \(m.noRoom)"] : [])
        }))
        registry.put(InfoRegistry.Entry(name: "channels", help: "the config's channels and their ports", list: { [unowned self] in
            self.config.channels.enumerated().map { i, c in "\(i) \(c.name): " + c.ports.map { r.options.ports[$0].description }.joined(separator: ", ") }
        }, show: { [unowned self] i in
            guard let k = Int(i), k >= 0, k < self.config.channels.count else { return nil }
            let c = self.config.channels[k]
            return ["channel \(c.name)"] + c.ports.map { "port \($0) \(r.options.ports[$0])" }
                + self.config.flows.filter { $0.channel == c.name }.map { "flow \($0.name)" }
        }))
        registry.put(InfoRegistry.Command(name: "store", usage: "store FLOW put KEY VALUE | get KEY | remove KEY",
                                          help: "a flow's state store (FLOW: its name or index)") { args in
            guard args.count >= 3, let d = f.index(args[0]) else { return .failure(HalError("usage: store FLOW put KEY VALUE | get KEY | remove KEY")) }
            switch (args[1], args.count) {
            case ("put", 4...): f.put(flow: d, args[2], args[3...].joined(separator: " ")); return .success(["\(args[2]) = \(f.get(flow: d, args[2])!)"])
            case ("get", 3): return f.get(flow: d, args[2]).map { .success(["\(args[2]) = \($0)"]) } ?? .failure(HalError("no \(args[2]) in \(f.config[d].name)'s store"))
            case ("remove", 3): return f.remove(flow: d, args[2]) != nil ? .success(["removed \(args[2])"]) : .failure(HalError("no \(args[2]) in \(f.config[d].name)'s store"))
            default: return .failure(HalError("usage: store FLOW put KEY VALUE | get KEY | remove KEY"))
            }
        })
        registry.put(InfoRegistry.Command(name: "registry", usage: "registry NAME put KEY VALUE | get KEY",
                                          help: "a store shared by name between flows") { args in
            guard args.count >= 3 else { return .failure(HalError("usage: registry NAME put KEY VALUE | get KEY")) }
            switch (args[1], args.count) {
            case ("put", 4...): f.put(registry: args[0], args[2], args[3...].joined(separator: " ")); return .success(["\(args[0]).\(args[2]) = \(args[3...].joined(separator: " "))"])
            case ("get", 3): return f.get(registry: args[0], args[2]).map { .success(["\(args[0]).\(args[2]) = \($0)"]) } ?? .failure(HalError("no \(args[2]) in registry \(args[0])"))
            default: return .failure(HalError("usage: registry NAME put KEY VALUE | get KEY"))
            }
        })
    }

    func since(_ w: Int, _ s: WorkerStats.Snapshot) -> WorkerStats.Snapshot {
        guard w < baseline.count else { return s }
        let b = baseline[w]
        return WorkerStats.Snapshot(rxPackets: s.rxPackets &- b.rxPackets, txPackets: s.txPackets &- b.txPackets, dropped: s.dropped &- b.dropped,
                                    txFull: s.txFull &- b.txFull, bursts: s.bursts &- b.bursts, idlePolls: s.idlePolls &- b.idlePolls,
                                    cpuNanoseconds: s.cpuNanoseconds &- b.cpuNanoseconds)
    }
}
