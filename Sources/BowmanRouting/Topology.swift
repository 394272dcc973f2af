/// A directed graph of named nodes and weighted links, the input of the
/// routing manager's shortest-path computation. Nodes are numbered in the
/// order they were first named; that order breaks ties between equal paths.
public struct Topology: Sendable {
    public struct Link: Sendable, Equatable {
        public var to: Int
        public var weight: UInt64
        public var up: Bool
    }

    public private(set) var names: [String] = []
    var index: [String: Int] = [:]
    /// Outgoing links of each node, in the order they were added.
    public private(set) var links: [[Link]] = []

    public init() {}

    public var nodeCount: Int { names.count }
    public var linkCount: Int { links.reduce(0) { $0 + $1.count } }

    /// The node named `name`, added if it is new.
    @discardableResult
    public mutating func node(_ name: String) -> Int {
        if let n = index[name] { return n }
        index[name] = names.count
        names.append(name)
        links.append([])
        return names.count - 1
    }

    public func id(_ name: String) -> Int? { index[name] }

    /// Adds `from -> to`, or sets the weight of that link if it exists (one
    /// link per ordered pair: the routing manager's view of a topology);
    /// `keepingLower`: a parallel link only lowers the weight (files that
    /// list two links between the same nodes).
    public mutating func link(_ from: String, _ to: String, weight: UInt64, keepingLower: Bool = false) {
        let a = node(from), b = node(to)
        if let k = links[a].firstIndex(where: { $0.to == b }) {
            links[a][k].weight = keepingLower ? min(weight, links[a][k].weight) : weight
            return
        }
        links[a].append(Link(to: b, weight: weight, up: true))
    }

    /// Removes `from -> to`; false when there was no such link.
    @discardableResult
    public mutating func removeLink(_ from: String, _ to: String) -> Bool {
        guard let a = index[from], let b = index[to], let k = links[a].firstIndex(where: { $0.to == b }) else { return false }
        links[a].remove(at: k)
        return true
    }

    /// Marks `from -> to` up or down (a down link is kept but not used).
    @discardableResult
    public mutating func setLink(_ from: String, _ to: String, up: Bool) -> Bool {
        guard let a = index[from], let b = index[to], let k = links[a].firstIndex(where: { $0.to == b }) else { return false }
        links[a][k].up = up
        return true
    }
}

/// Single-source shortest paths over a `Topology` (Dijkstra with a binary
/// heap). Each node's label is (distance, hops, first hop); labels are
/// compared in that order, so among paths of equal distance the one with
/// fewer hops wins, then the one whose first hop was named first. The
/// order is kept by extending a path (distance and hops only grow), so the
/// result is one deterministic shortest-path tree whatever the link order.
///
/// Multi-homed hosts (the routing manager's `multi_home h1 h2 ...`) are one
/// node: a group's members share one label, links between them cost
/// nothing and are not hops, and a path may leave the group from any member.
public enum ShortestPaths {
    public struct Result: Sendable, Equatable {
        public var source: Int
        /// nil where the node is unreachable.
        public var distance: [UInt64?]
        public var hops: [Int]
        /// The neighbour of the source (or of its group) a path starts with;
        /// -1 for the source's group and for unreachable nodes.
        public var firstHop: [Int]
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case unknownNode(String)
        case inTwoGroups(String)
        public var description: String {
            switch self {
            case .unknownNode(let n): "no node is named '\(n)'"
            case .inTwoGroups(let n): "node '\(n)' is in two multi-home groups"
            }
        }
    }

    /// Maps each node to its group's representative (the member named first).
    public static func groups(_ t: Topology, multiHome: [[String]]) throws(Failure) -> [Int] {
        var rep = Array(0..<t.nodeCount)
        var grouped = [Bool](repeating: false, count: t.nodeCount)
        for g in multiHome {
            var ids: [Int] = []
            for n in g {
                guard let i = t.id(n) else { throw .unknownNode(n) }
                guard !grouped[i] else { throw .inTwoGroups(n) }
                grouped[i] = true
                ids.append(i)
            }
            guard let r = ids.min() else { continue }
            for i in ids { rep[i] = r }
        }
        return rep
    }

    public static func compute(_ t: Topology, from source: String, multiHome: [[String]] = []) throws(Failure) -> Result {
        guard let s = t.id(source) else { throw .unknownNode(source) }
        return compute(t, from: s, representative: try groups(t, multiHome: multiHome))
    }

    /// `representative[v]`: v's group (v itself when not multi-homed).
    public static func compute(_ t: Topology, from s: Int, representative rep: [Int]) -> Result {
        let n = t.nodeCount
        var members = [[Int]](repeating: [], count: n)
        for v in 0..<n { members[rep[v]].append(v) }
        var dist = [UInt64](repeating: .max, count: n)
        var hops = [Int](repeating: .max, count: n)
        var first = [Int](repeating: .max, count: n)  // .max: unset; -1: the source's group
        var done = [Bool](repeating: false, count: n)
        var heap = Heap()
        let rs = rep[s]
        dist[rs] = 0; hops[rs] = 0; first[rs] = -1
        heap.push(Heap.Item(distance: 0, hops: 0, firstHop: -1, node: rs))
        while let top = heap.pop() {
            let u = top.node
            if done[u] { continue }
            done[u] = true
            for m in members[u] {
                for l in t.links[m] where l.up {
                    let v = rep[l.to]
                    if v == u || done[v] { continue }
                    let (d, over) = dist[u].addingReportingOverflow(l.weight)
                    if over { continue }
                    let h = hops[u] + 1
                    let f = u == rs ? l.to : first[u]
                    if (d, h, f) < (dist[v], hops[v], first[v]) {
                        dist[v] = d; hops[v] = h; first[v] = f
                        heap.push(Heap.Item(distance: d, hops: h, firstHop: f, node: v))
                    }
                }
            }
        }
        var r = Result(source: s, distance: [], hops: [], firstHop: [])
        r.distance.reserveCapacity(n); r.hops.reserveCapacity(n); r.firstHop.reserveCapacity(n)
        for v in 0..<n {
            let g = rep[v]
            let reached = done[g]
            r.distance.append(reached ? dist[g] : nil)
            r.hops.append(reached ? hops[g] : -1)
            r.firstHop.append(reached ? first[g] : -1)
        }
        return r
    }

    /// A binary min-heap of tentative labels (lazy deletion: stale items are
    /// skipped when popped).
    struct Heap {
        struct Item {
            var distance: UInt64, hops: Int, firstHop: Int, node: Int
            static func < (a: Item, b: Item) -> Bool {
                (a.distance, a.hops, a.firstHop, a.node) < (b.distance, b.hops, b.firstHop, b.node)
            }
        }
        var items: [Item] = []
        mutating func push(_ x: Item) {
            items.append(x)
            var i = items.count - 1
            while i > 0 {
                let p = (i - 1) / 2
                guard items[i] < items[p] else { break }
                items.swapAt(i, p)
                i = p
            }
        }
        mutating func pop() -> Item? {
            guard let top = items.first else { return nil }
            let last = items.removeLast()
            if items.isEmpty { return top }
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count, items[l] < items[m] { m = l }
                if r < items.count, items[r] < items[m] { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
            return top
        }
    }
}
