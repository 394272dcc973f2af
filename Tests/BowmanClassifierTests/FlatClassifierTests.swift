import BowmanClassifier
import BowmanCore
import BowmanPacket
import BowmanTestSupport
import Foundation
import Testing

/// Random filters over ethernet/ip/udp/tcp with prefixes, ranges, masks
/// (contiguous and not), and random packets that often hit them.
struct RandomRules {
    var rng: SeededRandom
    let nets: [IPv4Address]

    init(seed: UInt64) {
        rng = SeededRandom(seed: seed)
        var r = SeededRandom(seed: seed ^ 0xABCD)
        nets = (0..<8).map { _ in IPv4Address(rawValue: UInt32.random(in: 0...UInt32.max, using: &r)) }
    }

    mutating func filter() -> String {
        var ip = ""
        if Bool.random(using: &rng) {
            let len = Int.random(in: 0...32, using: &rng)
            ip += " (src = \(nets.randomElement(using: &rng)!)/\(len))"
        }
        if Int.random(in: 0..<3, using: &rng) == 0 { ip += " (dst = \(nets.randomElement(using: &rng)!)/\(Int.random(in: 8...32, using: &rng)))" }
        if Int.random(in: 0..<5, using: &rng) == 0 { ip += " (tos & 0x\(String(UInt8.random(in: 0...255, using: &rng), radix: 16)) = 0)" }
        let l4: String
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: l4 = ""
        case 1:
            let lo = UInt16.random(in: 0...2000, using: &rng)
            l4 = " | udp (dport in \(lo)..\(lo + UInt16.random(in: 0...500, using: &rng)))"
            ip += " (proto = 17)"
        default:
            l4 = " | tcp (sport = \(UInt16.random(in: 1000...1010, using: &rng)))" + (Bool.random(using: &rng) ? " (flags & 0x12 = 0x02)" : "")
            ip += " (proto = 6)"
        }
        let eth = Bool.random(using: &rng) ? " (proto = ETHERTYPE_IP)" : ""
        return "[ ethernet\(eth) | ip\(ip)\(l4) | * ]"
    }

    mutating func packet() -> [UInt8] {
        let src = IPv4Address(rawValue: nets.randomElement(using: &rng)!.rawValue ^ UInt32.random(in: 0...0xFFF, using: &rng))
        let dst = IPv4Address(rawValue: nets.randomElement(using: &rng)!.rawValue ^ UInt32.random(in: 0...0xFF, using: &rng))
        var v4 = FrameSpec.IPv4Spec(source: src, destination: dst)
        v4.tos = UInt8.random(in: 0...255, using: &rng)
        if Int.random(in: 0..<4, using: &rng) == 0 { v4.options = [1, 1, 1, 1] }
        let t: FrameSpec.Transport = switch Int.random(in: 0..<3, using: &rng) {
        case 0: .udp(source: 1, destination: UInt16.random(in: 0...2600, using: &rng))
        case 1: .tcp(source: UInt16.random(in: 998...1012, using: &rng), destination: 80, sequence: 0, acknowledgment: 0,
                     flags: [0x02, 0x12, 0x10][Int.random(in: 0..<3, using: &rng)], window: 1)
        default: .echo(identifier: 1, sequence: 1, reply: false)
        }
        var f = try! PacketBuilder.bytes(FrameSpec(network: .ipv4(v4), transport: t))
        if Int.random(in: 0..<20, using: &rng) == 0 { f = Array(f[0..<Int.random(in: 0..<f.count, using: &rng)]) }   // truncated
        return f
    }
}

