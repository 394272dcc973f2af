import BowmanCBOR
import BowmanControl
import BowmanCore
import Testing

/// GRASP nodes on simulated links with a manual clock. `links` joins
/// (node, interface) pairs; multicast goes to the far end of every link of
/// the sender except the excluded interface; unicast reaches the node
/// owning the address. Delivery is immediate and depth-first, like a LAN
/// that is fast next to the timeouts.
struct GRASPLab {
    var nodes: [GRASPNode]
    var links: [((Int, Int), (Int, Int))]
    var now: UInt64 = 0
    var results: [(node: Int, action: GRASPNode.Action)] = []
    var wire: [(from: Int, GRASPMessage)] = []
    var lose: (Int, GRASPMessage) -> Bool = { _, _ in false }

    init(_ count: Int, links: [((Int, Int), (Int, Int))]) {
        nodes = (0..<count).map { i in
            var c = GRASPNode.Configuration()
            c.seed = UInt64(i + 1) * 0x1234_5678_9ABC
            return GRASPNode(address: .v6(IPv6Address("fd00::\(i + 1)")!), configuration: c)
        }
        self.links = links
    }

    func peer(of n: Int, iface: Int) -> (Int, Int)? {
        for (a, b) in links {
            if a == (n, iface) { return b }
            if b == (n, iface) { return a }
        }
        return nil
    }
    func interfaces(of n: Int) -> [Int] {
        links.flatMap { [$0.0, $0.1] }.filter { $0.0 == n }.map(\.1)
    }

    mutating func apply(_ n: Int, _ actions: [GRASPNode.Action]) {
        for a in actions {
            guard case .send(let m, let dest) = a else { results.append((n, a)); continue }
            wire.append((n, m))
            if lose(n, m) { continue }
            switch dest {
            case .allNeighbors(let except):
                for i in interfaces(of: n) where i != except {
                    guard let (d, di) = peer(of: n, iface: i) else { continue }
                    deliver(d, m.encoded, from: n, iface: di)
                }
            case .peer(let addr):
                guard let d = nodes.firstIndex(where: { $0.address == addr }) else { continue }
                deliver(d, m.encoded, from: n, iface: 0)
            }
        }
    }

    mutating func deliver(_ d: Int, _ bytes: [UInt8], from n: Int, iface: Int) {
        let out = nodes[d].handle(.message(bytes: bytes, from: nodes[n].address, interface: iface), now: now)
        apply(d, out)
    }

    mutating func advance(to t: UInt64) {
        now = t
        for i in nodes.indices { apply(i, nodes[i].handle(.tick, now: now)) }
    }

    mutating func take() -> [(node: Int, action: GRASPNode.Action)] { defer { results = [] }; return results }
}

@Suite struct GRASPNodeTests {
    static let alm = "Bowman.ALM"
    static let almLocator = GRASPLocator.ipv6(IPv6Address("fd00::1")!, transport: 17, port: 3359)
    static func almObjective(_ v: CBOR = .text("fd00::1 3359")) -> GRASPObjective {
        GRASPObjective(name: alm, flags: [.discovery, .synchronization], loopCount: 1, value: v)
    }

    @Test func discoveryFindsTheOfferGathersUntilTimeoutAndCaches() {
        var lab = GRASPLab(2, links: [((0, 0), (1, 0))])
        lab.nodes[0].offer(Self.almObjective(), at: Self.almLocator)
        lab.apply(1, lab.nodes[1].discover(Self.alm, now: 0))
        #expect(lab.take().isEmpty, "results wait for the discovery timeout")
        #expect(lab.wire.map(\.1.type) == [.discovery, .response])
        lab.advance(to: 999)
        #expect(lab.take().isEmpty)
        lab.advance(to: 1_000)
        let r = lab.take()
        #expect(r.count == 1)
        #expect(r.first?.node == 1)
        #expect(r.first?.action == .discovered(objective: Self.alm, locators: [Self.almLocator]))
        // A second discovery is answered from the cache, nothing on the wire.
        lab.wire = []
        lab.apply(1, lab.nodes[1].discover(Self.alm, now: 2_000))
        #expect(lab.wire.isEmpty)
        #expect(lab.take().first?.action == .discovered(objective: Self.alm, locators: [Self.almLocator]))
        // After the response's ttl the cache is stale and discovery goes out again.
        lab.now = 1_000 + 60_000
        lab.apply(1, lab.nodes[1].discover(Self.alm, now: lab.now))
        #expect(lab.wire.map(\.1.type) == [.discovery, .response])
    }

