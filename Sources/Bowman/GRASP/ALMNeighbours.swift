import BowmanCBOR
import BowmanControl
import BowmanCore

/// Bowman's own GRASP objective. Every node offers `Bowman.ALM` (F_DISC,
/// F_SYNCH) whose value is its ALM endpoint, `["198.18.0.2", 3359]`, and
/// looks for the neighbours that offer it: a discovery every `interval`
/// (cache bypassed), then a synchronisation with each responder to learn
/// its endpoint. A neighbour not heard from for three intervals is dropped.
public final class ALMNeighbours {
    public static let objective = "Bowman.ALM"

    public struct Neighbour: Equatable, Sendable, CustomStringConvertible {
        /// The neighbour's GRASP address (link-local).
        public var grasp: IPAddress
        /// Its ALM endpoint, if its value is one.
        public var alm: ShimUDP.Endpoint?
        public var value: CBOR
        public var lastSeen: UInt64
        public var description: String { "neighbour \(grasp) ALM \(alm.map { "\($0)" } ?? "\(value)")" }
    }

    public let node: GRASPSocketNode
    public let interval: UInt64
    public private(set) var neighbours: [IPAddress: Neighbour] = [:]
    var nextDiscovery: UInt64 = 0

    public init(node: GRASPSocketNode, alm: ShimUDP.Endpoint, interval: UInt64 = 10_000) {
        self.node = node
        self.interval = interval
        node.offer(GRASPObjective(name: Self.objective, flags: [.discovery, .synchronization], loopCount: 1, value: Self.value(alm)),
                   at: node.listenerLocator)
    }

    public static func value(_ e: ShimUDP.Endpoint) -> CBOR { .array([.text(e.address.description), .unsigned(UInt64(e.port))]) }

    /// The endpoint in a `Bowman.ALM` value, or nil if it is not one.
    public static func endpoint(_ v: CBOR) -> ShimUDP.Endpoint? {
        guard case .array(let a) = v, a.count == 2, case .text(let t) = a[0], let addr = IPAddress(t),
              case .unsigned(let p) = a[1], p > 0, p <= 65535 else { return nil }
        return ShimUDP.Endpoint(addr, UInt16(p))
    }

    /// Runs discovery when due, polls the node; returns the neighbours that
    /// appeared or changed during this call.
    public func poll(milliseconds: Int32) -> [Neighbour] {
        let wait = Int32(clamping: min(Int64(milliseconds), max(0, Int64(nextDiscovery) - Int64(GRASPSocketNode.now()))))
        return step(node.poll(milliseconds: wait))
    }

    /// When the next discovery is due (for a shared event loop).
    public var nextDeadline: UInt64 { nextDiscovery }

    /// Feeds results the node produced (from `poll` or a shared loop's
    /// `service`), starts discovery when due; returns new or changed neighbours.
    public func step(_ results: [GRASPNode.Action]) -> [Neighbour] {
        let now = GRASPSocketNode.now()
        var queue: [GRASPNode.Action] = []
        if now >= nextDiscovery {
            nextDiscovery = now + interval
            queue += node.discover(Self.objective, bypassCache: true)
        }
        queue += results
        var changed: [Neighbour] = []
        let own = Set(node.interfaces.map { IPAddress.v6($0.linkLocal) })
        while !queue.isEmpty {
            let a = queue.removeFirst()
            switch a {
            case .discovered(Self.objective, let locators):
                for case .ipv6(let addr, _, _) in locators where !own.contains(.v6(addr)) {
                    queue += node.synchronize(Self.objective, with: .v6(addr))
                }
            case .synchronized(Self.objective, let v, let from):
                let n = Neighbour(grasp: from, alm: Self.endpoint(v), value: v, lastSeen: GRASPSocketNode.now())
                let old = neighbours[from]
                neighbours[from] = n
                if old?.value != v { changed.append(n) }
            default:
                break
            }
        }
        let stale = now > 3 * interval ? now - 3 * interval : 0
        neighbours = neighbours.filter { $0.value.lastSeen >= stale }
        return changed
    }
}
