import BowmanControl
import BowmanControlIO
import BowmanCore
import BowmanIO
import BowmanPacket
import BowmanPipeline
import BowmanRouting
import BowmanSystem

/// Where a router's routes come from.
public enum RouteSource: Sendable, Equatable, CustomStringConvertible {
    /// Follow a Linux routing table over rtnetlink (254 is `main`).
    case kernel(table: UInt32)
    /// A routes file: `prefix next-hop` lines (see `RouterRoutes`).
    case file(String)
    /// The routing manager's table `table`, filled by `(calculate TOPOLOGY
    /// table)` from the links and topologies given over ALP/ATP: the
    /// node-administration services listen on `address` (UDP 9998, 9999,
    /// 9990), this node is every address of the namespace plus `identity`.
    case manager(address: IPAddress, table: String, identity: [String])
    public var description: String {
        switch self {
        case .kernel(let t): "the kernel's table \(t)"
        case .file(let f): f
        case .manager(let a, let t, _): "the routing manager's table \(t) (ALM/ATM/routing on \(a))"
        }
    }
}

/// Reads a router's routes file: `prefix next-hop` lines, IPv4 and IPv6
/// mixed, where the next hop is `GATEWAY%INTERFACE` (a gateway reached
/// through that interface), `INTERFACE` (a connected subnet: every
/// destination in it is resolved itself), or `blackhole`, `unreachable`,
/// `prohibit`. Refused whole, naming the file, line and column.
public enum RouterRoutes {
    public static func load(_ path: String, interfaceIndex: (String) -> Int32?) throws -> [(prefix: IPPrefix, set: NextHopSet)] {
        let text: String
        do { text = try SysFS.read(path) } catch { throw TextInputError(file: path, line: 0, column: 0, reason: "cannot read: \(error)") }
        return try parse(text, file: path, interfaceIndex: interfaceIndex)
    }

    public static func parse(_ text: String, file: String, interfaceIndex: (String) -> Int32?) throws(TextInputError) -> [(prefix: IPPrefix, set: NextHopSet)] {
        var out: [(prefix: IPPrefix, set: NextHopSet)] = []
        for r in try RouteFile.routeLines(text, file: file) {
            func fail(_ why: String) -> TextInputError { TextInputError(file: file, line: r.line, column: r.column, reason: why) }
            let set: NextHopSet
            switch r.nextHop {
            case "blackhole": set = NextHopSet(kind: .blackhole, hops: [])
            case "unreachable": set = NextHopSet(kind: .unreachable, hops: [])
            case "prohibit": set = NextHopSet(kind: .prohibit, hops: [])
            default:
                let parts = r.nextHop.split(separator: "%", maxSplits: 1).map(String.init)
                if parts.count == 2 {
                    guard let g = IPAddress(parts[0]) else { throw fail("'\(parts[0])' is not an IPv4 or IPv6 gateway address") }
                    guard g.isV4 == r.prefix.address.isV4 else { throw fail("gateway \(g) is not of the prefix's family") }
                    guard let i = interfaceIndex(parts[1]) else { throw fail("no interface named '\(parts[1])'") }
                    set = NextHopSet(kind: .forward, hops: [.init(gateway: g, interface: i)])
                } else if IPAddress(r.nextHop) != nil {
                    throw fail("name the gateway's interface: \(r.nextHop)%INTERFACE")
                } else {
                    guard let i = interfaceIndex(r.nextHop) else {
                        throw fail("next hop '\(r.nextHop)' is not GATEWAY%INTERFACE, an interface, blackhole, unreachable or prohibit")
                    }
                    set = NextHopSet(kind: .forward, hops: [.init(gateway: nil, interface: i)])
                }
            }
            out.append((r.prefix, set))
        }
        return out
    }

}

extension IPAddress {
    var isV4: Bool { if case .v4 = self { true } else { false } }
}

