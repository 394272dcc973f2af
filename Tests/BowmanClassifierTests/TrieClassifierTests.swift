@testable import BowmanClassifier
import BowmanCore
import BowmanPacket
import BowmanTestSupport
import Foundation
import Testing

/// The compiled tree agrees with the reference: one packet at a time and in
/// bursts (eight lanes walking together), on random rule sets under both
/// policies, IPv6 rules (16-byte fields, headers beyond the 256-byte length
/// slot), truncated and empty packets, forced splits into many trees, and
/// the ClassBench sets.
func expectTrieAgrees(_ c: Classifier, _ trie: TrieClassifier, _ packets: [[UInt8]], _ context: @autoclosure () -> String,
                      sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Bool {
    let expected = packets.map { p in p.withUnsafeBytes { c.match($0) } }
    // The seed's multi-way tree (the readable reference) agrees too.
    let multiway = MultiwayTree(c)
    for (i, p) in packets.enumerated() {
        let (single, walked) = p.withUnsafeBytes { (trie.match($0), multiway.match($0)) }
        if single != expected[i] || walked != expected[i] {
            Issue.record("\(context()): packet \(i) (\(p.count) bytes): reference \(expected[i]), compiled tree \(single), multi-way tree \(walked)",
                         sourceLocation: sourceLocation)
            return false
        }
    }
    // Bursts of every length from 1 to 64, so partial lane groups are covered.
    let bursts = PacketBuffers(packets).answersInBursts(of: { $0 % 64 + 1 }) { trie.view.match(burst: $0, into: $1) }
    for i in packets.indices where bursts[i] != expected[i] {
        Issue.record("\(context()): in bursts, packet \(i): reference \(expected[i]), trie \(bursts[i])", sourceLocation: sourceLocation)
        return false
    }
    return true
}

/// The tree for `c`, or a failed test naming the rule count (not the whole classifier).
func compiled(_ c: Classifier, treeBudget: Int = TrieClassifier.defaultTreeBudget, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> TrieClassifier {
    guard let t = TrieClassifier(c, treeBudget: treeBudget) else {
        Issue.record("\(c.rules.count) rules did not compile to a tree", sourceLocation: sourceLocation)
        throw ClassifierError("not compiled")
    }
    return t
}


@Suite struct TrieClassifierTests {
    @Test(arguments: [MatchPolicy.mostPredicates, .firstMatch])
    func randomRuleSetsAgree(_ policy: MatchPolicy) throws {
        var checks = 0
        for seed in 0..<40 {
            var gen = RandomRules(seed: UInt64(seed) &* 104_729 &+ (policy == .firstMatch ? 1 : 0))
            var c = Classifier(policy: policy)
            for i in 0..<Int.random(in: 1...120, using: &gen.rng) {
                try c.addFilter(gen.filter(), demuxID: i, priority: Int.random(in: 0...50, using: &gen.rng))
            }
            let trie = try compiled(c)
            let packets = (0..<1500).map { _ in gen.packet() }
            guard expectTrieAgrees(c, trie, packets, "seed \(seed)") else { return }
            checks += packets.count
        }
        #expect(checks == 60_000)
    }

    /// A tiny budget splits the rules into many trees; lookups walk them in
    /// priority order and still agree.
    @Test func manyTreesAgree() throws {
        for seed in 0..<6 {
            var gen = RandomRules(seed: 5000 + UInt64(seed))
            var c = Classifier(policy: .firstMatch)
            for i in 0..<150 { try c.addFilter(gen.filter(), demuxID: i) }
            let trie = try compiled(c, treeBudget: 400)
            #expect(trie.treeCount > 3)
            guard expectTrieAgrees(c, trie, (0..<2000).map { _ in gen.packet() }, "seed \(seed), \(trie.treeCount) trees") else { return }
        }
    }

    @Test(arguments: [MatchPolicy.mostPredicates, .firstMatch])
    func ipv6RuleSetsAgree(_ policy: MatchPolicy) throws {
        for seed in 0..<12 {
            var gen = RandomRules6(seed: UInt64(seed) + 77)
            var c = Classifier(policy: policy)
            for i in 0..<Int.random(in: 1...60, using: &gen.rng) { try c.addFilter(gen.filter(), demuxID: i) }
            let trie = try compiled(c)
            guard expectTrieAgrees(c, trie, (0..<1500).map { _ in gen.packet() }, "seed \(seed)") else { return }
        }
    }

    /// Mixed IPv4 and IPv6 rules in one classifier, with ARP and VLAN
    /// headers and packets of every kind (and cut short at every length).
    @Test func mixedFamiliesAndTruncationsAgree() throws {
        var g4 = RandomRules(seed: 31), g6 = RandomRules6(seed: 32)
        var c = Classifier()
        for i in 0..<60 { try c.addFilter(i % 2 == 0 ? g4.filter() : g6.filter(), demuxID: i) }
        try c.addFilter("[ ethernet (proto = ETHERTYPE_ARP) | arp (op = 1) | * ]", demuxID: 100)
        try c.addFilter("[ ethernet (proto = ETHERTYPE_VLAN) | vlan (vid & 0x0fff = 7) | * ]", demuxID: 101)
        try c.addFilter("[ ethernet | * ]", demuxID: 102)
        let trie = try compiled(c)
        var packets: [[UInt8]] = []
        for _ in 0..<200 { packets.append(g4.packet()); packets.append(g6.packet()) }
        let full = packets.prefix(40)
        for p in full { for n in stride(from: 0, to: p.count, by: 3) { packets.append(Array(p[0..<n])) } }
        packets.append([])
        // Whole frames (padded to Ethernet's 60 bytes) are regular whatever
        // their family: the tree answers them; cut ones go to the bit vectors.
        let padded = (0..<400).map { i in packets[i] + [UInt8](repeating: 0, count: max(0, 60 - packets[i].count)) }
        #expect(padded.allSatisfy { $0.withUnsafeBytes { trie.view.isRegular($0) } })
        #expect(packets[400...].contains { !$0.withUnsafeBytes { trie.view.isRegular($0) } })
        _ = expectTrieAgrees(c, trie, packets + padded, "mixed")
    }

    /// Bursts whose lanes share one header shape take the fast extraction
    /// (one offset per chunk for all lanes); one odd lane anywhere (IPv4
    /// options, IPv6, a cut frame, a runt) sends the group to the general
    /// one. Both answer as the reference.
    @Test func burstsOfOneShapeAndOddLanes() throws {
        var g4 = RandomRules(seed: 91), g6 = RandomRules6(seed: 92)
        var c = Classifier()
        for i in 0..<80 { try c.addFilter(g4.filter(), demuxID: i) }
        for i in 80..<90 { try c.addFilter(g6.filter(), demuxID: i) }
        let trie = try compiled(c)
        var plain: [[UInt8]] = [], options: [[UInt8]] = []
        while plain.count < 64 || options.count < 32 {
            let p = g4.packet()
            guard p.count >= 18, p.count >= 14 + (Int(p[16]) << 8 | Int(p[17])) else { continue }   // whole frames only
            let frame = p + [UInt8](repeating: 0, count: max(0, 60 - p.count))   // Ethernet's minimum
            if p[14] == 0x45 { plain.append(frame) } else { options.append(frame) }
        }
        // A TCP or UDP frame (an ICMP one cut there would still be regular: no rule reads ports from it).
        let tcpOrUDP = plain.first { $0[23] == 6 || $0[23] == 17 }!
        let odd: [(String, [UInt8])] = [("IPv4 options", options[0]), ("IPv6", g6.packet()),
                                        ("cut in the ports", Array(tcpOrUDP[0..<36])), ("runt", [UInt8](repeating: 0, count: 20))]
        func check(_ burst: [[UInt8]], _ what: String, oneShape: Bool) {
            let buffers = PacketBuffers(burst)
            let taken = buffers.views.withUnsafeBufferPointer { trie.view.takesSameShapePath($0) }
            #expect(taken == oneShape, "\(what): same-shape path \(taken)")
            let expected = burst.map { p in p.withUnsafeBytes { c.match($0) } }
            let got = buffers.answersInBursts { trie.view.match(burst: $0, into: $1) }
            #expect(got == expected, "\(what)")
        }
        check(plain, "64 frames without options", oneShape: true)
        check(Array(options.prefix(32)), "32 frames with options", oneShape: true)
        // Groups of other shapes in one burst: a group the first group's plan does not fit plans again.
        check(Array(plain.prefix(16)) + Array(options.prefix(16)) + Array(plain[16..<40]), "plain, options, plain", oneShape: true)
        check(Array(options.prefix(16)) + Array(plain.prefix(48)), "options, then plain", oneShape: true)
        for (name, packet) in odd {
            for lane in [0, 7, 15] {
                var burst = Array(plain.prefix(48))
                burst[lane] = packet
                check(burst, "\(name) in lane \(lane)", oneShape: false)
                burst = Array(plain.prefix(48))
                burst[16 + lane] = packet   // the second group is odd, the first is not
                check(burst, "\(name) in lane \(lane) of the second group", oneShape: true)
            }
        }
    }

    /// A header every rule naming it reaches through exact bytes of its
    /// ancestors (the EtherType before a VLAN tag) is dead where those bytes
    /// differ: untagged traffic no longer reads a VLAN chain's IPv4 length
    /// from the wrong bytes, so a burst of it keeps the same-shape path, and
    /// a frame cut inside headers no rule can reach is answered by the tree.
    @Test func guardedHeadersAreDeadWhereTheirGuardsFail() throws {
        var g4 = RandomRules(seed: 93)
        var c = Classifier()
        for i in 0..<40 { try c.addFilter(g4.filter(), demuxID: i) }
        try c.addFilter("[ ethernet (proto = ETHERTYPE_VLAN) | vlan (vid & 0x0fff = 7) (proto = ETHERTYPE_IP) | ip (proto = IPPROTO_TCP) | tcp (dport = 80) | * ]", demuxID: 100)
        try c.addFilter("[ ethernet (proto = ETHERTYPE_VLAN) | vlan (vid & 0x0fff = 8) | * ]", demuxID: 101)
        let trie = try compiled(c)
        var untagged: [[UInt8]] = [], tagged: [[UInt8]] = []
        var rng = SeededRandom(seed: 94)
        while untagged.count < 64 {
            let p = g4.packet()
            guard p.count >= 18, p.count >= 14 + (Int(p[16]) << 8 | Int(p[17])), p[14] == 0x45 else { continue }   // whole, no options
            var frame = p + [UInt8](repeating: 0, count: max(0, 60 - p.count))
            frame[18] = UInt8.random(in: 0...255, using: &rng)   // IPv4 identification: where the VLAN chain's IHL would be read
            untagged.append(frame)
        }
        for i in 0..<64 {
            let v4 = FrameSpec.IPv4Spec(source: IPv4Address(rawValue: 0xC612_0000 | UInt32(i)), destination: IPv4Address(rawValue: 0xC613_0001))
            tagged.append(try PacketBuilder.bytes(FrameSpec(vlanTags: [UInt16([7, 8, 9][Int.random(in: 0..<3, using: &rng)])], network: .ipv4(v4),
                                                            transport: .tcp(source: 999, destination: UInt16([80, 81][i % 2]), sequence: 0, acknowledgment: 0, flags: 0x10, window: 1))))
        }
        func check(_ burst: [[UInt8]], _ what: String, oneShape: Bool?) {
            let buffers = PacketBuffers(burst)
            if let oneShape {
                let taken = buffers.views.withUnsafeBufferPointer { trie.view.takesSameShapePath($0) }
                #expect(taken == oneShape, "\(what): same-shape path \(taken)")
            }
            let expected = burst.map { p in p.withUnsafeBytes { c.match($0) } }
            #expect(buffers.answersInBursts { trie.view.match(burst: $0, into: $1) } == expected, "\(what): bursts")
            #expect(burst.map { p in p.withUnsafeBytes { trie.match($0) } } == expected, "\(what): one by one")
        }
        check(untagged, "untagged", oneShape: true)
        check(tagged, "tagged", oneShape: true)
        check(zip(untagged, tagged).flatMap { [$0, $1] }, "mixed", oneShape: false)
        #expect(tagged.contains { $0.withUnsafeBytes { c.match($0) } == 100 } && tagged.contains { $0.withUnsafeBytes { c.match($0) } == 101 })
        // An ARP frame cut short: no rule reaches a header it lacks, so the tree answers it.
        let arp = [UInt8](repeating: 0xFF, count: 12) + [0x08, 0x06] + [UInt8](repeating: 0, count: 2)
        #expect(arp.withUnsafeBytes { trie.view.isRegular($0) })
        check([arp], "ARP runt", oneShape: nil)
    }

    @Test func edgeCases() throws {
        // No rules: nothing matches, not even an empty packet.
        let empty = try compiled(Classifier())
        #expect([UInt8]().withUnsafeBytes { empty.match($0) } == -1)
        // "[ * ]" matches everything, including an empty packet.
        var c = Classifier()
        try c.addFilter("[ * ]", demuxID: 4)
        let all = try compiled(c)
        #expect([UInt8]().withUnsafeBytes { all.match($0) } == 4)
        #expect([UInt8](repeating: 0, count: 60).withUnsafeBytes { all.match($0) } == 4)
        // The seed's two-rule example.
        var s = Classifier()
        try s.addFilter("[ ethernet (proto = ETHERTYPE_IP) | * ]", demuxID: 0)
        try s.addFilter("[ ethernet (proto = ETHERTYPE_IP) | ip (proto = IPPROTO_UDP) | udp (sport = 124) | * ]", demuxID: 1)
        let seed = try compiled(s)
        let udp124 = try PacketBuilder.bytes(FrameSpec(network: .ipv4(.init(source: IPv4Address(rawValue: 0xC612_0001), destination: IPv4Address(rawValue: 0xC612_0002))),
                                                       transport: .udp(source: 124, destination: 9)))
        let udp125 = try PacketBuilder.bytes(FrameSpec(network: .ipv4(.init(source: IPv4Address(rawValue: 0xC612_0001), destination: IPv4Address(rawValue: 0xC612_0002))),
                                                       transport: .udp(source: 125, destination: 9)))
        #expect(udp124.withUnsafeBytes { seed.match($0) } == 1)
        #expect(udp125.withUnsafeBytes { seed.match($0) } == 0)
        // The seed's multi-way tree: rule 1 extends rule 0's path (they share
        // the EtherType node), so the tree has 1 + 3 + 1 nodes below the root.
        let multiway = MultiwayTree(s)
        #expect(udp124.withUnsafeBytes { multiway.match($0) } == 1 && udp125.withUnsafeBytes { multiway.match($0) } == 0)
        #expect(multiway.nodeCount == 5, "\(multiway.nodeCount) nodes")
    }

    /// A rule whose last header has no predicate ("any IPv4 packet") tests
    /// a byte other rules read from that header for "present" instead of
    /// a live slot of its own (in a regular packet a header is whole or
    /// absent): same answers on whole, cut, unwalkable and foreign frames.
    @Test func headersWithoutPredicatesTestAByteOfTheirs() throws {
        var c = Classifier()
        try c.addFilter("[ ethernet (proto = ETHERTYPE_IP) | ip | * ]", demuxID: 1)
        try c.addFilter("[ ethernet (proto = ETHERTYPE_IP) | ip (proto = IPPROTO_UDP) | udp (dport = 53) | * ]", demuxID: 2)
        try c.addFilter("[ ethernet (proto = ETHERTYPE_IP) | ip (src = 198.18.0.0/16) | tcp | * ]", demuxID: 3)
        try c.addFilter("[ ethernet (proto = ETHERTYPE_IP) | ip (proto = IPPROTO_TCP) | tcp (dport = 80) | * ]", demuxID: 4)
        let trie = try compiled(c)
        #expect(trie.view.liveSlots.count == 0, "ip and tcp are read by other rules: no live slots")
        var alone = Classifier()
        try alone.addFilter("[ ethernet (proto = ETHERTYPE_IP) | ip | * ]", demuxID: 1)
        #expect(try compiled(alone).view.liveSlots.count == 1, "nothing else reads ip: its live slot stays")
        func v4(_ src: UInt32, _ t: FrameSpec.Transport) throws -> [UInt8] {
            try PacketBuilder.bytes(FrameSpec(network: .ipv4(.init(source: IPv4Address(rawValue: src), destination: IPv4Address(rawValue: 0xC613_0001))), transport: t))
        }
        let tcp = { (src: UInt32, port: UInt16) in try v4(src, .tcp(source: 1000, destination: port, sequence: 0, acknowledgment: 0, flags: 0x10, window: 1)) }
        var packets = [try v4(0xC612_0001, .udp(source: 1, destination: 53)), try v4(0xC613_0005, .udp(source: 1, destination: 54)),
                       try tcp(0xC612_0002, 80), try tcp(0xC612_0002, 81), try tcp(0xC613_0002, 81), try tcp(0xC613_0002, 80)]
        for p in Array(packets) {
            var badIHL = p; badIHL[14] = 0x44           // IPv4 not walkable: ip absent
            packets.append(badIHL)
            for cut in [14, 20, 30, 34, 36, 40, 50] where cut < p.count { packets.append(Array(p[0..<cut])) }
        }
        var badOffset = try tcp(0xC612_0002, 80); badOffset[46] = 0x40   // TCP data offset 4: tcp absent
        packets.append(badOffset)
        packets.append(try PacketBuilder.bytes(FrameSpec(network: .ipv6(.init(source: IPv6Address(high: 0xFD00 << 48, low: 1), destination: IPv6Address(high: 0xFD00 << 48, low: 2))),
                                                         transport: .udp(source: 1, destination: 53))))
        var arp = [UInt8](repeating: 0, count: 60); arp[12] = 0x08; arp[13] = 0x06
        packets.append(arp)
        #expect(expectTrieAgrees(c, trie, packets, "headers without predicates"))
        #expect(packets.prefix(6).map { p in p.withUnsafeBytes { trie.match($0) } } == [2, 1, 4, 3, 1, 4])
    }

    static let sets = FlatClassifierTests.sets.filter { $0.hasSuffix("_1k") } + ["acl1_10k", "acl5_10k"]

    /// ClassBench sets: headers built inside random rules, tree == reference.
    @Test(arguments: sets)
    func classBenchSetsAgree(_ name: String) throws {
        let text = try String(contentsOfFile: TestData.path("classbench/\(name)"), encoding: .utf8)
        let rules = try ClassBench.parseRules(text)
        let c = try ClassBench.classifier(rules)
        let trie = try compiled(c)
        var rng = SeededRandom(seed: UInt64(name.utf8.reduce(0) { $0 &* 31 &+ Int($1) } & 0xFFFF))
        let packets = (0..<300).map { _ in ClassBench.header(inside: rules.randomElement(using: &rng)!, using: &rng).frame() }
        #expect(packets.allSatisfy { $0.withUnsafeBytes { trie.view.isRegular($0) } }, "the tree, not the fallback, answers whole frames")
        // Frames of one kind (Ethernet, IPv4 without options, TCP or UDP) take the same-shape extraction.
        let sixteen = PacketBuffers(Array(packets.prefix(16)))
        #expect(sixteen.views.withUnsafeBufferPointer { trie.view.takesSameShapePath($0) }, "same-shape path")
        withExtendedLifetime(sixteen) {}
        _ = expectTrieAgrees(c, trie, packets, name)
    }

    /// Changes on a compiled base (rules added, base rules deleted, under
    /// both policies) answer as the reference on the current rules, one
    /// packet at a time and in bursts.
    @Test(arguments: [MatchPolicy.mostPredicates, .firstMatch])
    func changesOnABaseAgree(_ policy: MatchPolicy) throws {
        for seed in 0..<8 {
            var gen = RandomRules(seed: 900 + UInt64(seed))
            var c = Classifier(policy: policy)
            var live: [(FilterID, Int)] = []
            for i in 0..<80 { live.append((try c.addFilter(gen.filter(), demuxID: i, priority: Int.random(in: 0...40, using: &gen.rng)), i)) }
            let base = ClassifierTables.Base(c)
            let packets = (0..<400).map { _ in gen.packet() }
            for step in 0..<30 {
                if Bool.random(using: &gen.rng), !live.isEmpty {
                    let (id, d) = live.remove(at: Int.random(in: 0..<live.count, using: &gen.rng))
                    try c.deleteFilter(id, demuxID: d)
                } else {
                    let d = 1000 + step
                    live.append((try c.addFilter(gen.filter(), demuxID: d, priority: Int.random(in: 0...40, using: &gen.rng)), d))
                }
                let t = ClassifierTables(base: base, current: c)
                let buffers = PacketBuffers(packets)
                let out = buffers.answersInBursts { t.view.match(burst: $0, into: $1) }
                for (k, p) in packets.enumerated() {
                    let a = p.withUnsafeBytes { c.match($0) }
                    #expect(a == out[k] && a == p.withUnsafeBytes { t.match($0) }, "seed \(seed) step \(step): reference \(a), tables \(out[k])")
                    if a != out[k] { return }
                }
            }
        }
    }

    /// IPv6 extension-header chains named in filters (hop-by-hop, routing,
    /// fragment, destination options: lengths `(len + 1) * 8`), on packets
    /// that carry them: every form agrees, and the chains select what they say.
    @Test func ipv6ExtensionChains() throws {
        var c = Classifier()
        let dns = try c.addFilter("[ ethernet (proto = ETHERTYPE_IPV6) | ipv6 (proto = IPPROTO_HOPOPTS) | ipv6opt (next = IPPROTO_UDP) | udp (dport = 53) | * ]", demuxID: 1)
        _ = dns
        try c.addFilter("[ ethernet (proto = ETHERTYPE_IPV6) | ipv6 (proto = IPPROTO_ROUTING) | ipv6route (segleft = 1) (next = IPPROTO_TCP) | tcp (dport = 80) | * ]", demuxID: 2)
        try c.addFilter("[ ethernet (proto = ETHERTYPE_IPV6) | ipv6 (proto = IPPROTO_FRAGMENT) | ipv6frag (fragoff & 0xfff8 = 0) | udp (dport in 1000..2000) | * ]", demuxID: 3)
        try c.addFilter("[ ethernet (proto = ETHERTYPE_IPV6) | ipv6 (proto = IPPROTO_HOPOPTS) | ipv6opt (next = IPPROTO_DSTOPTS) | ipv6opt (next = IPPROTO_UDP) | udp (dport = 53) | * ]", demuxID: 4)
        try c.addFilter("[ ethernet (proto = ETHERTYPE_IPV6) | ipv6 (proto = IPPROTO_UDP) | udp (dport = 53) | * ]", demuxID: 5)
        let src = IPv6Address("fd00::1")!, dst = IPv6Address("fd00::2")!
        func frame(_ ext: [FrameSpec.ExtensionHeader], _ t: FrameSpec.Transport) -> [UInt8] {
            var v6 = FrameSpec.IPv6Spec(source: src, destination: dst)
            v6.extensionHeaders = ext
            return try! PacketBuilder.bytes(FrameSpec(network: .ipv6(v6), transport: t))
        }
        let udp53: FrameSpec.Transport = .udp(source: 9, destination: 53)
        let cases: [([UInt8], Int)] = [
            (frame([.hopByHop(options: [1, 0])], udp53), 1),
            (frame([.hopByHop(options: Array(repeating: 0, count: 12))], udp53), 1),   // 16-byte hop-by-hop
            (frame([.routing(type: 4, segmentsLeft: 1, addresses: [dst])], .tcp(source: 1, destination: 80, sequence: 0, acknowledgment: 0, flags: 2, window: 1)), 2),
            (frame([.routing(type: 4, segmentsLeft: 0, addresses: [dst])], .tcp(source: 1, destination: 80, sequence: 0, acknowledgment: 0, flags: 2, window: 1)), -1),
            (frame([.fragment(offset: 0, more: true, identification: 7)], .udp(source: 1, destination: 1500)), 3),
            (frame([.fragment(offset: 8, more: false, identification: 7)], .udp(source: 1, destination: 1500)), -1),   // not the first fragment
            (frame([.hopByHop(options: [1, 0]), .destinationOptions(options: [1, 0])], udp53), 4),
            (frame([], udp53), 5),
        ]
        let flat = FlatClassifier(c)
        let trie = try compiled(c)
        for (i, (p, expected)) in cases.enumerated() {
            let (a, b, t) = p.withUnsafeBytes { (c.match($0), flat.match($0), trie.match($0)) }
            #expect(a == expected, "case \(i): reference \(a), expected \(expected)")
            #expect(b == a && t == a, "case \(i): reference \(a), bit vectors \(b), tree \(t)")
        }
        // Truncated inside the chain: every form says the same.
        var cut: [[UInt8]] = []
        for (p, _) in cases { for n in 0..<p.count { cut.append(Array(p[0..<n])) } }
        _ = expectTrieAgrees(c, trie, cut, "cut chains")
        for p in cut { #expect(p.withUnsafeBytes { flat.match($0) == c.match($0) }) }
    }

    /// Filter ids mean something only within one classifier: tables built
    /// on one base never take a fresh classifier's ids (numbered from 0
    /// again) for the base's rules.
    @Test func anotherClassifierOnABaseIsAllChange() throws {
        var a = Classifier()
        try a.addFilter("[ ethernet | ip (proto = 17) | udp (dport = 9) | * ]", demuxID: 1)
        try a.addFilter("[ ethernet | ipv6 | * ]", demuxID: 2)
        var b = Classifier()
        try b.addFilter("[ ethernet | * ]", demuxID: 3)
        try b.addFilter("[ ethernet | ip | * ]", demuxID: 4)
        let t = ClassifierTables(base: ClassifierTables.Base(a), current: b)
        #expect(t.addedCount == 2 && t.deletedCount == 2)
        var gen = RandomRules(seed: 5)
        for _ in 0..<300 {
            let p = gen.packet()
            let (want, got) = p.withUnsafeBytes { (b.match($0), t.match($0)) }
            #expect(want == got)
            if want != got { return }
        }
    }
}
