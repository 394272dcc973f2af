import BowmanCore
import BowmanPacket
import BowmanRouting

/// Where a route's channel leads, as the workers read it: one adjacency per
/// next hop (ECMP hops repeated by weight), each an egress port and the
/// MACs to write, or a kind that is not forwarded. Built by the management
/// core from the mirrored FIB or the routing manager's tables and the
/// neighbour resolver, published read-only (TablePublisher).
public struct Adjacencies: Sendable {
    /// `unresolved`: the gateway's MAC is not known yet. `glean`: a
    /// connected route (no gateway): the packet's own destination must be
    /// resolved, after which the management core installs a host route
    /// (/32, /128) to its MAC. `kernel`: out of an interface that is not
    /// one of Bowman's ports — the kernel forwards it.
    public enum Kind: UInt8, Sendable, BitwiseCopyable { case forward, unresolved, glean, kernel, blackhole, unreachable, prohibit }
    public struct Hop: Sendable, Equatable, BitwiseCopyable {
        public var kind: Kind
        public var port: Int
        public var source: MACAddress
        public var destination: MACAddress
        public init(kind: Kind, port: Int = 0, source: MACAddress = MACAddress(rawValue: 0), destination: MACAddress = MACAddress(rawValue: 0)) {
            self.kind = kind; self.port = port; self.source = source; self.destination = destination
        }
    }
    /// Hops of every channel, flat; `first[c]..<first[c + 1]` are channel c's.
    public private(set) var hops: [Hop] = []
    public private(set) var first: [Int] = [0]
    /// The gateway each hop leads to (nil: a connected route), for the
    /// management core resolving an `unresolved` hop; not read per packet.
    public private(set) var gateways: [IPAddress?] = []

    public init() {}

    /// Appends the hops of the next channel id (`channelCount`); weights repeat a hop.
    public mutating func append(_ channelHops: [(Hop, weight: Int)]) {
        append(channelHops.map { ($0.0, $0.weight, nil) })
    }

    /// The same, with each hop's gateway.
    public mutating func append(_ channelHops: [(Hop, weight: Int, gateway: IPAddress?)]) {
        for (h, w, g) in channelHops { for _ in 0..<max(1, w) { hops.append(h); gateways.append(g) } }
        first.append(hops.count)
    }

    public var channelCount: Int { first.count - 1 }

    /// The adjacencies of a mirrored table's next-hop sets (channel c is
    /// `sets[c]`): `ports` maps a kernel interface index to Bowman's port
    /// and its MAC; `neighbour` gives a gateway's MAC when it is known.
    public static func build(sets: [NextHopSet], ports: [Int32: (port: Int, mac: MACAddress)],
                             neighbour: (Int32, IPAddress) -> MACAddress?) -> Adjacencies {
        var a = Adjacencies()
        for set in sets {
            switch set.kind {
            case .blackhole: a.append([(Hop(kind: .blackhole), 1)])
            case .unreachable: a.append([(Hop(kind: .unreachable), 1)])
            case .prohibit: a.append([(Hop(kind: .prohibit), 1)])
            case .forward:
                a.append(set.hops.map { h -> (Hop, weight: Int, gateway: IPAddress?) in
                    guard let p = ports[h.interface] else { return (Hop(kind: .kernel), h.weight, h.gateway) }
                    guard let g = h.gateway else { return (Hop(kind: .glean, port: p.port, source: p.mac), h.weight, nil) }
                    guard let mac = neighbour(h.interface, g) else { return (Hop(kind: .unresolved, port: p.port, source: p.mac), h.weight, g) }
                    return (Hop(kind: .forward, port: p.port, source: p.mac, destination: mac), h.weight, g)
                })
            }
        }
        return a
    }
}

/// The workers' read-only form of a router's adjacencies and its host
/// routes (neighbours on connected subnets, learned by gleaning): flat
/// memory behind plain pointers, so reading it per packet touches no
/// reference count. Owned by a `RouterTables`, which must outlive every
/// view of it (the management core keeps it until the TablePublisher
/// frees the published view).
public struct RouterView: @unchecked Sendable, BitwiseCopyable {
    public struct HostSlot: Sendable, BitwiseCopyable {
        /// 0: empty; 4 or 6.
        public var family: UInt64
        public var high: UInt64, low: UInt64
        public var hop: Adjacencies.Hop
    }
    public let hops: UnsafePointer<Adjacencies.Hop>
    public let first: UnsafePointer<Int32>
    public let channelCount: Int
    public let hostSlots: UnsafePointer<HostSlot>
    public let hostMask: Int