@Suite struct FlatClassifierTests {
    /// Flat tables == reference, on random rule sets and random packets,
    /// under both policies (hundreds of thousands of checks, seeded).
    @Test(arguments: [MatchPolicy.mostPredicates, .firstMatch])
    func randomRuleSetsAgree(_ policy: MatchPolicy) throws {
        var checks = 0
        for seed in 0..<40 {
            var gen = RandomRules(seed: UInt64(seed) &* 7919 &+ (policy == .firstMatch ? 1 : 0))
            var c = Classifier(policy: policy)
            for i in 0..<Int.random(in: 1...120, using: &gen.rng) {
                try c.addFilter(gen.filter(), demuxID: i, priority: Int.random(in: 0...50, using: &gen.rng))
            }
            let flat = FlatClassifier(c)
            for _ in 0..<1500 {
                let p = gen.packet()
                let (a, b) = p.withUnsafeBytes { (c.match($0), flat.match($0)) }
                #expect(a == b, "seed \(seed): reference \(a), flat \(b)")
                if a != b { return }
                checks += 1
            }
        }
        #expect(checks == 60_000)
    }

    /// Live changes: after every add and delete, a recompiled table agrees.
    @Test func addDeleteKeepsAgreeing() throws {
        var gen = RandomRules(seed: 99)
        var c = Classifier()
        var ids: [(FilterID, Int)] = []
        let packets = (0..<300).map { _ in gen.packet() }
        for step in 0..<150 {
            if ids.isEmpty || Int.random(in: 0..<3, using: &gen.rng) > 0 {
                ids.append((try c.addFilter(gen.filter(), demuxID: step), step))
            } else {
                let (id, d) = ids.remove(at: Int.random(in: 0..<ids.count, using: &gen.rng))
                try c.deleteFilter(id, demuxID: d)
            }
            let flat = FlatClassifier(c)
            for p in packets {
                let (a, b) = p.withUnsafeBytes { (c.match($0), flat.match($0)) }
                #expect(a == b)
                if a != b { return }
            }
        }
    }

    static let sets = TestData.files(under: "classbench", extensions: [""]).map { URL(fileURLWithPath: $0).lastPathComponent }
        .filter { $0.contains("_") }.sorted()

    /// Every ClassBench set loads; flat == reference on headers generated
    /// inside and around its rules; the rule number is the line number.
    @Test(arguments: sets)
    func classBenchSetsAgree(_ name: String) throws {
        let text = try String(contentsOfFile: TestData.path("classbench/\(name)"), encoding: .utf8)
        let rules = try ClassBench.parseRules(text)
        #expect(rules.count >= (name.hasSuffix("10k") ? 5000 : 500))
        let c = try ClassBench.classifier(rules)
        let flat = FlatClassifier(c)
        var rng = SeededRandom(seed: UInt64(name.hashValue & 0xFFFF))
        let samples = name.hasSuffix("10k") ? 120 : 400
        for _ in 0..<samples {
            let r = rules.randomElement(using: &rng)!
            let f = ClassBench.header(inside: r, using: &rng).frame()
            let (a, b) = f.withUnsafeBytes { (c.match($0), flat.match($0)) }
            #expect(a == b, "\(name): reference \(a), flat \(b)")
            #expect(a != Classifier.noMatch && a <= r.line, "a header built inside rule \(r.line) matches it or an earlier rule")
        }
    }

    @Test func malformedClassBenchLinesNameTheLine() {
        let bad = "@1.2.3.4/32\t5.6.7.8/32\t0 : 65535\t80 : 80\t0x06/0xFF\t0x0000/0x0000\n@1.2.3.4/33\t5.6.7.8/32\t0 : 65535\t80 : 80\t0x06/0xFF\t0x0000/0x0000\n"
        #expect(throws: ClassifierError("'1.2.3.4/33' is not an IPv4 prefix", at: SourceLocation(line: 2, column: 2))) {
            _ = try ClassBench.parseRules(bad)
        }
        #expect(throws: ClassifierError.self) { _ = try ClassBench.parseRules("@1.2.3.4/32 5.6.7.8/32 0 : 65535 90 : 80 0x06/0xFF 0/0") }
        #expect(throws: ClassifierError.self) { _ = try ClassBench.parseTrace("1 2 3", number: 4) }
    }
}
