import BowmanClassifier
import BowmanCore
import BowmanIO
import BowmanPipeline
import BowmanRouting
import BowmanSystem

/// A node's configuration file (YAML): ports, cores, the XDP attach mode,
/// the forwarding function, rules, routes and the management services.
/// Parsing touches nothing outside the file itself; `NodeConfig.check`
/// also reads the files it names (rules, routes, the console secret).
/// docs/configuration.md describes every key with an example.
public struct NodeConfig: Equatable, Sendable {
    public var name = "bowman"
    /// The file this came from; relative paths in it are taken from its directory.
    public var file = ""

    // MARK: node
    /// Explicit data CPUs, one worker each; nil: `cores` workers on the last CPUs.
    public var dataCores: [Int32]?
    public var cores = 1
    public var managementCore: Int32?
    public var frames = 16384
    public var idleSpin = false

    // MARK: ports and forwarding
    public var ports: [PortSpec] = []
    public var forward: ForwardMode = .l2fwd
    public var nextHops: [MACAddress] = []

    // MARK: xdp
    public var xdpMode: XDPAttachMode = .native
    public var zeroCopy = true
    public var needWakeup = true
    public var busyPoll: Int32 = 0
    public var busyBudget: Int32 = 64
    public var passHostAddresses = true

    // MARK: routes, rules, manager
    public enum Routes: Equatable, Sendable {
        case file(String)
        case kernel(table: UInt32)
        case manager(table: String)
    }
    public var routes: Routes?
    public struct Rules: Equatable, Sendable {
        public var path: String
        public var format: Classify.Format
        public var policy: MatchPolicy
        public var dropUnmatched: Bool
        public init(path: String, format: Classify.Format, policy: MatchPolicy, dropUnmatched: Bool) {
            self.path = path; self.format = format; self.policy = policy; self.dropUnmatched = dropUnmatched
        }
    }
    public var rules: Rules?
    public struct Manager: Equatable, Sendable {
        public var address: IPAddress
        public var identity: [String]
        public init(address: IPAddress, identity: [String]) { self.address = address; self.identity = identity }
    }
    public var manager: Manager?

    // MARK: channels and flows
    /// A named logical endpoint over some of the node's ports.
    public struct Channel: Equatable, Sendable {
        public var name: String
        /// Indices into `ports`.
        public var ports: [Int]
        public init(name: String, ports: [Int]) { self.name = name; self.ports = ports }
    }
    public var channels: [Channel] = []
    /// A stage bound at a flow's slot, chosen by name.
    public enum Stage: Equatable, Sendable, CustomStringConvertible {
        case counter
        case rateLimit(rate: Double, burst: Double)
        case sample(every: Int, file: String)
        case deny
        /// A copy out of port `port` (an index into `ports`) too.
        case mirror(port: Int)
        public var description: String {
            switch self {
            case .counter: "counter"
            case .rateLimit(let r, let b): "rate-limit \(r)/s burst \(b)"
            case .sample(let e, let f): "sample 1/\(e) into \(f)"
            case .deny: "deny"
            case .mirror(let p): "mirror to port \(p)"
            }
        }
    }
    /// Subscribes to a channel with a filter; its index is its demux id.
    public struct Flow: Equatable, Sendable {
        public var name: String
        public var channel: String?
        public var filter: String
        public var preRoute: [Stage]
        /// After the forwarding function, on the packets it forwards.
        public var postRoute: [Stage] = []
        /// On the packets the forwarding function dropped.
        public var dropSlot: [Stage] = []
        /// The stages by slot, in `FlowSlot` order.
        public var slots: [[Stage]] { [preRoute, postRoute, dropSlot] }
    }
    public var flows: [Flow] = []
    public static let stageNames = ["counter", "rate-limit", "sample", "deny", "mirror"]