    @inlinable static func slot(_ family: UInt64, _ high: UInt64, _ low: UInt64) -> UInt64 {
        RouterStep.mix(high ^ (low &* 0x9E37_79B9_7F4A_7C15) ^ family)
    }

    /// The host route for the destination at `at` (family 4 or 6), if one was learned.
    @inlinable public func host(family: Int, at: Int, in p: UnsafeRawBufferPointer) -> Adjacencies.Hop? {
        let f = UInt64(family), hi: UInt64, lo: UInt64
        if family == 4 {
            hi = UInt64(IPv4Address(loadingFrom: p, at: at).rawValue); lo = 0
        } else {
            let a = IPv6Address(loadingFrom: p, at: at); hi = a.high; lo = a.low
        }
        var i = Int(truncatingIfNeeded: Self.slot(f, hi, lo)) & hostMask
        while true {
            let s = hostSlots[i]
            if s.family == 0 { return nil }
            if s.family == f && s.high == hi && s.low == lo { return s.hop }
            i = (i &+ 1) & hostMask
        }
    }
}

/// Owns the memory of one `RouterView`: adjacencies and host routes,
/// immutable once made (a change makes a new one, published whole).
public final class RouterTables: @unchecked Sendable {
    public let adjacencies: Adjacencies
    public let hosts: [IPAddress: Adjacencies.Hop]
    public let view: RouterView
    let hopMemory: UnsafeMutablePointer<Adjacencies.Hop>
    let firstMemory: UnsafeMutablePointer<Int32>
    let slotMemory: UnsafeMutablePointer<RouterView.HostSlot>

    public init(_ adjacencies: Adjacencies, hosts: [IPAddress: Adjacencies.Hop] = [:]) {
        self.adjacencies = adjacencies
        self.hosts = hosts
        hopMemory = .allocate(capacity: max(1, adjacencies.hops.count))
        for (i, h) in adjacencies.hops.enumerated() { (hopMemory + i).initialize(to: h) }
        firstMemory = .allocate(capacity: adjacencies.first.count)
        for (i, f) in adjacencies.first.enumerated() { (firstMemory + i).initialize(to: Int32(f)) }
        var size = 8
        while size < hosts.count * 2 { size <<= 1 }
        slotMemory = .allocate(capacity: size)
        let empty = RouterView.HostSlot(family: 0, high: 0, low: 0, hop: Adjacencies.Hop(kind: .blackhole))
        slotMemory.initialize(repeating: empty, count: size)
        for (a, hop) in hosts {
            let (f, hi, lo): (UInt64, UInt64, UInt64) = switch a {
            case .v4(let x): (4, UInt64(x.rawValue), 0)
            case .v6(let x): (6, x.high, x.low)
            }
            var i = Int(truncatingIfNeeded: RouterView.slot(f, hi, lo)) & (size - 1)
            while slotMemory[i].family != 0 { i = (i + 1) & (size - 1) }
            slotMemory[i] = RouterView.HostSlot(family: f, high: hi, low: lo, hop: hop)
        }
        view = RouterView(hops: UnsafePointer(hopMemory), first: UnsafePointer(firstMemory), channelCount: adjacencies.channelCount,
                          hostSlots: UnsafePointer(slotMemory), hostMask: size - 1)
    }

    deinit {
        hopMemory.deallocate()
        firstMemory.deallocate()
        slotMemory.deallocate()
    }
}

/// What the router does with one packet.
public enum RouteDecision: Equatable, Sendable {
    /// Rewritten (TTL/hop limit decremented, checksum updated, MACs set): send on `port`.
    case forward(port: Int)
    /// The next hop's MAC is not known yet: hold (bounded) while the management core resolves it.
    case unresolved(channel: Int, hop: Int)
    /// On a connected subnet whose host is not resolved yet: hold while the
    /// management core resolves the packet's destination.
    case glean(channel: Int)
    /// Out of an interface Bowman does not own: pass it to the kernel.
    case kernel
    /// To the management core, which answers with ICMP (rate-limited): time
    /// exceeded, destination unreachable (no route, or an unreachable/prohibit route).
    case timeExceeded, noRoute, unreachable, prohibit
    /// Dropped without a word: a blackhole route, or not a well-formed IP packet.
    case blackhole, malformed
}

