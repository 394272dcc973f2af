import BowmanCBOR
import BowmanCore

/// The GRASP (RFC 8990) engine of one node, sans-I/O: encoded messages and
/// a millisecond clock in, messages to send and results out. The management
/// core's event loop owns the sockets (a multicast socket per interface to
/// ff02::13 port 7017, the unicast listener) and performs the actions; tests
/// drive it with a manual clock and a simulated link.
///
/// What it does:
/// - **Offers** objectives: answers M_DISCOVERY for an offered objective
///   with M_RESPONSE carrying the offer's locator (§2.5.4.4) and M_REQ_SYN
///   with M_SYNCH carrying its value (§2.5.6); a synchronisation request
///   for something not offered (or offered without F_SYNCH) is declined
///   with M_END + O_DECLINE.
/// - **Discovers**: a fresh cache entry answers at once; otherwise
///   M_DISCOVERY goes to all neighbours and responses are gathered until
///   the discovery timeout, then reported together and cached for the
///   responses' ttl. A node that does not offer an objective but has it
///   cached answers with O_DIVERT pointing at the cached locators.
/// - **Synchronises** with a discovered locator (M_REQ_SYN → M_SYNCH),
///   with a timeout.
/// - **Floods** (M_FLOOD): received values are cached for their ttl and
///   relayed to the other interfaces while the loop count allows.
/// - Loop prevention: a (session id, initiator) pair seen within the
///   window is dropped (§2.7). Malformed messages, and responses that
///   match no session of ours, are dropped and counted, never fatal (§2.8).
///
/// - **Negotiates** (§2.5.5): M_REQ_NEG, then M_NEGOTIATE counter-offers
///   each way with the loop count going down, M_WAIT to ask for time, and
///   M_END with O_ACCEPT or O_DECLINE; the application decides each step.
/// - **Relays** discovery (§2.5.4.3): an M_DISCOVERY this node cannot
///   answer goes out on its other interfaces with the loop count one lower,
///   as this node's discovery with the same session id; responses that come
///   back are cached and passed to the initiator as O_DIVERT.
public struct GRASPNode: Sendable {
    public struct Configuration: Sendable {
        /// How long discovery gathers responses (ms).
        public var discoveryTimeout: UInt64 = 1_000
        /// How long a synchronisation request waits for M_SYNCH (ms).
        public var synchronizationTimeout: UInt64 = 2_000
        /// ttl put in our M_RESPONSE and M_FLOOD messages (ms).
        public var responseTTL: UInt32 = 60_000
        /// How long a (session, initiator) pair is remembered for loop prevention (ms).
        public var duplicateWindow: UInt64 = 60_000
        /// Bounds: cached objectives, remembered sessions, our own open sessions.
        public var maxCacheEntries = 1024
        public var maxRememberedSessions = 4096
        public var maxOpenSessions = 256
        /// How long a negotiation step may take before the session is abandoned (ms; M_WAIT extends it).
        public var negotiationTimeout: UInt64 = 10_000
        /// Relay M_DISCOVERY to the other interfaces while its loop count allows (§2.5.4.3).
        public var relay = true
        /// Seed for session ids (the event loop seeds it from the system's RNG).
        public var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        public init() {}
    }

    /// Where a message goes. The event loop maps `allNeighbors` to the
    /// per-interface multicast sockets (ff02::13, hop limit 1) and `peer` to
    /// a unicast send to the address's GRASP port.
    public enum Destination: Equatable, Sendable {
        /// Every interface except `except` (nil: all).
        case allNeighbors(except: Int?)
        case peer(IPAddress)
    }

    public enum Event: Sendable {
        /// A datagram or TCP message arrived from `from` on interface `interface`.
        case message(bytes: [UInt8], from: IPAddress, interface: Int)
        case tick
    }

