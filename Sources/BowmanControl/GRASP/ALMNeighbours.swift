import BowmanCBOR
import BowmanCore

/// Bowman's own GRASP objective, sans I/O. Every node offers `Bowman.ALM`
/// (F_DISC, F_SYNCH) whose value is its ALM endpoint, `["198.18.0.2", 3359]`,
/// and looks for the neighbours that offer it: a discovery every `interval`
/// (cache bypassed), then a synchronisation with each responder to learn
/// its endpoint. A neighbour not heard from for three intervals is dropped.
///
/// The machine reads no clock and opens no socket: `handle(_:now:)` takes
/// what the GRASP engine produced and returns what to ask of it next
/// (`Request`s) and the neighbours that appeared or changed. A driver
/// (BowmanControlIO's `ALMDriver`) performs the requests on a GRASP node
/// and feeds their results back until none are left.
public struct ALMNeighbours: Sendable {
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

    /// What the machine asks of the GRASP engine.
    public enum Request: Equatable, Sendable {
        /// Discover `ALMNeighbours.objective`, bypassing the discovery cache.
        case discover
        /// Synchronise `ALMNeighbours.objective` with a responder.
        case synchronize(with: IPAddress)
    }

    public let interval: UInt64
    /// This node's own GRASP addresses (its answers are not neighbours).
    public let ownAddresses: Set<IPAddress>
    public private(set) var neighbours: [IPAddress: Neighbour] = [:]
    var nextDiscovery: UInt64 = 0

    public init(interval: UInt64 = 10_000, ownAddresses: Set<IPAddress>) {
        self.interval = interval
        self.ownAddresses = ownAddresses
    }

    /// The objective this node offers: its ALM endpoint as the value.
    public static func offer(_ alm: ShimUDP.Endpoint) -> GRASPObjective {
        GRASPObjective(name: objective, flags: [.discovery, .synchronization], loopCount: 1, value: value(alm))
    }

    public static func value(_ e: ShimUDP.Endpoint) -> CBOR { .array([.text(e.address.description), .unsigned(UInt64(e.port))]) }

    /// The endpoint in a `Bowman.ALM` value, or nil if it is not one.
    public static func endpoint(_ v: CBOR) -> ShimUDP.Endpoint? {
        guard case .array(let a) = v, a.count == 2, case .text(let t) = a[0], let addr = IPAddress(t),
              case .unsigned(let p) = a[1], p > 0, p <= 65535 else { return nil }
        return ShimUDP.Endpoint(addr, UInt16(p))
    }

    /// When the next discovery is due.
    public var nextDeadline: UInt64 { nextDiscovery }

    /// Takes results of the GRASP engine at `now` (none: just the timer);
    /// returns what to ask of the engine and the new or changed neighbours.
    public mutating func handle(_ results: [GRASPNode.Action], now: UInt64) -> (requests: [Request], changed: [Neighbour]) {
        var requests: [Request] = []
        if now >= nextDiscovery {
            nextDiscovery = now + interval
            requests.append(.discover)
        }
        var changed: [Neighbour] = []
        for a in results {
            switch a {
            case .discovered(Self.objective, let locators):
                for case .ipv6(let addr, _, _) in locators where !ownAddresses.contains(.v6(addr)) {
                    requests.append(.synchronize(with: .v6(addr)))
                }
            case .synchronized(Self.objective, let v, let from):
                let n = Neighbour(grasp: from, alm: Self.endpoint(v), value: v, lastSeen: now)
                let old = neighbours[from]
                neighbours[from] = n
                if old?.value != v { changed.append(n) }
            default:
                break
            }
        }
        let stale = now > 3 * interval ? now - 3 * interval : 0
        neighbours = neighbours.filter { $0.value.lastSeen >= stale }
        return (requests, changed)
    }
}
