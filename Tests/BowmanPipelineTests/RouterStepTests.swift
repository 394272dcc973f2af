import BowmanCore
import BowmanPacket
import BowmanPipeline
import BowmanRouting
import BowmanTestSupport
import Testing

/// The router's per-packet step on frames built from specs: TTL and hop
/// limit decremented with a checksum that still verifies, MACs rewritten,
/// ECMP by flow, and every packet that is not forwarded given its reason
/// with the frame left as it was.
@Suite struct RouterStepTests {
    static let me = MACAddress(2, 0, 0, 0, 0, 0xAA), r2 = MACAddress(2, 0, 0, 0, 0, 2), r3 = MACAddress(2, 0, 0, 0, 0, 3)

    func step() throws -> RouterStep {
        let t = RouteTable(name: "rt")
        var adj = Adjacencies()
        try t.add(IPPrefix("198.18.10.0/24")!, channel: 0)
        adj.append([(.init(kind: .forward, port: 1, source: Self.me, destination: Self.r2), 1)])
        try t.add(IPPrefix("198.18.20.0/24")!, channel: 1)        // ECMP, weights 1 and 3
        adj.append([(.init(kind: .forward, port: 1, source: Self.me, destination: Self.r2), 1),
                    (.init(kind: .forward, port: 2, source: Self.me, destination: Self.r3), 3)])
        try t.add(IPPrefix("198.18.30.0/24")!, channel: 2)
        adj.append([(.init(kind: .unresolved), 1)])
        try t.add(IPPrefix("198.18.40.0/24")!, channel: 3)
        adj.append([(.init(kind: .blackhole), 1)])
        try t.add(IPPrefix("fd00:10::/64")!, channel: 0)
        try t.add(IPPrefix("198.18.50.0/24")!, channel: 4)
        adj.append([(.init(kind: .unreachable), 1)])
        return RouterStep(routes: t, adjacencies: adj)
    }

    func v4(_ dst: String, ttl: UInt8 = 64, sport: UInt16 = 1000, src: String = "198.18.0.1") -> [UInt8] {
        frame(FrameSpec(source: MACAddress(2, 0, 0, 0, 0, 1), destination: Self.me,
                        network: .ipv4(.init(source: IPv4Address(src)!, destination: IPv4Address(dst)!, ttl: ttl)),
                        transport: .udp(source: sport, destination: 9), payload: [1, 2, 3, 4]))
    }

    func decide(_ s: RouterStep, _ f: inout [UInt8]) -> RouteDecision { f.withUnsafeMutableBytes { s.decide($0) } }

    func verifies(_ f: [UInt8]) -> Bool {
        f.withUnsafeBytes { p in
            var m = PacketMetadata()
            guard (try? PacketParser.parse(ethernet: p, into: &m)) != nil else { return false }
            return !Checksum.verifyIPv4Header(p, m).isBad && !Checksum.verifyTransport(p, m).isBad
        }
    }

    @Test func forwardsWithTTLDecrementedAndChecksumKept() throws {
        let s = try step()
        var f = v4("198.18.10.7")
        #expect(decide(s, &f) == .forward(port: 1))
        #expect(f[14 + 8] == 63 && verifies(f))
        #expect(Array(f[0..<6]) == [2, 0, 0, 0, 0, 2] && Array(f[6..<12]) == [2, 0, 0, 0, 0, 0xAA])
        // Every TTL from 255 down: the incremental update equals a recomputation.
        for ttl in stride(from: 255, through: 2, by: -1) {
            var g = v4("198.18.10.7", ttl: UInt8(ttl))
            #expect(decide(s, &g) == .forward(port: 1))
            #expect(g[14 + 8] == UInt8(ttl - 1) && verifies(g), "ttl \(ttl)")
        }
        var six = frame(FrameSpec(source: MACAddress(2, 0, 0, 0, 0, 1), destination: Self.me,
                                  network: .ipv6(.init(source: IPv6Address("fd00:1::1")!, destination: IPv6Address("fd00:10::5")!, hopLimit: 9)),
                                  transport: .udp(source: 1, destination: 2), payload: [7]))
        #expect(decide(s, &six) == .forward(port: 1))
        #expect(six[14 + 7] == 8 && verifies(six))
    }