    public enum Action: Equatable, Sendable {
        case send(GRASPMessage, to: Destination)
        /// Discovery finished with these locators (divert targets included).
        case discovered(objective: String, locators: [GRASPLocator])
        case discoveryFailed(objective: String, reason: String)
        case synchronized(objective: String, value: CBOR, from: IPAddress)
        case synchronizationFailed(objective: String, reason: String)
        /// A flooded objective arrived (first copy only).
        case flooded(objective: GRASPObjective, locator: GRASPLocator?, from: IPAddress)
        /// Responder: a peer asks to negotiate an objective we offer with
        /// F_NEG; answer with `negotiate(session:_:now:)`.
        case negotiationRequest(session: UInt32, objective: GRASPObjective, from: IPAddress)
        /// Either side: the peer made a (counter-)offer; answer with `negotiate(session:_:now:)`.
        case negotiationStep(session: UInt32, objective: GRASPObjective)
        /// The negotiation is over: accepted (with the agreed value), declined
        /// (with the reason), or timed out.
        case negotiationEnded(session: UInt32, objective: String, accepted: Bool, value: CBOR?, reason: String?)
    }

    /// What the local application says to the peer's last offer.
    public enum NegotiationAnswer: Equatable, Sendable {
        case accept
        case decline(String?)
        /// Counter-offer this value (the loop count goes down by one; at zero the negotiation fails).
        case counter(CBOR)
        /// Ask the peer for more time (M_WAIT, ms).
        case wait(UInt32)
    }

    struct Offer: Sendable { var objective: GRASPObjective; var locator: GRASPLocator? }
    struct CacheEntry: Sendable { var locators: [GRASPLocator]; var expires: UInt64 }
    struct Flooded: Sendable { var objective: GRASPObjective; var locator: GRASPLocator?; var expires: UInt64 }
    enum Pending: Sendable {
        case discovery(name: String, deadline: UInt64, found: [GRASPLocator], ttl: UInt32)
        case synchronization(name: String, deadline: UInt64)
    }
    struct SeenKey: Hashable, Sendable { var session: UInt32; var initiator: IPAddress }
    struct Negotiation: Sendable {
        var objective: GRASPObjective   // the last offer, either way
        var peer: IPAddress
        var deadline: UInt64
        var ourTurn: Bool
    }
    var negotiations: [UInt32: Negotiation] = [:]
    struct Relayed: Sendable { var name: String; var initiator: IPAddress; var deadline: UInt64 }
    var relayed: [UInt32: Relayed] = [:]

    public let address: IPAddress
    public let configuration: Configuration
    var offers: [String: Offer] = [:]
    var cache: [String: CacheEntry] = [:]
    var flooded: [String: Flooded] = [:]
    var pending: [UInt32: Pending] = [:]
    var seen: [SeenKey: UInt64] = [:]
    var rng: UInt64
    public private(set) var droppedMessages = 0
    public private(set) var lastDropReason: String?

    /// `address` is the initiator address put in our messages (the
    /// interface's link-local address in a real deployment).
    public init(address: IPAddress, configuration: Configuration = .init()) {
        self.address = address
        self.configuration = configuration
        rng = configuration.seed | 1
    }

    // MARK: Application calls

    /// Offers an objective (F_DISC and/or F_SYNCH in its flags) reachable at `locator`.
    public mutating func offer(_ objective: GRASPObjective, at locator: GRASPLocator?) {
        offers[objective.name] = Offer(objective: objective, locator: locator)
    }
    public mutating func withdraw(_ name: String) { offers[name] = nil }
    public func offered(_ name: String) -> GRASPObjective? { offers[name]?.objective }

