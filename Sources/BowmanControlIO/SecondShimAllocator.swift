import BowmanControl
import BowmanCore
import BowmanSystem

/// Shim-UDP allocation under the second shim: the source/destination pairs
/// the policy allows are raced (staggered, RFC 8305), each attempt on its
/// own client-only node bound to the pair's source; the first that gets
/// its echo wins, the others are dropped, and the caller gets the winning
/// node and flow, after which the second shim is out of the way.
public enum SecondShimAllocator {
    public struct Result {
        public let node: ShimUDPDriver
        public let flow: ShimUDP.FlowID
        public let pair: SecondShim.Pair
        /// Every pair that was started, in order.
        public let attempted: [SecondShim.Pair]
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public var attempted: [SecondShim.Pair]
    }

    /// Allocates with the policy the administrator's table gives `application`.
    public static func allocate(application: String, destinations: [IPAddress], sources: [IPAddress],
                                policies: SecondShim.PolicyTable, perAttempt: ShimUDP.Configuration = .init()) throws -> Result {
        try allocate(application: application, destinations: destinations, sources: sources,
                     policy: policies.policy(for: application), perAttempt: perAttempt)
    }

    public static func allocate(application: String, destinations: [IPAddress], sources: [IPAddress],
                                policy: SecondShim.Policy, attemptDelay: UInt64 = 250, timeout: UInt64 = 5000,
                                perAttempt: ShimUDP.Configuration = .init()) throws -> Result {
        let pairs = SecondShim.pairs(destinations: destinations, sources: sources, policy: policy)
        var race = SecondShim.Race(pairs: pairs, now: SystemClock.monotonicMilliseconds, attemptDelay: attemptDelay, timeout: timeout)
        var attempts: [SecondShim.Pair: (ShimUDPDriver, ShimUDP.FlowID)] = [:]
        var attempted: [SecondShim.Pair] = []
        func act(_ actions: [SecondShim.Race.Action]) throws -> Result? {
            for a in actions {
                switch a {
                case .attempt(let p):
                    attempted.append(p)
                    do {
                        let node = try ShimUDPDriver(address: p.source, configuration: perAttempt, clientOnly: true)
                        let (f, _) = try node.allocate(to: application, address: p.destination)
                        attempts[p] = (node, f)
                    } catch {
                        // Cannot even bind this source: this pair has failed.
                        if let r = try act(race.failed(p, now: SystemClock.monotonicMilliseconds)) { return r }
                    }
                case .cancel(let p):
                    attempts[p] = nil
                case .succeeded(let p):
                    guard let (node, f) = attempts[p] else { continue }
                    return Result(node: node, flow: f, pair: p, attempted: attempted)
                case .failed(let why):
                    throw Failure(description: "\(application): \(why) (tried \(attempted.map(\.description).joined(separator: ", ")))",
                                  attempted: attempted)
                }
            }
            return nil
        }
        while true {
            if let r = try act(race.tick(now: SystemClock.monotonicMilliseconds)) { return r }
            for (p, (node, f)) in attempts {
                for n in try node.poll(milliseconds: attempts.count > 1 ? 2 : 10) {
                    switch n {
                    case .flowAllocated(f, _):
                        if let r = try act(race.succeeded(p, now: SystemClock.monotonicMilliseconds)) { return r }
                    case .flowFailed(f, _):
                        attempts[p] = nil
                        if let r = try act(race.failed(p, now: SystemClock.monotonicMilliseconds)) { return r }
                    default: break
                    }
                }
            }
            if attempts.isEmpty { SystemClock.sleep(milliseconds: 2) }
        }
    }
}