    // MARK: control-plane services
    /// GRASP (RFC 8990) on link-local IPv6, and Bowman.ALM over it.
    public struct GRASPService: Equatable, Sendable {
        /// Interfaces to speak on (empty: every one that is up, multicast-capable and has a link-local address).
        public var interfaces: [String] = []
        /// Advertise this node's ALM endpoint as Bowman.ALM and follow the neighbours that do.
        public var alm: ALM?
        public init() {}
    }
    public struct ALM: Equatable, Sendable {
        public var address: IPAddress
        public var port: UInt16
        public var interval: Double
        public init(address: IPAddress, port: UInt16, interval: Double) { self.address = address; self.port = port; self.interval = interval }
    }
    public var grasp: GRASPService?
    /// Shim-UDP flow allocation (seed 000): a listener on `address`, port 3359, for `applications`.
    public struct ShimService: Equatable, Sendable {
        public var address: IPAddress
        public var applications: [String]
        public init(address: IPAddress, applications: [String]) { self.address = address; self.applications = applications }
    }
    public var shimUDP: ShimService?

    // MARK: services
    public struct Listen: Equatable, Sendable, CustomStringConvertible {
        public var address: IPAddress
        public var port: UInt16
        public init(address: IPAddress, port: UInt16) { self.address = address; self.port = port }
        public var description: String { address.isV6 ? "[\(address)]:\(port)" : "\(address):\(port)" }
    }
    public struct Console: Equatable, Sendable {
        public var listen = Listen(address: .v4(IPv4Address(127, 0, 0, 1)), port: 2001)
        public var secretFile = "/etc/bowman/console.secret"
        public var maxConnections = 8
        public var idleSeconds = 300.0
        public var sessionSeconds = 3600.0
        public var failureDelay = 1.0
        public var maxFailures = 3
        public init() {}
    }
    public var console: Console?
    public struct Metrics: Equatable, Sendable {
        public var listen = Listen(address: .v4(IPv4Address(127, 0, 0, 1)), port: 9464)
        public var maxConnections = 8
        public init() {}
    }
    public var metrics: Metrics?
    public enum LogLevel: String, Sendable, CaseIterable { case debug, info, notice, warning, error }
    public var logLevel: LogLevel = .info

    public init() {}

    public static let sections = ["node", "ports", "xdp", "forward", "routes", "classifier", "manager", "channels", "flows", "grasp", "shim-udp",
                                  "console", "metrics", "log"]

    /// Reads and parses a config file (no other file is opened).
    public static func load(_ path: String) throws(ConfigError) -> NodeConfig {
        let text: String
        do { text = try SysFS.read(path) } catch {
            throw ConfigError(file: path, line: 0, column: 0, key: "", reason: "cannot read: \(error)")
        }
        return try parse(text, file: path)
    }

    /// Parses a config's text. `file` names it in errors and is the base of relative paths.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> NodeConfig {
        var c = NodeConfig()
        c.file = file
        guard let root = try ConfigValue.parse(text, file: file) else {
            throw ConfigError(file: file, line: 1, column: 1, key: "", reason: "the file is empty: give at least 'ports'")
        }
        let f = try root.fields(sections)

        if let n = f["node"] {
            let g = try n.fields(["name", "data-cores", "cores", "management-core", "frames", "idle"])
            if let v = g["name"] { c.name = try v.nonEmptyString() }
            if let v = g["data-cores"] {
                if g["cores"] != nil { throw v.error("give data-cores or cores, not both") }
                var seen = Set<Int32>()
                c.dataCores = try v.list().map { (i: ConfigValue) throws(ConfigError) -> Int32 in
                    let cpu: Int32 = try i.int(0...4095)
                    guard seen.insert(cpu).inserted else { throw i.error("CPU \(cpu) is given twice") }
                    return cpu
                }
                guard !(c.dataCores ?? []).isEmpty else { throw v.error("name at least one CPU") }
                c.cores = c.dataCores!.count
            }
            if let v = g["cores"] { c.cores = try v.int(1...256) }
            if let v = g["management-core"] {
                c.managementCore = try v.int(0...4095)
                if let d = c.dataCores, d.contains(c.managementCore!) { throw v.error("CPU \(c.managementCore!) is also a data core") }
            }
            if let v = g["frames"] { c.frames = try v.int(256...(1 << 22)) }
            if let v = g["idle"] { c.idleSpin = try v.choice(["poll", "spin"]) == "spin" }
        }