    /// Starts discovery of `name`; a fresh cache entry answers at once unless `bypassCache`.
    public mutating func discover(_ name: String, loopCount: UInt8 = 1, bypassCache: Bool = false, now: UInt64) -> [Action] {
        expire(now)
        if !bypassCache, let c = cache[name] { return [.discovered(objective: name, locators: c.locators)] }
        guard pending.count < configuration.maxOpenSessions else {
            return [.discoveryFailed(objective: name, reason: "too many open GRASP sessions (\(configuration.maxOpenSessions))")]
        }
        let s = newSession()
        pending[s] = .discovery(name: name, deadline: now + configuration.discoveryTimeout, found: [], ttl: UInt32.max)
        seen[SeenKey(session: s, initiator: address)] = now
        let o = GRASPObjective(name: name, flags: .discovery, loopCount: loopCount)
        return [.send(.discovery(session: s, initiator: address, objective: o), to: .allNeighbors(except: nil))]
    }

    /// Asks `peer` for the current value of `name`.
    public mutating func synchronize(_ name: String, with peer: IPAddress, now: UInt64) -> [Action] {
        guard pending.count < configuration.maxOpenSessions else {
            return [.synchronizationFailed(objective: name, reason: "too many open GRASP sessions (\(configuration.maxOpenSessions))")]
        }
        let s = newSession()
        pending[s] = .synchronization(name: name, deadline: now + configuration.synchronizationTimeout)
        let o = GRASPObjective(name: name, flags: .synchronization, loopCount: 1)
        return [.send(.requestSynchronization(session: s, objective: o), to: .peer(peer))]
    }

    /// Opens a negotiation of `objective` (its value is our first offer,
    /// its loop count bounds the number of steps) with `peer`.
    public mutating func negotiate(_ objective: GRASPObjective, with peer: IPAddress, now: UInt64) -> (UInt32?, [Action]) {
        guard pending.count + negotiations.count < configuration.maxOpenSessions else {
            return (nil, [.negotiationEnded(session: 0, objective: objective.name, accepted: false, value: nil,
                                            reason: "too many open GRASP sessions (\(configuration.maxOpenSessions))")])
        }
        let s = newSession()
        var o = objective
        o.flags.insert(.negotiation)
        negotiations[s] = Negotiation(objective: o, peer: peer, deadline: now + configuration.negotiationTimeout, ourTurn: false)
        return (s, [.send(.requestNegotiation(session: s, objective: o), to: .peer(peer))])
    }

    /// The local application's answer in negotiation `session`.
    public mutating func negotiate(session s: UInt32, _ answer: NegotiationAnswer, now: UInt64) -> [Action] {
        guard var n = negotiations[s], n.ourTurn else { return [] }
        switch answer {
        case .accept:
            negotiations[s] = nil
            return [.send(.end(session: s, option: .accept), to: .peer(n.peer)),
                    .negotiationEnded(session: s, objective: n.objective.name, accepted: true, value: n.objective.value, reason: nil)]
        case .decline(let why):
            negotiations[s] = nil
            return [.send(.end(session: s, option: .decline(reason: why)), to: .peer(n.peer)),
                    .negotiationEnded(session: s, objective: n.objective.name, accepted: false, value: nil, reason: why ?? "declined here")]
        case .counter(let v):
            guard n.objective.loopCount > 1 else {
                negotiations[s] = nil
                let why = "loop count exhausted"
                return [.send(.end(session: s, option: .decline(reason: why)), to: .peer(n.peer)),
                        .negotiationEnded(session: s, objective: n.objective.name, accepted: false, value: nil, reason: why)]
            }
            n.objective.loopCount -= 1
            n.objective.value = v
            n.ourTurn = false
            n.deadline = now + configuration.negotiationTimeout
            negotiations[s] = n
            return [.send(.negotiate(session: s, objective: n.objective), to: .peer(n.peer))]
        case .wait(let ms):
            n.deadline = now + UInt64(ms) + configuration.negotiationTimeout
            negotiations[s] = n
            return [.send(.wait(session: s, waitingTime: ms), to: .peer(n.peer))]
        }
    }
    public var openNegotiations: Int { negotiations.count }