/// The management core's half of the router: it owns the route table
/// (mirrored from the kernel or loaded from a file), builds and publishes
/// the adjacencies the workers read, and does what workers punt: holds
/// packets for unresolved next hops while it resolves them (ARP, ND),
/// sends them once resolved (or an ICMP host unreachable when resolution
/// fails), and answers expired TTLs and missing routes with ICMP errors,
/// rate-limited. Runs on the management thread only.
public final class RouterControl {
    final class Port {
        let index: Int
        let interface: String
        let ifindex: Int32
        let mac: MACAddress
        var v4: IPAddress?
        var v6: IPAddress?
        let socket: PacketSocket
        init(index: Int, interface: String) throws {
            self.index = index
            self.interface = interface
            ifindex = try NetworkNamespace.interfaceIndex(interface)
            let m = try NetworkNamespace.interfaceMAC(interface)
            mac = MACAddress(m[0], m[1], m[2], m[3], m[4], m[5])
            socket = try PacketSocket(interface: interface, qdiscBypass: false, receiveBufferBytes: 1 << 20)
        }
    }

    public struct Stats: Sendable, CustomStringConvertible {
        public var icmpSent: UInt64 = 0
        /// Not sent: RFC 1812 / RFC 4443 say not to (an error about an error, multicast, ...).
        public var icmpNotAllowed: UInt64 = 0
        public var icmpRateLimited: UInt64 = 0
        public var held: UInt64 = 0
        public var heldSent: UInt64 = 0
        public var heldUnresolved: UInt64 = 0
        public var holdFull: UInt64 = 0
        public var solicitations: UInt64 = 0
        public var resolved: UInt64 = 0
        public var kernelDropped: UInt64 = 0
        public var publishes: UInt64 = 0
        public var description: String {
            "icmp sent \(icmpSent) (not allowed \(icmpNotAllowed), rate-limited \(icmpRateLimited)); held \(held), sent after resolution \(heldSent), "
                + "unresolved \(heldUnresolved), hold full \(holdFull); solicitations \(solicitations), neighbours learned \(resolved); "
                + "out of a non-Bowman interface (dropped) \(kernelDropped); tables published \(publishes)"
        }
    }

    public let routes: RouteTable
    let fib: KernelFIBDriver?
    var fileSets: [NextHopSet] = []
    /// The routing manager (source `manager`): its table is copied into
    /// `routes` after every message, channels mapped to next-hop sets.
    let admin: NodeAdministrationDriver?
    let managerTable: String
    var managerChannel: [NextHopSet: Int] = [:]
    /// Replies of the node-administration services (for the log).
    public var onAnswer: (String) -> Void = { _ in }
    public let publisher: TablePublisher<RouterView>
    var alive: [UnsafeRawPointer: RouterTables] = [:]
    public private(set) var tables: RouterTables
    let ports: [Port]
    let portOf: [Int32: Int]
    var resolver = NeighbourResolver()
    var hold = HoldQueue<NeighbourResolver.Key>()
    var icmp = TokenBucket()
    /// And per destination host (Linux: one a second each, a burst of 6).
    var icmpPerHost = PerDestinationLimiter()
    public let punts: [PuntRing]
    public let counters: [RouterCounters]
    var pool: FramePool
    var rx = Burst()
    var dirty = false
    var recycleDue = false
    var nextQuery = 0
    var localAddresses: Set<IPAddress> = []
    public private(set) var stats = Stats()

