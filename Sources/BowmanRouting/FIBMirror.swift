import BowmanCore

/// What a route table's channel stands for when it mirrors a kernel table:
/// the route's kind and its next hops (several for ECMP, in a fixed order).
public struct NextHopSet: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable { case forward, blackhole, unreachable, prohibit }
    public var kind: Kind
    public var hops: [RouteNetlink.NextHop]
    public init(kind: Kind, hops: [RouteNetlink.NextHop]) {
        self.kind = kind
        self.hops = hops.sorted { ($0.interface, $0.gateway?.description ?? "", $0.weight) < ($1.interface, $1.gateway?.description ?? "", $1.weight) }
    }
    public var description: String {
        switch kind {
        case .forward: hops.map(\.description).joined(separator: ", ")
        case .blackhole: "blackhole"
        case .unreachable: "unreachable"
        case .prohibit: "prohibit"
        }
    }
}

/// A Linux routing table followed into a `RouteTable`: the kernel's routes
/// (every priority of every prefix, as the kernel keeps them) and, in the
/// route table, each prefix's best one (lowest priority) as a channel that
/// names its `NextHopSet`; plus the neighbours the kernel reports (for
/// next-hop resolution). Sans-I/O: it takes decoded rtnetlink events and
/// says whether the route table changed.
public final class FIBMirror: @unchecked Sendable {
    /// The kernel table followed (254 is `main`).
    public let kernelTable: UInt32
    public let routes: RouteTable
    /// Channel id -> next-hop set. Ids are never reused while the mirror
    /// lives (a worker may still hold one).
    public private(set) var sets: [NextHopSet] = []
    var setIDs: [NextHopSet: Int] = [:]
    /// prefix -> priority -> route.
    var kernel: [IPPrefix: [UInt32: RouteNetlink.Route]] = [:]
    public struct NeighbourKey: Hashable, Sendable {
        public var interface: Int32
        public var address: IPAddress
        public init(interface: Int32, address: IPAddress) { self.interface = interface; self.address = address }
    }
    public private(set) var neighbours: [NeighbourKey: RouteNetlink.Neighbour] = [:]

    public init(kernelTable: UInt32 = 254, routes: RouteTable) {
        self.kernelTable = kernelTable
        self.routes = routes
    }

    /// Forgets everything (before dumping again after lost notifications).
    public func reset() throws(RouteTable.Failure) {
        // One batch: a resynchronisation of a full table rebuilds each /16 once.
        try routes.delete(contentsOf: Array(kernel.keys))
        kernel = [:]
        neighbours = [:]
    }

    public func channel(for set: NextHopSet) -> Int {
        if let i = setIDs[set] { return i }
        sets.append(set)
        setIDs[set] = sets.count - 1
        return sets.count - 1
    }

    /// The next-hop set behind the channel a lookup returned.
    public func nextHops(channel: Int) -> NextHopSet? { channel >= 0 && channel < sets.count ? sets[channel] : nil }

    /// The kernel's best route for `prefix` now (lowest priority).
    public func kernelRoute(_ prefix: IPPrefix) -> RouteNetlink.Route? {
        kernel[prefix]?.min { $0.key < $1.key }?.value
    }

    public var kernelRoutes: [RouteNetlink.Route] {
        kernel.values.flatMap(\.values).sorted { ($0.prefix.description, $0.priority) < ($1.prefix.description, $1.priority) }
    }

    static func kind(_ t: RouteNetlink.RouteType) -> NextHopSet.Kind? {
        switch t {
        case .unicast: .forward
        case .blackhole: .blackhole
        case .unreachable: .unreachable
        case .prohibit: .prohibit
        default: nil
        }
    }

    /// Applies one event; true when the route table changed.
    @discardableResult
    public func apply(_ e: RouteNetlink.Event) throws(RouteTable.Failure) -> Bool {
        switch e {
        case .addRoute(let r, let replace):
            guard r.table == kernelTable, Self.kind(r.type) != nil else { return false }
            var byPriority = kernel[r.prefix] ?? [:]
            // IPv6 ECMP: another next hop of a route the kernel already has
            // arrives as its own message (not a replacement): merge it.
            if !replace, let old = byPriority[r.priority], old.type == r.type, case .v6 = r.prefix.address {
                var merged = old
                for h in r.nextHops where !merged.nextHops.contains(h) { merged.nextHops.append(h) }
                byPriority[r.priority] = merged
            } else {
                byPriority[r.priority] = r
            }
            kernel[r.prefix] = byPriority
            return try install(r.prefix)
        case .deleteRoute(let r):
            guard r.table == kernelTable, var byPriority = kernel[r.prefix], var old = byPriority[r.priority] else { return false }
            // A delete naming some next hops removes those (one IPv6 ECMP
            // sibling); naming all or none removes the route.
            let remaining = r.nextHops.isEmpty ? [] : old.nextHops.filter { !r.nextHops.contains($0) }
            if remaining.isEmpty { byPriority[r.priority] = nil } else { old.nextHops = remaining; byPriority[r.priority] = old }
            kernel[r.prefix] = byPriority.isEmpty ? nil : byPriority
            return try install(r.prefix)
        case .addNeighbour(let n):
            neighbours[NeighbourKey(interface: n.interface, address: n.address)] = n
            return false
        case .deleteNeighbour(let n):
            neighbours[NeighbourKey(interface: n.interface, address: n.address)] = nil
            return false
        case .done, .error, .ignored:
            return false
        }
    }

    /// Puts the kernel's best route for `prefix` into the route table (or takes it out).
    func install(_ prefix: IPPrefix) throws(RouteTable.Failure) -> Bool {
        guard let best = kernelRoute(prefix), let kind = Self.kind(best.type) else {
            return try routes.delete(prefix) != nil
        }
        let c = channel(for: NextHopSet(kind: kind, hops: kind == .forward ? best.nextHops : []))
        let old = try routes.add(prefix, channel: c)
        return old != c
    }
}