    /// Floods `objective` (its value and loop count as given) to all neighbours.
    public mutating func flood(_ objective: GRASPObjective, locator: GRASPLocator?, now: UInt64) -> [Action] {
        let s = newSession()
        seen[SeenKey(session: s, initiator: address)] = now
        let m = GRASPMessage.flood(session: s, initiator: address, ttl: configuration.responseTTL, objectives: [(objective, locator)])
        return [.send(m, to: .allNeighbors(except: nil))]
    }

    /// Cached locators for `name` (from discovery or divert), if fresh.
    public func cached(_ name: String, now: UInt64) -> [GRASPLocator]? {
        guard let c = cache[name], c.expires > now else { return nil }
        return c.locators
    }
    /// The last flooded value of `name`, if fresh.
    public func floodedValue(_ name: String, now: UInt64) -> GRASPObjective? {
        guard let f = flooded[name], f.expires > now else { return nil }
        return f.objective
    }
    public var openSessions: Int { pending.count }
    /// The earliest time `handle(.tick)` has something to do.
    public var nextDeadline: UInt64? {
        (pending.values.map { p -> UInt64 in
            switch p { case .discovery(_, let d, _, _), .synchronization(_, let d): d }
        } + negotiations.values.map(\.deadline)).min()
    }

    // MARK: Events

    public mutating func handle(_ e: Event, now: UInt64) -> [Action] {
        switch e {
        case .tick:
            return timers(now)
        case .message(let bytes, let from, let interface):
            let m: GRASPMessage
            do { m = try GRASPMessage(decoding: bytes) } catch { return drop("\(error) (from \(from))") }
            return receive(m, from: from, interface: interface, now: now) + timers(now)
        }
    }