    public init(source: RouteSource, interfaces: [String], workers: Int) throws {
        var ps: [Port] = []
        for (i, n) in interfaces.enumerated() { ps.append(try Port(index: i, interface: n)) }
        ports = ps
        portOf = Dictionary(uniqueKeysWithValues: ps.map { ($0.ifindex, $0.index) })
        pool = try FramePool(frameSize: 2048, frameCount: 512)
        switch source {
        case .kernel(let table):
            fib = try KernelFIBDriver(mirror: FIBMirror(kernelTable: table, routes: RouteTable(name: "kernel-\(table)")))
            routes = fib!.mirror.routes
            admin = nil; managerTable = ""
        case .manager(let address, let table, let identity):
            fib = nil
            routes = RouteTable(name: table)
            managerTable = table
            let here = Set(((try? NetworkInterface.all()) ?? []).flatMap(\.addresses).map(\.description))
            let node = NodeAdministration(identity: here.union(identity).union([address.description])) { name in
                IPAddress(name).map { [$0] } ?? ((try? Resolver.resolve(name)) ?? [])
            }
            admin = try NodeAdministrationDriver(node: node, address: address)
        case .file(let path):
            fib = nil
            admin = nil; managerTable = ""
            let r = RouteTable(name: "routes")
            let loaded = try RouterRoutes.load(path) { try? NetworkNamespace.interfaceIndex($0) }
            var channelOf: [NextHopSet: Int] = [:]
            var sets: [NextHopSet] = []
            var entries: [(prefix: IPPrefix, channel: Int)] = []
            for (p, s) in loaded {
                if channelOf[s] == nil { channelOf[s] = sets.count; sets.append(s) }
                entries.append((p, channelOf[s]!))
            }
            try r.add(contentsOf: entries)
            fileSets = sets
            routes = r
        }
        punts = (0..<workers).map { _ in PuntRing() }
        counters = (0..<workers).map { _ in RouterCounters() }
        let first = RouterTables(Adjacencies())
        tables = first
        publisher = TablePublisher(first.view, workers: workers)
        alive[UnsafeRawPointer(first.view.hops)] = first
        publisher.onFree = { [unowned self] p in self.alive[UnsafeRawPointer(p.pointee.hops)] = nil }
        refreshAddresses()
        rebuild()
        admin?.onAnswer = { [unowned self] from, reply in self.onAnswer("\(from): \(reply)") }
    }

    /// Each port's IPv4 and IPv6 address (ICMP errors come from them; ARP
    /// and neighbour solicitations too).
    func refreshAddresses() {
        guard let all = try? NetworkInterface.all() else { return }
        localAddresses = Set(all.flatMap(\.addresses))
        for p in ports {
            guard let i = all.first(where: { $0.name == p.interface }) else { continue }
            p.v4 = i.addresses.first { $0.isV4 }
            let v6 = i.addresses.filter { !$0.isV4 }
            p.v6 = v6.first { if case .v6(let a) = $0 { a.high >> 54 != 0x3FA } else { false } } ?? v6.first
        }
    }

    func neighbourMAC(_ ifindex: Int32, _ a: IPAddress) -> MACAddress? {
        if let m = resolver.lookup(.init(interface: ifindex, address: a)) { return m }
        if let n = fib?.mirror.neighbours[.init(interface: ifindex, address: a)], n.isUsable { return n.mac }
        return nil
    }

    /// Builds the adjacencies and host routes from the route sets and what
    /// is known of the neighbours, and publishes them.
    func rebuild() {
        let portMap = Dictionary(uniqueKeysWithValues: ports.map { ($0.ifindex, (port: $0.index, mac: $0.mac)) })
        let sets = fib?.mirror.sets ?? (admin != nil ? managerSets : fileSets)
        let adj = Adjacencies.build(sets: sets, ports: portMap) { self.neighbourMAC($0, $1) }
        var hosts: [IPAddress: Adjacencies.Hop] = [:]
        if let f = fib {
            for (k, n) in f.mirror.neighbours where n.isUsable {
                guard let p = portOf[k.interface], let mac = n.mac else { continue }
                hosts[k.address] = Adjacencies.Hop(kind: .forward, port: p, source: ports[p].mac, destination: mac)
            }
        }
        for (k, e) in resolver.entries {
            guard let p = portOf[k.interface] else { continue }
            hosts[k.address] = Adjacencies.Hop(kind: .forward, port: p, source: ports[p].mac, destination: e.mac)
        }
        // The router's own addresses are the kernel's (an AF_PACKET port sees them too).
        for a in localAddresses { hosts[a] = Adjacencies.Hop(kind: .kernel) }
        let t = RouterTables(adj, hosts: hosts)
        alive[UnsafeRawPointer(t.view.hops)] = t
        tables = t
        publisher.publish(t.view)
        stats.publishes += 1
        dirty = false
    }

    /// Descriptors the management loop waits on.
    var descriptors: [Int32] { ports.map { $0.socket.fd } + (fib.map { [$0.descriptor] } ?? []) + (admin?.descriptors ?? []) }