        let portsValue = try f.required("ports")
        let items = try portsValue.list()
        guard !items.isEmpty else { throw portsValue.error("name at least one port") }
        for i in items {
            let text = try i.nonEmptyString()
            do {
                var p = try PortSpec(parsing: text)
                switch p {
                case .pcapIn(let path): p = .pcapIn(path: c.resolve(path))
                case .pcapOut(let path): p = .pcapOut(path: c.resolve(path))
                default: break
                }
                if c.ports.contains(p) { throw i.error("\(text) is given twice") }
                c.ports.append(p)
            } catch let e as PortSpec.ParseError {
                throw i.error(e.description)
            } catch let e as ConfigError {
                throw e
            } catch {
                throw i.error("\(error)")
            }
        }

        if let x = f["xdp"] {
            let g = try x.fields(["mode", "zero-copy", "need-wakeup", "busy-poll", "busy-budget", "pass-host-addresses"])
            if let v = g["mode"] { c.xdpMode = XDPAttachMode(rawValue: try v.choice(["native", "generic", "offload"]))! }
            if let v = g["zero-copy"] { c.zeroCopy = try v.bool() }
            if let v = g["need-wakeup"] { c.needWakeup = try v.bool() }
            if let v = g["busy-poll"] { c.busyPoll = try v.int(0...1_000_000) }
            if let v = g["busy-budget"] { c.busyBudget = try v.int(1...65535) }
            if let v = g["pass-host-addresses"] { c.passHostAddresses = try v.bool() }
        }

        if let fw = f["forward"] {
            let g = try fw.fields(["function", "next-hops"])
            let fn = try g.required("function")
            c.forward = ForwardMode(rawValue: try fn.choice(ForwardMode.allCases.map(\.rawValue)))!
            if let v = g["next-hops"] {
                guard c.forward == .l2fwd else { throw v.error("next-hops are for the l2fwd function") }
                c.nextHops = try v.list().map { (i: ConfigValue) throws(ConfigError) -> MACAddress in
                    let t = try i.string()
                    guard let m = MACAddress(t) else { throw i.error("'\(t)' is not a MAC address") }
                    return m
                }
                if c.nextHops.count > c.ports.count { throw v.error("\(c.nextHops.count) next hops for \(c.ports.count) ports") }
            }
            if c.forward == .l2fwd && c.ports.count != 2 { throw fn.error("l2fwd needs two ports, the config has \(c.ports.count)") }
            if c.forward != .router && c.ports.count > 2 { throw fn.error("\(c.forward.rawValue) serves one or two ports (a router any number)") }
        } else if c.ports.count != 2 {
            throw root.error("give forward.function (the default, l2fwd, needs two ports)")
        }

        if let r = f["routes"] {
            let g = try r.fields(["file", "kernel", "manager-table"])
            let given = ["file", "kernel", "manager-table"].filter { g[$0] != nil }
            guard given.count == 1 else { throw r.error("give one of file, kernel, manager-table") }
            if c.forward != .router { throw r.error("routes are for the router function (forward.function: router)") }
            if let v = g["file"] { c.routes = .file(c.resolve(try v.nonEmptyString())) }
            if let v = g["kernel"] {
                let t = try v.string()
                guard let id = KernelFIB.parseSource(t == "main" ? "kernel" : "kernel:\(t)") else {
                    throw v.error("'\(t)' is not a kernel table (main, local, default or a number)")
                }
                c.routes = .kernel(table: id)
            }
            if let v = g["manager-table"] { c.routes = .manager(table: try v.nonEmptyString()) }
        }
        if c.forward == .router && c.routes == nil {
            throw (f["forward"] ?? root).error("the router needs a routes section (file, kernel or manager-table)")
        }

        if let cl = f["classifier"] {
            let g = try cl.fields(["rules", "format", "policy", "drop-unmatched"])
            let path = c.resolve(try g.required("rules").nonEmptyString())
            let formatText = try g["format"]?.choice(["odyssey", "classbench"]) ?? "odyssey"
            let policyText = try g["policy"]?.choice(["most-predicates", "first-match"])
            let (format, policy): (Classify.Format, MatchPolicy)
            do { (format, policy) = try Classify.options(format: formatText, policy: policyText) } catch { throw cl.error("\(error)") }
            c.rules = Rules(path: path, format: format, policy: policy, dropUnmatched: try g["drop-unmatched"]?.bool() ?? false)
        }