    mutating func receive(_ m: GRASPMessage, from: IPAddress, interface: Int, now: UInt64) -> [Action] {
        switch m {
        case .noop:
            return []
        case .discovery(let s, let initiator, let o):
            guard firstSight(s, initiator, now) else { return drop("duplicate M_DISCOVERY session \(s) from \(initiator)") }
            if let offer = offers[o.name], offer.objective.flags.contains(.discovery) {
                let opts = offer.locator.map { [GRASPOption.locator($0)] } ?? []
                let r = GRASPMessage.response(session: s, initiator: initiator, ttl: configuration.responseTTL,
                                              options: opts, objective: offer.objective)
                return [.send(r, to: .peer(initiator))]
            }
            expire(now)
            if let c = cache[o.name], !c.locators.isEmpty {
                let ttl = UInt32(min(UInt64(UInt32.max), c.expires - now))
                let r = GRASPMessage.response(session: s, initiator: initiator, ttl: ttl, options: [.divert(c.locators)], objective: nil)
                return [.send(r, to: .peer(initiator))]
            }
            // Relay: on the other interfaces, as this node's own discovery
            // (same session id), so responses come back here and go on to
            // the initiator as O_DIVERT.
            guard configuration.relay, o.loopCount > 1, relayed[s] == nil, pending[s] == nil,
                  relayed.count < configuration.maxOpenSessions else { return [] }
            relayed[s] = Relayed(name: o.name, initiator: initiator, deadline: now + configuration.discoveryTimeout)
            seen[SeenKey(session: s, initiator: address)] = now
            var fwd = o
            fwd.loopCount -= 1
            return [.send(.discovery(session: s, initiator: address, objective: fwd), to: .allNeighbors(except: interface))]
        case .response(let s, let initiator, let ttl, let options, _) where initiator == address && pending[s] == nil && relayed[s] != nil:
            let r = relayed[s]!
            var locs: [GRASPLocator] = []
            Self.collect(options, into: &locs)
            guard !locs.isEmpty else { return [] }
            if var c = cache[r.name] {
                for l in locs where !c.locators.contains(l) { c.locators.append(l) }
                c.expires = min(c.expires, now + UInt64(ttl)); cache[r.name] = c
            } else if cache.count < configuration.maxCacheEntries {
                cache[r.name] = CacheEntry(locators: locs, expires: now + UInt64(ttl))
            }
            let back = GRASPMessage.response(session: s, initiator: r.initiator, ttl: ttl, options: [.divert(locs)], objective: nil)
            return [.send(back, to: .peer(r.initiator))]
        case .response(let s, let initiator, let ttl, let options, _):
            guard initiator == address, case .discovery(let name, let d, var found, let t)? = pending[s] else {
                return drop("M_RESPONSE for no discovery of ours (session \(s))")
            }
            Self.collect(options, into: &found)
            pending[s] = .discovery(name: name, deadline: d, found: found, ttl: min(t, ttl))
            return []
        case .requestSynchronization(let s, let o):
            if let offer = offers[o.name], offer.objective.flags.contains(.synchronization) {
                return [.send(.synch(session: s, objective: offer.objective), to: .peer(from))]
            }
            return [.send(.end(session: s, option: .decline(reason: "objective \(o.name) is not offered for synchronization here")), to: .peer(from))]
        case .synch(let s, let o):
            guard case .synchronization(let name, _)? = pending[s], name == o.name else {
                return drop("M_SYNCH for no synchronisation of ours (session \(s))")
            }
            pending[s] = nil
            guard let v = o.value else { return [.synchronizationFailed(objective: name, reason: "M_SYNCH without a value")] }
            return [.synchronized(objective: name, value: v, from: from)]
        case .end(let s, let opt):
            if let n = negotiations[s], n.peer == from {
                negotiations[s] = nil
                if case .accept = opt {
                    return [.negotiationEnded(session: s, objective: n.objective.name, accepted: true, value: n.objective.value, reason: nil)]
                }
                var why = "declined by \(from)"
                if case .decline(let r?) = opt { why += ": \(r)" }
                return [.negotiationEnded(session: s, objective: n.objective.name, accepted: false, value: nil, reason: why)]
            }
            guard case .synchronization(let name, _)? = pending[s] else { return drop("M_END for no session of ours (session \(s))") }
            pending[s] = nil
            if case .decline(let reason) = opt {
                return [.synchronizationFailed(objective: name, reason: "declined by \(from)" + (reason.map { ": \($0)" } ?? ""))]
            }
            return [.synchronizationFailed(objective: name, reason: "ended by \(from) without a value")]
        case .flood(let s, let initiator, let ttl, let objs):
            guard initiator != address, firstSight(s, initiator, now) else { return drop("duplicate M_FLOOD session \(s) from \(initiator)") }
            var out: [Action] = []
            var relay: [(GRASPObjective, GRASPLocator?)] = []
            for (o, l) in objs {
                if flooded[o.name] != nil || flooded.count < configuration.maxCacheEntries {
                    flooded[o.name] = Flooded(objective: o, locator: l, expires: now + UInt64(ttl))
                }
                out.append(.flooded(objective: o, locator: l, from: initiator))
                if o.loopCount > 1 { var r = o; r.loopCount -= 1; relay.append((r, l)) }
            }
            if !relay.isEmpty {
                out.append(.send(.flood(session: s, initiator: initiator, ttl: ttl, objectives: relay), to: .allNeighbors(except: interface)))
            }
            return out
        case .requestNegotiation(let s, let o):
            guard let offer = offers[o.name], offer.objective.flags.contains(.negotiation) else {
                return [.send(.end(session: s, option: .decline(reason: "objective \(o.name) is not offered for negotiation here")), to: .peer(from))]
            }
            guard negotiations[s] == nil else { return drop("M_REQ_NEG for open session \(s)") }
            guard pending.count + negotiations.count < configuration.maxOpenSessions else {
                return [.send(.end(session: s, option: .decline(reason: "busy")), to: .peer(from))]
            }
            negotiations[s] = Negotiation(objective: o, peer: from, deadline: now + configuration.negotiationTimeout, ourTurn: true)
            return [.negotiationRequest(session: s, objective: o, from: from)]
        case .negotiate(let s, let o):
            guard var n = negotiations[s], !n.ourTurn, n.peer == from, o.name == n.objective.name else {
                return drop("M_NEGOTIATE for no negotiation of ours (session \(s))")
            }
            n.objective = o
            n.ourTurn = true
            n.deadline = now + configuration.negotiationTimeout
            negotiations[s] = n
            return [.negotiationStep(session: s, objective: o)]
        case .wait(let s, let ms):
            guard var n = negotiations[s], !n.ourTurn, n.peer == from else { return drop("M_WAIT for no negotiation of ours (session \(s))") }
            n.deadline = now + UInt64(ms) + configuration.negotiationTimeout
            negotiations[s] = n
            return []
        case .invalid:
            return drop("M_INVALID from \(from)")
        }
    }

