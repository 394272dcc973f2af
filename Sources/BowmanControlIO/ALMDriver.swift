import BowmanControl
import BowmanCore
import BowmanSystem

/// Runs the `ALMNeighbours` machine on a `GRASPDriver`: offers this node's
/// ALM endpoint, performs the machine's discoveries and synchronisations,
/// feeds their results back, and passes the clock.
public final class ALMDriver {
    public let node: GRASPDriver
    public private(set) var machine: ALMNeighbours

    public init(node: GRASPDriver, alm: ShimUDP.Endpoint, interval: UInt64 = 10_000) {
        self.node = node
        machine = ALMNeighbours(interval: interval, ownAddresses: Set(node.interfaces.map { .v6($0.linkLocal) }))
        node.offer(ALMNeighbours.offer(alm), at: node.listenerLocator)
    }

    public var interval: UInt64 { machine.interval }
    public var neighbours: [IPAddress: ALMNeighbours.Neighbour] { machine.neighbours }
    /// When the next discovery is due (for a shared event loop).
    public var nextDeadline: UInt64 { machine.nextDeadline }

    /// Runs discovery when due, polls the node; returns the neighbours that
    /// appeared or changed during this call.
    public func poll(milliseconds: Int32) -> [ALMNeighbours.Neighbour] {
        step(node.poll(milliseconds: SystemClock.millisecondsUntil(nextDeadline, cap: milliseconds)))
    }

    /// Feeds results the node produced (from `poll` or a shared loop's
    /// `service`), starts discovery when due; returns new or changed neighbours.
    public func step(_ results: [GRASPNode.Action]) -> [ALMNeighbours.Neighbour] {
        var changed: [ALMNeighbours.Neighbour] = []
        var pending = results
        var first = true
        // What the engine answers at once (a cached discovery, a failure)
        // goes straight back to the machine.
        while first || !pending.isEmpty {
            first = false
            let (requests, c) = machine.handle(pending, now: SystemClock.monotonicMilliseconds)
            changed += c
            pending = []
            for r in requests {
                switch r {
                case .discover: pending += node.discover(ALMNeighbours.objective, bypassCache: true)
                case .synchronize(let peer): pending += node.synchronize(ALMNeighbours.objective, with: peer)
                }
            }
        }
        return changed
    }
}