        if let m = f["manager"] {
            let g = try m.fields(["address", "identity"])
            let a = try g.required("address")
            let t = try a.string()
            guard let address = IPAddress(t) else { throw a.error("'\(t)' is not an IPv4 or IPv6 address") }
            let identity = try g["identity"]?.list().map { (i: ConfigValue) throws(ConfigError) -> String in try i.nonEmptyString() } ?? []
            c.manager = Manager(address: address, identity: identity)
        }
        if case .manager = c.routes, c.manager == nil {
            throw f["routes"]!.error("manager-table needs a manager section (the address the ALM, ATM and routing manager listen on)")
        }

        if let v = f["channels"] {
            for item in try v.list() {
                let g = try item.fields(["name", "ports"])
                let nameValue = try g.required("name")
                let name = try nameValue.nonEmptyString()
                if c.channels.contains(where: { $0.name == name }) { throw nameValue.error("channel '\(name)' is given twice") }
                var idx: [Int] = []
                for p in try g.required("ports").list() {
                    let t = try p.nonEmptyString()
                    guard let i = c.ports.firstIndex(where: { $0.description == t || $0.interface == t }) ?? Int(t).flatMap({ $0 >= 0 && $0 < c.ports.count ? $0 : nil }) else {
                        throw p.error("'\(t)' is not one of the node's ports (\(c.ports.map(\.description).joined(separator: ", ")))")
                    }
                    if !idx.contains(i) { idx.append(i) }
                }
                c.channels.append(Channel(name: name, ports: idx))
            }
        }
        if let v = f["flows"] {
            if c.rules != nil { throw v.error("give flows or classifier.rules, not both (the flows' filters are the classifier's rules)") }
            for item in try v.list() {
                let g = try item.fields(["name", "channel", "filter", "pre-route", "post-route", "drop"])
                let nameValue = try g.required("name")
                let name = try nameValue.nonEmptyString()
                if c.flows.contains(where: { $0.name == name }) { throw nameValue.error("flow '\(name)' is given twice") }
                var channel: String?
                if let ch = g["channel"] {
                    let t = try ch.nonEmptyString()
                    guard c.channels.contains(where: { $0.name == t }) else {
                        throw ch.error("no channel '\(t)'" + (c.channels.isEmpty ? " (the channels section names none)" : " (\(c.channels.map(\.name).joined(separator: ", ")))"))
                    }
                    channel = t
                }
                let filterValue = try g.required("filter")
                let filter = try filterValue.nonEmptyString()
                do { _ = try BowmanClassifier.Filter(parsing: filter, registry: .standard()) } catch {
                    // A one-line filter's mistake is placed in the file: the value's column, past its quote.
                    if let l = error.location, l.line == 1, !filter.contains("\n") {
                        let quoted: Bool
                        if case .scalar(let sc) = filterValue.node { quoted = sc.style == .doubleQuoted || sc.style == .singleQuoted } else { quoted = false }
                        throw ConfigError(file: c.file, line: filterValue.line, column: filterValue.column + (quoted ? 1 : 0) + l.column - 1,
                                          key: filterValue.path, reason: error.message)
                    }
                    throw filterValue.error("\(error)")
                }
                var bySlot: [[Stage]] = [[], [], []]
                for (i, key) in ["pre-route", "post-route", "drop"].enumerated() {
                    for st in try g[key]?.list() ?? [] {
                        let stage = try st.stage(c)
                        if key == "drop", stage == .deny || { if case .rateLimit = stage { true } else { false } }() {
                            throw st.error("\(stage) has nothing to drop at the drop slot (counter, sample and mirror do)")
                        }
                        if key == "pre-route", case .mirror = stage {
                            throw st.error("mirror binds at post-route or drop (a copy of the packet as the function leaves it)")
                        }
                        bySlot[i].append(stage)
                    }
                }
                c.flows.append(Flow(name: name, channel: channel, filter: filter, preRoute: bySlot[0], postRoute: bySlot[1], dropSlot: bySlot[2]))
            }
            if c.flows.count > 4096 { throw v.error("at most 4096 flows") }
        }