    @Test func discoveryWithNobodyOfferingFailsAtTheTimeout() {
        var lab = GRASPLab(2, links: [((0, 0), (1, 0))])
        lab.apply(1, lab.nodes[1].discover("Nobody.Offers", now: 0))
        #expect(lab.nodes[1].nextDeadline == 1_000)
        lab.advance(to: 1_000)
        let r = lab.take()
        guard case .discoveryFailed(let name, let reason)? = r.first?.action else { Issue.record("\(r)"); return }
        #expect(name == "Nobody.Offers")
        #expect(reason.contains("no response"))
        #expect(lab.nodes[1].openSessions == 0)
    }

    @Test func aNodeWithTheObjectiveCachedAnswersWithDivert() {
        // 0 offers; 1 discovers it (and caches it); 2, linked only to 1, then asks.
        var lab = GRASPLab(3, links: [((0, 0), (1, 0)), ((1, 1), (2, 0))])
        lab.nodes[0].offer(Self.almObjective(), at: Self.almLocator)
        lab.apply(1, lab.nodes[1].discover(Self.alm, now: 0))
        lab.advance(to: 1_000)
        _ = lab.take()
        lab.wire = []
        lab.apply(2, lab.nodes[2].discover(Self.alm, now: 1_000))
        let response = lab.wire.first { $0.1.type == .response }
        guard case .response(_, _, _, let opts, _)? = response?.1 else { Issue.record("no response: \(lab.wire)"); return }
        #expect(opts == [.divert([Self.almLocator])])
        lab.advance(to: 2_000)
        #expect(lab.take().first?.action == .discovered(objective: Self.alm, locators: [Self.almLocator]))
    }

    @Test func synchronisationGetsTheValueOrADeclineOrATimeout() {
        var lab = GRASPLab(2, links: [((0, 0), (1, 0))])
        lab.nodes[0].offer(Self.almObjective(.array([.text("fd00::1"), .unsigned(3359)])), at: Self.almLocator)
        let a0 = lab.nodes[0].address
        lab.apply(1, lab.nodes[1].synchronize(Self.alm, with: a0, now: 0))
        #expect(lab.take().first?.action == .synchronized(objective: Self.alm, value: .array([.text("fd00::1"), .unsigned(3359)]), from: a0))
        // Not offered: M_END with O_DECLINE.
        lab.apply(1, lab.nodes[1].synchronize("Not.Here", with: a0, now: 0))
        guard case .synchronizationFailed(_, let why)? = lab.take().first?.action else { Issue.record("no failure"); return }
        #expect(why.contains("declined") && why.contains("Not.Here"))
        // Offered for discovery only: declined too.
        lab.nodes[0].offer(GRASPObjective(name: "Disc.Only", flags: .discovery, loopCount: 1), at: nil)
        lab.apply(1, lab.nodes[1].synchronize("Disc.Only", with: a0, now: 0))
        #expect({ if case .synchronizationFailed? = lab.take().first?.action { true } else { false } }())
        // The answer is lost: failure at the timeout, session closed.
        lab.lose = { _, m in m.type == .synch }
        lab.apply(1, lab.nodes[1].synchronize(Self.alm, with: a0, now: 0))
        #expect(lab.take().isEmpty)
        lab.advance(to: 2_000)
        guard case .synchronizationFailed(_, let t)? = lab.take().first?.action else { Issue.record("no timeout"); return }
        #expect(t.contains("no M_SYNCH"))
        #expect(lab.nodes[1].openSessions == 0)
    }

