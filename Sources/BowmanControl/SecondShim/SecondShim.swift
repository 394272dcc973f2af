import BowmanCore

/// The "second shim" (seed 001): when a flow allocation or a connect gets no
/// answer, try other source/destination pairs until one works, then get out
/// of the way. Sans-I/O: `pairs` orders the candidates (RFC 6724 for each
/// destination, address families interleaved as RFC 8305 §4 does), and
/// `Race` starts attempts staggered by the connection-attempt delay
/// (RFC 8305 §5), starting the next one at once when one fails, and stops
/// everything when one succeeds.
public enum SecondShim {
    /// What an administrator chose for an application.
    public enum Policy: String, Sendable, CaseIterable {
        /// Only the first pair: the application's own choice.
        case off
        /// Keep the destination; cycle through the source addresses.
        case sourcesOnly = "sources-only"
        /// Every source/destination pair.
        case allPairs = "all-pairs"
    }

    public struct Pair: Hashable, Sendable, CustomStringConvertible {
        public var source: IPAddress
        public var destination: IPAddress
        public init(source: IPAddress, destination: IPAddress) { self.source = source; self.destination = destination }
        public var description: String { "\(source) -> \(destination)" }
    }

    /// The pairs to try, best first. `destinations[0]` is the application's
    /// own destination (the first address it resolved).
    public static func pairs(destinations: [IPAddress], sources: [IPAddress], policy: Policy) -> [Pair] {
        guard let first = destinations.first else { return [] }
        switch policy {
        case .off:
            return AddressSelection.source(for: first, from: sources).map { [Pair(source: $0, destination: first)] } ?? []
        case .sourcesOnly:
            // Every usable source for the unchanged destination, preferred first.
            let usable = sources.filter { AddressSelection.sameFamily($0, first) }
            let best = AddressSelection.source(for: first, from: usable)
            return (best.map { [$0] } ?? []).map { Pair(source: $0, destination: first) }
                + usable.filter { $0 != best }.map { Pair(source: $0, destination: first) }
        case .allPairs:
            let ordered = AddressSelection.order(destinations: destinations, sources: sources).filter { $0.source != nil }
            // RFC 8305 §4: alternate families, starting with the preferred one.
            var v6 = ordered.filter { if case .v6 = $0.destination { true } else { false } }
            var v4 = ordered.filter { if case .v4 = $0.destination { true } else { false } }
            var interleaved: [(IPAddress, IPAddress?)] = []
            var takeV6 = ordered.first.map { if case .v6 = $0.destination { true } else { false } } ?? true
            while !v6.isEmpty || !v4.isEmpty {
                if takeV6, !v6.isEmpty { let x = v6.removeFirst(); interleaved.append((x.destination, x.source)) }
                else if !takeV6, !v4.isEmpty { let x = v4.removeFirst(); interleaved.append((x.destination, x.source)) }
                else if !v6.isEmpty { let x = v6.removeFirst(); interleaved.append((x.destination, x.source)) }
                else { let x = v4.removeFirst(); interleaved.append((x.destination, x.source)) }
                takeV6.toggle()
            }
            var out: [Pair] = []
            // For each destination its preferred source first, then the other usable sources.
            for (d, s) in interleaved {
                out.append(Pair(source: s!, destination: d))
                for other in sources where other != s && AddressSelection.sameFamily(other, d) && AddressSelection.scope(other) >= AddressSelection.scope(d) {
                    out.append(Pair(source: other, destination: d))
                }
            }
            return out
        }
    }

    /// Staggered attempts over ordered pairs (Happy Eyeballs), with a manual clock.
    public struct Race: Sendable {
        public enum Action: Equatable, Sendable {
            case attempt(Pair)
            case cancel(Pair)
            case succeeded(Pair)
            case failed(String)
        }

        let pairs: [Pair]
        /// RFC 8305 §5: 250 ms by default, within 100 ms to 2 s.
        public let attemptDelay: UInt64
        public let timeout: UInt64
        var next = 0
        var running: Set<Pair> = []
        var nextStart: UInt64 = 0
        let started: UInt64
        public private(set) var winner: Pair?
        public private(set) var finished = false

        public init(pairs: [Pair], now: UInt64, attemptDelay: UInt64 = 250, timeout: UInt64 = 10_000) {
            self.pairs = pairs
            self.attemptDelay = min(2000, max(100, attemptDelay))
            self.timeout = timeout
            started = now
            nextStart = now
        }

        /// Starts what is due; call on every clock tick.
        public mutating func tick(now: UInt64) -> [Action] {
            guard !finished else { return [] }
            if now >= started + timeout {
                finished = true
                return running.sorted { $0.description < $1.description }.map { .cancel($0) } + [.failed("no pair answered within \(timeout) ms")]
            }
            var out: [Action] = []
            while next < pairs.count && now >= nextStart {
                out.append(.attempt(pairs[next]))
                running.insert(pairs[next])
                next += 1
                nextStart = now + attemptDelay
            }
            if next == pairs.count && running.isEmpty && out.isEmpty {
                finished = true
                out.append(.failed(pairs.isEmpty ? "no usable source/destination pair" : "every pair failed"))
            }
            return out
        }

        /// An attempt answered: it wins, the others are cancelled.
        public mutating func succeeded(_ p: Pair, now: UInt64) -> [Action] {
            guard !finished, running.contains(p) else { return [] }
            finished = true
            winner = p
            running.remove(p)
            let cancels = running.sorted { $0.description < $1.description }.map { Action.cancel($0) }
            running.removeAll()
            return cancels + [.succeeded(p)]
        }

        /// An attempt failed (unreachable, refused): the next one starts at once.
        public mutating func failed(_ p: Pair, now: UInt64) -> [Action] {
            guard !finished, running.remove(p) != nil else { return [] }
            nextStart = now
            return tick(now: now)
        }
    }
}