        if let v = f["grasp"] {
            let g = try v.fields(["interfaces", "alm"])
            var k = GRASPService()
            k.interfaces = try g["interfaces"]?.list().map { (i: ConfigValue) throws(ConfigError) -> String in try i.nonEmptyString() } ?? []
            if let a = g["alm"] {
                let h = try a.fields(["address", "port", "interval"])
                let av = try h.required("address")
                let t = try av.string()
                guard let address = IPAddress(t) else { throw av.error("'\(t)' is not an IPv4 or IPv6 address") }
                k.alm = ALM(address: address, port: try h["port"]?.int(1...65535) ?? 3359, interval: try h["interval"]?.double(0.1...3600) ?? 10)
            }
            c.grasp = k
        }
        if let v = f["shim-udp"] {
            let g = try v.fields(["address", "applications"])
            let av = try g.required("address")
            let t = try av.string()
            guard let address = IPAddress(t) else { throw av.error("'\(t)' is not an IPv4 or IPv6 address") }
            var apps: [String] = []
            for a in try g["applications"]?.list() ?? [] {
                let name = try a.nonEmptyString()
                guard name.utf8.count <= 255, name.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
                    throw a.error("an application name is 1 to 255 bytes of UTF-8 without control characters")
                }
                apps.append(name)
            }
            c.shimUDP = ShimService(address: address, applications: apps)
        }

        if let v = f["console"] {
            let g = try v.fields(["listen", "secret-file", "max-connections", "idle-timeout", "session-timeout", "failure-delay", "max-failures"])
            var k = Console()
            if let l = g["listen"] { k.listen = try l.listen(defaultPort: 2001) }
            if let s = g["secret-file"] { k.secretFile = c.resolve(try s.nonEmptyString()) }
            if let s = g["max-connections"] { k.maxConnections = try s.int(1...1024) }
            if let s = g["idle-timeout"] { k.idleSeconds = try s.double(1...86_400) }
            if let s = g["session-timeout"] { k.sessionSeconds = try s.double(1...604_800) }
            if let s = g["failure-delay"] { k.failureDelay = try s.double(0...60) }
            if let s = g["max-failures"] { k.maxFailures = try s.int(1...100) }
            c.console = k
        }
        if let v = f["metrics"] {
            let g = try v.fields(["listen", "max-connections"])
            var k = Metrics()
            if let l = g["listen"] { k.listen = try l.listen(defaultPort: 9464) }
            if let s = g["max-connections"] { k.maxConnections = try s.int(1...1024) }
            c.metrics = k
        }
        if let c0 = c.console, let m = c.metrics, c0.listen == m.listen {
            throw f["metrics"]!.error("the metrics endpoint and the console both listen on \(m.listen)")
        }
        if let v = f["log"] {
            let g = try v.fields(["level"])
            if let l = g["level"] { c.logLevel = LogLevel(rawValue: try l.choice(LogLevel.allCases.map(\.rawValue)))! }
        }
        return c
    }

    /// A path from the file, taken from the file's directory when relative.
    func resolve(_ path: String) -> String {
        guard !path.hasPrefix("/"), let slash = file.lastIndex(of: "/") else { return path }
        return String(file[...slash]) + path
    }

    /// What differs between two configs, by section, for a reload.
    public func changedSections(from old: NodeConfig) -> [String] {
        var out: [String] = []
        if name != old.name || dataCores != old.dataCores || cores != old.cores || managementCore != old.managementCore
            || frames != old.frames || idleSpin != old.idleSpin { out.append("node") }
        if ports != old.ports { out.append("ports") }
        if xdpMode != old.xdpMode || zeroCopy != old.zeroCopy || needWakeup != old.needWakeup || busyPoll != old.busyPoll
            || busyBudget != old.busyBudget || passHostAddresses != old.passHostAddresses { out.append("xdp") }
        if forward != old.forward || nextHops != old.nextHops { out.append("forward") }
        if routes != old.routes { out.append("routes") }
        if rules != old.rules { out.append("classifier") }
        if channels != old.channels { out.append("channels") }
        if flows != old.flows { out.append("flows") }
        if grasp != old.grasp { out.append("grasp") }
        if shimUDP != old.shimUDP { out.append("shim-udp") }
        if manager != old.manager { out.append("manager") }
        if console != old.console { out.append("console") }
        if metrics != old.metrics { out.append("metrics") }
        if logLevel != old.logLevel { out.append("log") }
        return out
    }

    /// Sections a running node takes on reload; the others need a restart.
    public static let reloadable: Set<String> = ["routes", "classifier", "console", "metrics", "log"]
}