    var managerSets: [NextHopSet] {
        var out = [NextHopSet](repeating: NextHopSet(kind: .unreachable, hops: []), count: managerChannel.count)
        for (s, c) in managerChannel { out[c] = s }
        return out
    }

    /// The next hop a link of the routing manager's stands for: its other
    /// end's address through this end's device (an ether link), or out of
    /// Bowman's reach (a UDP link, a link of other nodes).
    func nextHops(_ link: AbstractLink, identity: Set<String>) -> NextHopSet? {
        guard link.hosts.count == 2, let mine = link.hosts.firstIndex(where: { identity.contains($0.address) }) else { return nil }
        let here = link.hosts[mine], there = link.hosts[1 - mine]
        guard link.proto == .ether, let dev = here.device, let ifindex = try? NetworkNamespace.interfaceIndex(dev),
              let gateway = IPAddress(there.address) else {
            return NextHopSet(kind: .forward, hops: [.init(gateway: nil, interface: -1)])
        }
        return NextHopSet(kind: .forward, hops: [.init(gateway: gateway, interface: ifindex)])
    }

    /// Copies the routing manager's table into the workers' table: the
    /// difference only, so routes that stay are never absent.
    func syncFromManager() {
        guard let node = admin?.node else { return }
        var mine: [Int: Int] = [:]
        for (_, l) in node.links {
            guard let set = nextHops(l.link, identity: node.identity) else { continue }
            if managerChannel[set] == nil { managerChannel[set] = managerChannel.count }
            mine[l.channel] = managerChannel[set]!
        }
        var want: [IPPrefix: Int] = [:]
        for e in node.routeTables[managerTable]?.entries ?? [] { if let c = mine[e.channel] { want[e.prefix] = c } }
        let have = Dictionary(routes.entries.map { ($0.prefix, $0.channel) }, uniquingKeysWith: { a, _ in a })
        let gone = have.keys.filter { want[$0] == nil }
        let changed = want.filter { have[$0.key] != $0.value }.map { (prefix: $0.key, channel: $0.value) }
        guard !gone.isEmpty || !changed.isEmpty || managerChannel.count != tables.adjacencies.channelCount else { return }
        do {
            // New channels first, so no route points past the published adjacencies for long.
            rebuild()
            try routes.add(contentsOf: changed)
            try routes.delete(contentsOf: gone)
        } catch {
            onAnswer("routing manager's table \(managerTable) not copied: \(error)")
        }
        recycleDue = true
        dirty = true
    }