    @Test func floodIsRelayedWhileTheLoopCountAllowsAndDuplicatesAreDropped() {
        // A ring 0-1-2-3-0: every node hears the flood twice; each reports it once.
        var lab = GRASPLab(4, links: [((0, 0), (1, 0)), ((1, 1), (2, 0)), ((2, 1), (3, 0)), ((3, 1), (0, 1))])
        let o = GRASPObjective(name: "Bowman.Prefix", flags: .synchronization, loopCount: 4, value: .text("fd00:1::/64"))
        lab.apply(0, lab.nodes[0].flood(o, locator: nil, now: 0))
        let got = lab.take()
        #expect(Set(got.map(\.node)) == [1, 2, 3])
        #expect(got.count == 3)
        for n in 1...3 { #expect(lab.nodes[n].floodedValue("Bowman.Prefix", now: 1)?.value == .text("fd00:1::/64")) }
        #expect(lab.nodes[1].droppedMessages + lab.nodes[2].droppedMessages + lab.nodes[3].droppedMessages + lab.nodes[0].droppedMessages >= 1)
        // Loop count 1: only direct neighbours hear it.
        var line = GRASPLab(3, links: [((0, 0), (1, 0)), ((1, 1), (2, 0))])
        var one = o; one.loopCount = 1
        line.apply(0, line.nodes[0].flood(one, locator: nil, now: 0))
        #expect(line.take().map(\.node) == [1])
        #expect(line.nodes[2].floodedValue("Bowman.Prefix", now: 1) == nil)
        // Loop count 2 reaches the second hop; the relayed copy carries loop count 1.
        var two = o; two.loopCount = 2
        line.apply(0, line.nodes[0].flood(two, locator: nil, now: 10))
        #expect(line.take().map(\.node) == [1, 2])
        #expect(line.nodes[2].floodedValue("Bowman.Prefix", now: 11)?.loopCount == 1)
        // The value expires with the flood's ttl.
        #expect(line.nodes[2].floodedValue("Bowman.Prefix", now: 10 + 60_000) == nil)
    }

    @Test func malformedAndStrayMessagesAreDroppedAndNothingChanges() {
        var lab = GRASPLab(2, links: [((0, 0), (1, 0))])
        lab.nodes[0].offer(Self.almObjective(), at: Self.almLocator)
        lab.apply(1, lab.nodes[1].discover(Self.alm, now: 0))
        let good = GRASPMessage.discovery(session: 77, initiator: .v6(IPv6Address("fd00::2")!),
                                          objective: GRASPObjective(name: Self.alm, flags: .discovery, loopCount: 1)).encoded
        // Every truncation of a good message, random bytes, and wrong types.
        var inputs: [[UInt8]] = (0..<good.count).map { Array(good.prefix($0)) }
        var g = SystemRandomNumberGenerator()
        for _ in 0..<200 { inputs.append((0..<Int.random(in: 0...40, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }) }
        inputs.append([0x82, 0x18, 0x63, 0x01])             // [99, 1]: M_INVALID without diagnostic is fine; stray
        inputs.append([0x83, 0x18, 0x2A, 0x01, 0x02])       // unknown type 42
        for b in inputs {
            let out = lab.nodes[0].handle(.message(bytes: b, from: .v6(IPv6Address("fd00::2")!), interface: 0), now: 1)
            for a in out { if case .send(let m, _) = a { #expect(m.type == .response || m.type == .end) } }
        }
        #expect(lab.nodes[0].droppedMessages > 0)
        #expect(lab.nodes[0].lastDropReason != nil)
        // A response to a session we never opened is dropped; ours still completes.
        let stray = GRASPMessage.response(session: 12345, initiator: lab.nodes[1].address, ttl: 1000,
                                          options: [.locator(.ipv4(IPv4Address(198, 18, 0, 9), transport: 6, port: 1))], objective: nil)
        let before = lab.nodes[1].droppedMessages
        _ = lab.nodes[1].handle(.message(bytes: stray.encoded, from: lab.nodes[0].address, interface: 0), now: 1)
        #expect(lab.nodes[1].droppedMessages == before + 1)
        lab.advance(to: 1_000)
        #expect(lab.take().first?.action == .discovered(objective: Self.alm, locators: [Self.almLocator]))
        // A repeated discovery (same session, same initiator) is answered once.
        lab.wire = []
        lab.deliver(0, good, from: 1, iface: 0)
        lab.deliver(0, good, from: 1, iface: 0)
        #expect(lab.wire.filter { $0.1.type == .response }.count <= 1)
    }

    @Test func negotiationRequestsAreDeclinedWithAReason() {
        var lab = GRASPLab(2, links: [((0, 0), (1, 0))])
        let m = GRASPMessage.requestNegotiation(session: 5, objective: GRASPObjective(name: "X", flags: .negotiation, loopCount: 1))
        let out = lab.nodes[0].handle(.message(bytes: m.encoded, from: lab.nodes[1].address, interface: 0), now: 0)
        guard case .send(.end(5, .decline(let why)), .peer(let to))? = out.first else { Issue.record("\(out)"); return }
        #expect(to == lab.nodes[1].address)
        #expect(why?.contains("negotiation") == true)
    }

    static func negotiating(_ lab: inout GRASPLab, value: CBOR, loops: UInt8) -> UInt32? {
        lab.nodes[0].offer(GRASPObjective(name: "Bowman.Bandwidth", flags: [.discovery, .negotiation], loopCount: 1), at: nil)
        let o = GRASPObjective(name: "Bowman.Bandwidth", flags: .negotiation, loopCount: loops, value: value)
        let (s, a) = lab.nodes[1].negotiate(o, with: lab.nodes[0].address, now: lab.now)
        lab.apply(1, a)
        return s
    }

    @Test func negotiationCounterOfferThenAcceptAgreesOnBothSides() throws {
        var lab = GRASPLab(2, links: [((0, 0), (1, 0))])
        let s = try #require(Self.negotiating(&lab, value: .unsigned(100), loops: 4))
        guard case .negotiationRequest(s, let o, let from)? = lab.take().first?.action else { Issue.record("no request"); return }
        #expect(o.value == .unsigned(100) && from == lab.nodes[1].address)
        lab.apply(0, lab.nodes[0].negotiate(session: s, .counter(.unsigned(50)), now: 1))
        let step = lab.take()
        guard case .negotiationStep(s, let c)? = step.first?.action, step.first?.node == 1 else { Issue.record("\(step)"); return }
        #expect(c.value == .unsigned(50) && c.loopCount == 3)
        lab.apply(1, lab.nodes[1].negotiate(session: s, .accept, now: 2))
        let ends = lab.take().map { ($0.node, $0.action) }
        #expect(ends.count == 2)
        for (_, a) in ends {
            #expect(a == .negotiationEnded(session: s, objective: "Bowman.Bandwidth", accepted: true, value: .unsigned(50), reason: nil))
        }
        #expect(lab.nodes[0].openNegotiations == 0 && lab.nodes[1].openNegotiations == 0)
        #expect(lab.wire.map(\.1.type) == [.requestNegotiation, .negotiate, .end])
        // Answers out of turn, or for a closed session, do nothing.
        #expect(lab.nodes[1].negotiate(session: s, .accept, now: 3).isEmpty)
    }

    @Test func negotiationDeclineLoopCountAndTimeouts() throws {
        // Declined with a reason.
        var lab = GRASPLab(2, links: [((0, 0), (1, 0))])
        let s = try #require(Self.negotiating(&lab, value: .unsigned(100), loops: 2))
        _ = lab.take()
        lab.apply(0, lab.nodes[0].negotiate(session: s, .decline("too much"), now: 1))
        let r = lab.take().first { $0.node == 1 }?.action
        guard case .negotiationEnded(s, _, false, nil, let why?)? = r else { Issue.record("\(String(describing: r))"); return }
        #expect(why.contains("too much"))
        // Loop count 2: one counter-offer, then the next counter fails the negotiation.
        var lab2 = GRASPLab(2, links: [((0, 0), (1, 0))])
        let s2 = try #require(Self.negotiating(&lab2, value: .unsigned(100), loops: 2))
        _ = lab2.take()
        lab2.apply(0, lab2.nodes[0].negotiate(session: s2, .counter(.unsigned(60)), now: 1))
        _ = lab2.take()
        lab2.apply(1, lab2.nodes[1].negotiate(session: s2, .counter(.unsigned(80)), now: 2))
        let ends = lab2.take()
        #expect(ends.count == 2)
        #expect(ends.allSatisfy { if case .negotiationEnded(_, _, false, _, let w?) = $0.action { w.contains("loop count") } else { false } })
        // No answer: both sides give up at the timeout; M_WAIT extends the initiator's.
        var lab3 = GRASPLab(2, links: [((0, 0), (1, 0))])
        let s3 = try #require(Self.negotiating(&lab3, value: .unsigned(1), loops: 3))
        _ = lab3.take()
        lab3.apply(0, lab3.nodes[0].negotiate(session: s3, .wait(5_000), now: 0))
        lab3.advance(to: 10_000)
        #expect(lab3.take().isEmpty, "M_WAIT extended both deadlines")
        lab3.advance(to: 15_000)
        let gone = lab3.take()
        #expect(gone.count == 2)
        #expect(gone.allSatisfy { if case .negotiationEnded(s3, _, false, _, let w?) = $0.action { w.contains("no answer") } else { false } })
        // Not offered for negotiation: declined at once.
        var lab4 = GRASPLab(2, links: [((0, 0), (1, 0))])
        let (s4, a4) = lab4.nodes[1].negotiate(GRASPObjective(name: "Other", flags: .negotiation, loopCount: 3, value: .null),
                                                with: lab4.nodes[0].address, now: 0)
        lab4.apply(1, a4)
        guard case .negotiationEnded(s4, "Other", false, nil, let w?)? = lab4.take().first?.action else { Issue.record("no decline"); return }
        #expect(w.contains("not offered for negotiation"))
    }

    @Test func discoveryIsRelayedWhileTheLoopCountAllows() {
        // 0 - 1 - 2 - 3 in a line; 3 offers. Loop count 1 stays on 0's link.
        var lab = GRASPLab(4, links: [((0, 0), (1, 0)), ((1, 1), (2, 0)), ((2, 1), (3, 0))])
        let far = GRASPLocator.ipv6(IPv6Address("fd00::4")!, transport: 6, port: 7017)
        lab.nodes[3].offer(Self.almObjective(), at: far)
        lab.apply(0, lab.nodes[0].discover(Self.alm, loopCount: 1, now: 0))
        lab.advance(to: 1_000)
        #expect({ if case .discoveryFailed? = lab.take().first?.action { true } else { false } }())
        // Loop count 2 reaches node 2, which has nobody further to ask within its count.
        lab.apply(0, lab.nodes[0].discover(Self.alm, loopCount: 2, now: 1_000))
        lab.advance(to: 2_000)
        #expect({ if case .discoveryFailed? = lab.take().first?.action { true } else { false } }())
        // Loop count 3: relayed by 1 and 2; 3 answers 2, 2 diverts to 1, 1 diverts to 0.
        lab.wire = []
        lab.apply(0, lab.nodes[0].discover(Self.alm, loopCount: 3, now: 2_000))
        #expect(lab.wire.filter { $0.1.type == .discovery }.map(\.from) == [0, 1, 2])
        lab.advance(to: 3_000)
        #expect(lab.take().first?.action == .discovered(objective: Self.alm, locators: [far]))
        // The relays cached it on the way: node 1 now answers from its cache.
        #expect(lab.nodes[1].cached(Self.alm, now: 3_000) == [far])
        // With relaying off, node 1 does not pass it on.
        var c = GRASPNode.Configuration(); c.relay = false
        var quiet = GRASPLab(3, links: [((0, 0), (1, 0)), ((1, 1), (2, 0))])
        quiet.nodes[1] = GRASPNode(address: quiet.nodes[1].address, configuration: c)
        quiet.nodes[2].offer(Self.almObjective(), at: far)
        quiet.apply(0, quiet.nodes[0].discover(Self.alm, loopCount: 3, now: 0))
        quiet.advance(to: 1_000)
        #expect({ if case .discoveryFailed? = quiet.take().first?.action { true } else { false } }())
    }
}