extension ConfigValue {
    /// A stage: its name alone (`counter`, `deny`), or a mapping of its name to its settings.
    func stage(_ c: NodeConfig) throws(ConfigError) -> NodeConfig.Stage {
        let name: String
        var settings: ConfigValue?
        switch node {
        case .scalar(let s): name = s.string
        case .mapping(let m):
            guard m.count == 1, let k = m.first?.key.scalar?.string else { throw error("a stage is its name, or one name: {settings}") }
            name = k
            settings = try fields(NodeConfig.stageNames)[k]
        default: throw error("a stage is its name, or one name: {settings}")
        }
        let here = settings ?? self
        switch name {
        case "counter", "deny":
            if let s = settings {
                switch s.node {
                case .mapping(let m) where m.count == 0: break
                case .scalar(let v) where ["", "null", "~"].contains(v.string): break
                default: throw s.error("\(name) takes no settings")
                }
            }
            return name == "counter" ? .counter : .deny
        case "rate-limit":
            guard let s = settings else { throw here.error("rate-limit needs {rate: PACKETS-PER-SECOND, burst: PACKETS}") }
            let g = try s.fields(["rate", "burst"])
            let rate = try g.required("rate").double(0.001...1e9)
            let burst = try g["burst"]?.double(1...1e9) ?? max(1, rate / 10)
            return .rateLimit(rate: rate, burst: burst)
        case "sample":
            guard let s = settings else { throw here.error("sample needs {every: N, file: PCAP}") }
            let g = try s.fields(["every", "file"])
            let every: Int = try g.required("every").int(1...1_000_000_000)
            let file = c.resolve(try g.required("file").nonEmptyString())
            return .sample(every: every, file: file)
        case "mirror":
            guard let s = settings else { throw here.error("mirror needs {port: PORT}") }
            let g = try s.fields(["port"])
            let pv = try g.required("port")
            let t = try pv.nonEmptyString()
            guard let i = c.ports.firstIndex(where: { $0.description == t || $0.interface == t }) ?? Int(t).flatMap({ $0 >= 0 && $0 < c.ports.count ? $0 : nil }) else {
                throw pv.error("'\(t)' is not one of the node's ports (\(c.ports.map(\.description).joined(separator: ", ")))")
            }
            return .mirror(port: i)
        default:
            throw error("unknown stage '\(name)' (\(NodeConfig.stageNames.joined(separator: ", ")))")
        }
    }

    /// `ADDRESS:PORT`, `[IPV6]:PORT`, or an address alone (the default port).
    func listen(defaultPort: UInt16) throws(ConfigError) -> NodeConfig.Listen {
        let t = try string()
        var host = t, portText: String?
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]") else { throw error("'\(t)': a '[' without ']'") }
            host = String(t[t.index(after: t.startIndex)..<close])
            let rest = t[t.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw error("'\(t)': expected ':PORT' after ']'") }
                portText = String(rest.dropFirst())
            }
        } else if t.filter({ $0 == ":" }).count == 1, let colon = t.firstIndex(of: ":") {
            host = String(t[..<colon])
            portText = String(t[t.index(after: colon)...])
        }
        guard let a = IPAddress(host) else { throw error("'\(host)' is not an IPv4 or IPv6 address") }
        var port = defaultPort
        if let p = portText {
            guard let n = UInt16(p), n > 0 else { throw error("'\(p)' is not a port (1-65535)") }
            port = n
        }
        return NodeConfig.Listen(address: a, port: port)
    }
}

extension IPAddress {
    var isV6: Bool { if case .v6 = self { true } else { false } }
}