    @Test func whatIsNotForwardedIsLeftAsItWas() throws {
        let s = try step()
        for (dst, ttl, want) in [("198.18.10.7", UInt8(1), RouteDecision.timeExceeded), ("198.18.10.7", 0, .timeExceeded),
                                 ("198.18.99.1", 64, .noRoute), ("198.18.30.1", 64, .unresolved(channel: 2, hop: 0)),
                                 ("198.18.40.1", 64, .blackhole), ("198.18.50.1", 64, .unreachable)] {
            var f = v4(dst, ttl: ttl)
            let before = f
            #expect(decide(s, &f) == want, "\(dst) ttl \(ttl)")
            #expect(f == before)
        }
        // A bad header checksum, a cut header, ARP: malformed.
        var bad = v4("198.18.10.7")
        bad[14 + 10] ^= 0xFF
        #expect(decide(s, &bad) == .malformed)
        var cut = Array(v4("198.18.10.7")[0..<30])
        #expect(decide(s, &cut) == .malformed)
        var arp = frame(FrameSpec(network: .arp(operation: 1, senderMAC: Self.r2, senderIP: IPv4Address("198.18.0.2")!,
                                                targetMAC: MACAddress(rawValue: 0), targetIP: IPv4Address("198.18.0.1")!)))
        #expect(decide(s, &arp) == .malformed)
    }

    @Test func ecmpSpreadsFlowsByWeightAndKeepsEachFlowOnOneHop() throws {
        let s = try step()
        var ports = [0, 0, 0]
        for sport in 0..<4000 {
            var f = v4("198.18.20.9", sport: UInt16(sport), src: "198.18.0.\(sport % 250 + 1)")
            guard case .forward(let p) = decide(s, &f) else { Issue.record("not forwarded"); return }
            ports[p] += 1
            var again = v4("198.18.20.9", sport: UInt16(sport), src: "198.18.0.\(sport % 250 + 1)")
            #expect(decide(s, &again) == .forward(port: p))
        }
        // Weights 1 : 3 (the hash spreads by addresses; about 1000 : 3000).
        #expect(ports[1] > 700 && ports[1] < 1300 && ports[2] > 2700, "\(ports)")
    }

    @Test func adjacenciesFromAMirroredTable() throws {
        let nh = { (g: String?, i: Int32, w: Int) in RouteNetlink.NextHop(gateway: g.flatMap { IPAddress($0) }, interface: i, weight: w) }
        let sets = [NextHopSet(kind: .forward, hops: [nh("198.18.0.2", 3, 1), nh("198.18.0.3", 3, 2)]),   // one resolved, one not
                    NextHopSet(kind: .forward, hops: [nh(nil, 3, 1)]),                                      // connected
                    NextHopSet(kind: .forward, hops: [nh("10.9.9.9", 7, 1)]),                               // not our port
                    NextHopSet(kind: .prohibit, hops: [])]
        let a = Adjacencies.build(sets: sets, ports: [3: (port: 1, mac: Self.me)]) { i, g in
            i == 3 && g == IPAddress("198.18.0.2")! ? Self.r2 : nil
        }
        #expect(a.channelCount == 4)
        #expect(Array(a.hops[a.first[0]..<a.first[1]]) == [.init(kind: .forward, port: 1, source: Self.me, destination: Self.r2),
                                                            .init(kind: .unresolved, port: 1, source: Self.me),
                                                            .init(kind: .unresolved, port: 1, source: Self.me)])
        #expect(a.hops[a.first[1]].kind == .glean && a.hops[a.first[2]].kind == .kernel && a.hops[a.first[3]].kind == .prohibit)
        let t = RouteTable(name: "k")
        try t.add(IPPrefix("198.18.0.0/24")!, channel: 1)
        try t.add(IPPrefix("10.0.0.0/8")!, channel: 2)
        let s = RouterStep(routes: t, adjacencies: a)
        var f = v4("198.18.0.44")
        #expect(decide(s, &f) == .glean(channel: 1))
        var k = v4("10.1.2.3")
        #expect(decide(s, &k) == .kernel)
    }
}
