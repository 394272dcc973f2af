import BowmanClassifier
import BowmanCore
import BowmanPacket
import BowmanTestSupport
import Foundation
import Testing


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