    /// Takes a routes file again (a reload): the whole file is read and
    /// checked first (a bad one changes nothing and says where), then only
    /// the difference reaches the running table. Next-hop sets keep their
    /// channel numbers, new ones are appended, so no route points at a
    /// wrong adjacency while the change is made. Returns a summary line.
    public func reloadRoutes(file path: String) throws -> String {
        guard fib == nil, admin == nil else { throw DataPlane.Failure("the routes come from \(fib != nil ? "the kernel" : "the routing manager"), not a file") }
        let loaded = try RouterRoutes.load(path) { try? NetworkNamespace.interfaceIndex($0) }
        var channelOf = Dictionary(fileSets.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
        var sets = fileSets
        var want: [IPPrefix: Int] = [:]
        for (p, s) in loaded {
            if channelOf[s] == nil { channelOf[s] = sets.count; sets.append(s) }
            want[p] = channelOf[s]!
        }
        let have = Dictionary(routes.entries.map { ($0.prefix, $0.channel) }, uniquingKeysWith: { a, _ in a })
        let gone = have.keys.filter { want[$0] == nil }
        let changed = want.filter { have[$0.key] != $0.value }.map { (prefix: $0.key, channel: $0.value) }
        fileSets = sets
        rebuild()   // new adjacencies first, then the routes that use them
        try routes.add(contentsOf: changed)
        try routes.delete(contentsOf: gone)
        recycleDue = true
        dirty = true
        return "routes reloaded from \(path): \(changed.count) added or changed, \(gone.count) removed, \(routes.count) in all"
    }

    /// Does everything due, waiting up to `milliseconds` for traffic or
    /// punted packets (punt rings are looked at every millisecond).
    public func service(milliseconds: Int) {
        let end = SystemClock.monotonicMilliseconds + UInt64(max(0, milliseconds))
        repeat {
            let readable = Poll.wait(descriptors.map { Poll.Request($0) }, milliseconds: 1)
            let now = SystemClock.monotonicMilliseconds
            if let f = fib, readable.contains(f.descriptor) {
                if (try? f.pump()) ?? 0 > 0 { dirty = true; recycleDue = true }
            }
            for p in ports where readable.contains(p.socket.fd) { learn(from: p, now: now) }
            if let a = admin, !readable.isDisjoint(with: a.descriptors) {
                try? a.service(readable: readable)
                syncFromManager()
            }
            if dirty { rebuild() }
            for ring in punts {
                _ = ring.pop(max: 256) { h, bytes in self.punted(h, bytes, now: now) }
            }
            act(resolver.tick(now: now), now: now)
            for (_, h) in hold.expire(now: now) { unresolvable(h, now: now) }
            if dirty { rebuild() }
            publisher.reclaim()
            if recycleDue && publisher.pending == 0 {
                // Every worker has passed a quiescent point since the last
                // route change: the memory it replaced can be reused.
                routes.recycleRetired()
                recycleDue = false
            }
        } while SystemClock.monotonicMilliseconds < end
    }

    func learn(from p: Port, now: UInt64) {
        while true {
            let n = (try? p.socket.receiveBurst(into: &rx, pool: &pool)) ?? 0
            if n == 0 { break }
            for k in 0..<rx.count {
                for (a, mac) in NeighbourFrames.learned(from: UnsafeRawBufferPointer(rx.packet(at: k, in: pool))) {
                    let key = NeighbourResolver.Key(interface: p.ifindex, address: a)
                    let before = resolver.lookup(key)
                    let actions = resolver.learn(key, mac: mac, now: now)
                    if before != mac {
                        stats.resolved += 1
                        dirty = true
                    }
                    if !actions.isEmpty || before != mac {
                        if dirty { rebuild() }
                        act(actions, now: now)
                        sendHeld(key, now: now)
                    }
                }
            }
            pool.release(burst: &rx)
        }
    }

    func act(_ actions: [NeighbourResolver.Action], now: UInt64) {
        for a in actions {
            switch a {
            case .solicit(let k):
                guard let pi = portOf[k.interface] else { continue }
                let p = ports[pi]
                let source = k.address.isV4 ? p.v4 : p.v6
                if let s = source, let f = NeighbourFrames.request(for: k.address, mac: p.mac, source: s) {
                    _ = p.socket.send(frames: [f])
                    stats.solicitations += 1
                }
            case .resolved(_, let k, _):
                if dirty { rebuild() }
                sendHeld(k, now: now)
            case .failed(_, let k):
                for h in hold.release(k) { unresolvable(h, now: now) }
            }
        }
    }

    /// Sends what was held for `k`, each packet decided again on the current tables.
    func sendHeld(_ k: NeighbourResolver.Key, now: UInt64) {
        for h in hold.release(k) {
            var b = h.bytes
            switch decide(&b) {
            case .forward(let port):
                if ports[port].socket.send(frames: [b]) == 1 { stats.heldSent += 1 }
            default:
                unresolvable(h, now: now)
            }
        }
    }

    func unresolvable(_ h: HoldQueue<NeighbourResolver.Key>.Held, now: UInt64) {
        stats.heldUnresolved += 1
        h.bytes.withUnsafeBytes { error(.hostUnreachable, about: $0, input: h.input, now: now) }
    }

    func decide(_ b: inout [UInt8]) -> RouteDecision {
        let step = RouterStep(routes: routes, tables: tables)
        return b.withUnsafeMutableBytes { step.decide($0) }
    }

    func punted(_ h: PuntHeader, _ bytes: UnsafeRawBufferPointer, now: UInt64) {
        let input = Int(h.input)
        guard input < ports.count, let reason = PuntReason(rawValue: h.reason) else { return }
        switch reason {
        case .timeExceeded: error(.timeExceeded, about: bytes, input: input, now: now)
        case .noRoute: error(.noRoute, about: bytes, input: input, now: now)
        case .unreachable: error(.hostUnreachable, about: bytes, input: input, now: now)
        case .prohibit: error(.prohibited, about: bytes, input: input, now: now)
        case .kernel: stats.kernelDropped += 1
        case .unresolved, .glean:
            // Decided again on the management core's (possibly newer) tables.
            var b = Array(bytes)
            let d = decide(&b)
            let key: NeighbourResolver.Key
            switch d {
            case .forward(let port):
                if ports[port].socket.send(frames: [b]) == 1 { stats.heldSent += 1 }
                return
            case .unresolved(let c, let hop):
                guard c < tables.adjacencies.channelCount else { return }
                let i = tables.adjacencies.first[c] + hop
                guard let g = tables.adjacencies.gateways[i] else { return }
                key = .init(interface: ports[tables.adjacencies.hops[i].port].ifindex, address: g)
            case .glean(let c):
                guard c < tables.adjacencies.channelCount else { return }
                let i = tables.adjacencies.first[c]
                guard let (family, at) = RouteTable.destination(in: bytes) else { return }
                let dst: IPAddress = family == 4 ? .v4(IPv4Address(loadingFrom: bytes, at: at)) : .v6(IPv6Address(loadingFrom: bytes, at: at))
                key = .init(interface: ports[tables.adjacencies.hops[i].port].ifindex, address: dst)
            case .timeExceeded: error(.timeExceeded, about: bytes, input: input, now: now); return
            case .noRoute: error(.noRoute, about: bytes, input: input, now: now); return
            case .unreachable: error(.hostUnreachable, about: bytes, input: input, now: now); return
            case .prohibit: error(.prohibited, about: bytes, input: input, now: now); return
            case .kernel: stats.kernelDropped += 1; return
            case .blackhole, .malformed: return
            }
            guard hold.hold(Array(bytes), input: input, for: key, now: now) else { stats.holdFull += 1; return }
            stats.held += 1
            nextQuery += 1
            act(resolver.query(key, id: nextQuery, now: now), now: now)
        }
    }

    /// An ICMP error about `bytes` back out of the port it came in by.
    func error(_ kind: ICMPErrors.Kind, about bytes: UnsafeRawBufferPointer, input: Int, now: UInt64) {
        let p = ports[input]
        guard let (family, _) = RouteTable.destination(in: bytes), let source = family == 4 ? p.v4 : p.v6 else {
            stats.icmpNotAllowed += 1
            return
        }
        let frame: [UInt8]
        do { frame = try ICMPErrors.frame(about: bytes, kind: kind, source: source, mac: p.mac) } catch {
            stats.icmpNotAllowed += 1
            return
        }
        // The error goes to the packet's source: limited per host, then in all.
        if let (family, at) = RouteTable.destination(in: bytes) {
            let host: IPAddress = family == 4 ? .v4(IPv4Address(loadingFrom: bytes, at: at - 4)) : .v6(IPv6Address(loadingFrom: bytes, at: at - 16))
            guard icmpPerHost.take(host, now: now) else { stats.icmpRateLimited += 1; return }
        }
        guard icmp.take(now: now) else { stats.icmpRateLimited += 1; return }
        if p.socket.send(frames: [frame]) == 1 { stats.icmpSent += 1 }
    }

    /// The workers' counters summed, and the management core's.
    public func summary() -> String {
        var fwd: UInt64 = 0, bh: UInt64 = 0, bad: UInt64 = 0, overflow: UInt64 = 0
        var punted: [PuntReason: UInt64] = [:]
        for c in counters {
            fwd += c.forwarded.load(ordering: .relaxed)
            bh += c.blackholed.load(ordering: .relaxed)
            bad += c.malformed.load(ordering: .relaxed)
            for r in PuntReason.allCases { punted[r, default: 0] += c.punted(r) }
        }
        for r in punts { overflow += r.overflow.load(ordering: .relaxed) }
        let p = PuntReason.allCases.map { "\($0) \(punted[$0] ?? 0)" }.joined(separator: ", ")
        return "router: forwarded \(fwd), blackholed \(bh), not IP or malformed \(bad); to the management core: \(p)"
            + " (punt ring full \(overflow)); \(stats)"
    }
}