    // MARK: Internals

    /// Adds the locators of a response's options (its own, or O_DIVERT's) not yet in `list`.
    static func collect(_ options: [GRASPOption], into list: inout [GRASPLocator]) {
        for opt in options {
            switch opt {
            case .locator(let l): if !list.contains(l) { list.append(l) }
            case .divert(let ls): for l in ls where !list.contains(l) { list.append(l) }
            case .accept, .decline: break
            }
        }
    }

    mutating func timers(_ now: UInt64) -> [Action] {
        var out: [Action] = []
        for (s, p) in pending.sorted(by: { $0.key < $1.key }) {
            switch p {
            case .discovery(let name, let d, let found, let ttl) where d <= now:
                pending[s] = nil
                if found.isEmpty {
                    out.append(.discoveryFailed(objective: name, reason: "no response within \(configuration.discoveryTimeout) ms"))
                } else {
                    if cache[name] != nil || cache.count < configuration.maxCacheEntries {
                        cache[name] = CacheEntry(locators: found, expires: now + UInt64(ttl))
                    }
                    out.append(.discovered(objective: name, locators: found))
                }
            case .synchronization(let name, let d) where d <= now:
                pending[s] = nil
                out.append(.synchronizationFailed(objective: name, reason: "no M_SYNCH within \(configuration.synchronizationTimeout) ms"))
            default:
                break
            }
        }
        relayed = relayed.filter { $0.value.deadline > now }
        for (s, n) in negotiations.sorted(by: { $0.key < $1.key }) where n.deadline <= now {
            negotiations[s] = nil
            out.append(.negotiationEnded(session: s, objective: n.objective.name, accepted: false, value: nil,
                                         reason: "no answer within \(configuration.negotiationTimeout) ms"))
        }
        return out
    }

    mutating func expire(_ now: UInt64) {
        cache = cache.filter { $0.value.expires > now }
        flooded = flooded.filter { $0.value.expires > now }
    }

    /// Records (session, initiator); false if it was seen within the window.
    mutating func firstSight(_ s: UInt32, _ initiator: IPAddress, _ now: UInt64) -> Bool {
        let k = SeenKey(session: s, initiator: initiator)
        if let t = seen[k], now &- t < configuration.duplicateWindow { return false }
        if seen.count >= configuration.maxRememberedSessions {
            seen = seen.filter { now &- $0.value < configuration.duplicateWindow }
            if seen.count >= configuration.maxRememberedSessions { return false }
        }
        seen[k] = now
        return true
    }

    mutating func drop(_ reason: String) -> [Action] {
        droppedMessages += 1
        lastDropReason = reason
        return []
    }

    mutating func newSession() -> UInt32 {
        repeat {
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
        } while pending[UInt32(truncatingIfNeeded: rng)] != nil || negotiations[UInt32(truncatingIfNeeded: rng)] != nil
        return UInt32(truncatingIfNeeded: rng)
    }
}