/// The per-packet step of the IPv4/IPv6 router forwarding function:
/// destination lookup in the route table, TTL or hop-limit check and
/// decrement (RFC 1624 incremental update of the IPv4 header checksum), the
/// next hop chosen by a flow hash among ECMP hops, MACs rewritten. No
/// allocation, no lock; the tables are read through a final class and a
/// struct of arrays, nothing through an existential.
public struct RouterStep: Sendable {
    public let routes: RouteTable
    /// The adjacencies and host routes read per packet (a worker sets it
    /// from the published table at the start of every burst).
    public var view: RouterView
    /// Keeps the tables of `init(routes:tables:)` alive (nil on the data
    /// path, where the management core owns them).
    let owner: RouterTables?

    /// A step over `view`, whose owner the caller keeps alive.
    public init(routes: RouteTable, view: RouterView) {
        self.routes = routes; self.view = view; owner = nil
    }

    public init(routes: RouteTable, tables: RouterTables) {
        self.routes = routes; view = tables.view; owner = tables
    }

    public init(routes: RouteTable, adjacencies: Adjacencies, hosts: [IPAddress: Adjacencies.Hop] = [:]) {
        self.init(routes: routes, tables: RouterTables(adjacencies, hosts: hosts))
    }

    @inlinable static func mix(_ x: UInt64) -> UInt64 {
        var z = x &* 0x9E37_79B9_7F4A_7C15
        z ^= z >> 29
        z = z &* 0xBF58_476D_1CE4_E5B9
        return z ^ (z >> 32)
    }

    /// Decides for the Ethernet frame `p` (and rewrites it when it is forwarded).
    @inlinable
    public func decide(_ p: UnsafeMutableRawBufferPointer) -> RouteDecision {
        let r = UnsafeRawBufferPointer(p)
        guard let (family, at) = RouteTable.destination(in: r) else { return .malformed }
        let l3 = at - (family == 4 ? 16 : 24)
        let flow: UInt64
        if family == 4 {
            let ihl = Int(r[l3] & 0x0F) * 4
            guard ihl >= 20, r.count >= l3 + ihl else { return .malformed }
            // The header checksum must hold (a router verifies it, RFC 1812 §5.2.2).
            guard Checksum.fold(Checksum.sum(r, from: l3, to: l3 + ihl)) == 0xFFFF else { return .malformed }
            guard r[l3 + 8] > 1 else { return .timeExceeded }
            flow = UInt64(r.loadUnaligned(fromByteOffset: l3 + 12, as: UInt64.self))
        } else {
            guard r[l3 + 7] > 1 else { return .timeExceeded }
            flow = r.loadUnaligned(fromByteOffset: l3 + 8, as: UInt64.self) ^ r.loadUnaligned(fromByteOffset: l3 + 16, as: UInt64.self)
                ^ r.loadUnaligned(fromByteOffset: l3 + 24, as: UInt64.self) ^ r.loadUnaligned(fromByteOffset: l3 + 32, as: UInt64.self)
                ^ UInt64(r.loadUnaligned(fromByteOffset: l3, as: UInt32.self) & 0xFFFF_0F00)   // flow label
        }
        let channel = routes.lookup(family: family, destinationAt: at, in: r)
        guard channel >= 0 else { return .noRoute }
        // A route newer than the published adjacencies: the management
        // core decides it on its newer tables.
        guard channel < view.channelCount else { return .unresolved(channel: channel, hop: 0) }
        let lo = Int(view.first[channel]), n = Int(view.first[channel &+ 1]) &- lo
        guard n > 0 else { return .noRoute }
        let i = n == 1 ? 0 : Int(Self.mix(flow) % UInt64(n))
        var hop = view.hops[lo &+ i]
        switch hop.kind {
        case .forward: break
        case .unresolved: return .unresolved(channel: channel, hop: i)
        case .glean:
            // A neighbour on the connected subnet, once resolved, has a host route.
            // The router's own addresses are host routes of kind `kernel`.
            guard let h = view.host(family: family, at: at, in: r) else { return .glean(channel: channel) }
            if h.kind == .kernel { return .kernel }
            guard h.port == hop.port, h.kind == .forward else { return .glean(channel: channel) }
            hop = h
        case .kernel: return .kernel
        case .blackhole: return .blackhole
        case .unreachable: return .unreachable
        case .prohibit: return .prohibit
        }
        if family == 4 { HeaderEdits.decrementIPv4TTL(p, l3: l3) } else { HeaderEdits.decrementIPv6HopLimit(p, l3: l3) }
        hop.destination.store(to: p, at: 0)
        hop.source.store(to: p, at: 6)
        return .forward(port: hop.port)
    }
}
