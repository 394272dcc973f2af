import BowmanCore
import BowmanRouting
import BowmanTestSupport
import Foundation
import Testing

/// The real tables of ../shared/testdata/routing: a full Internet table
/// (901,899 IPv4 + 160,147 IPv6 prefixes, next hops assigned here) and the
/// RouteViews IPv6 FIB, against the per-length reference; then churn.
@Suite(.serialized) struct FullTableTests {
    static func fullTableLines() throws -> [Substring] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["gzip", "-dc", TestData.path("routing/prefixes.txt.gz")]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
    }

    static func key(_ p: IPPrefix) -> RouteKey {
        switch p.address {
        case .v4(let a): return RouteKey(v4: a.rawValue)
        case .v6(let a): return RouteKey(high: a.high, low: a.low)
        }
    }

    /// Probes: the first and last address of sampled prefixes, and random addresses.
    static func probes(_ prefixes: [IPPrefix], width: Int, count: Int, seed: UInt64) -> [RouteKey] {
        var rng = SeededRandom(seed: seed)
        var out: [RouteKey] = []
        for _ in 0..<count {
            let p = prefixes.randomElement(using: &rng)!
            let k = key(p)
            let l = Int(p.length)
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: out.append(k)
            case 1:   // last address of the prefix
                let mh: UInt64 = l >= 64 ? 0 : (l == 0 ? ~0 : ~0 >> UInt64(l))
                let ml: UInt64 = l >= 128 ? 0 : (l <= 64 ? ~0 : ~0 >> UInt64(l - 64))
                out.append(width == 32 ? RouteKey(v4: UInt32(truncatingIfNeeded: (k.high | mh) >> 32)) : RouteKey(high: k.high | mh, low: k.low | ml))
            default:
                out.append(width == 32 ? RouteKey(v4: .random(in: 0...UInt32.max, using: &rng))
                                       : RouteKey(high: k.high ^ UInt64.random(in: 0...0xFFFF_FFFF, using: &rng), low: .random(in: 0...UInt64.max, using: &rng)))
            }
        }
        return out
    }

    func agree(_ t: StrideTable, _ ref: ByLengthLPM, _ probes: [RouteKey], _ what: String) {
        var bad = 0
        for k in probes {
            let got = t.width == 32 ? t.lookup(v4: UInt32(truncatingIfNeeded: k.high >> 32)) : t.lookup(k)
            let want = ref.lookup(k)
            if got != want { bad += 1; if bad <= 3 { Issue.record("\(what): \(String(k.high, radix: 16)):\(String(k.low, radix: 16)) table \(got) reference \(want)") } }
        }
        #expect(bad == 0, "\(what): \(bad) of \(probes.count) differ")
    }

    func run(_ prefixes: [IPPrefix], width: Int, nextHops: [Int], what: String) throws {
        let t = StrideTable(width: width, groupCapacity: width == 32 ? 1 << 16 : 1 << 17)
        var ref = ByLengthLPM(width: width)
        for (p, nh) in zip(prefixes, nextHops) {
            try t.insert(Self.key(p), length: Int(p.length), nextHop: nh)
            ref.insert(Self.key(p), Int(p.length), nh)
        }
        #expect(t.ruleCount == Set(prefixes).count)
        agree(t, ref, Self.probes(prefixes, width: width, count: 60_000, seed: 1), "\(what), whole")
        // Churn: delete every third prefix, re-add half of those with other next hops.
        var rng = SeededRandom(seed: 2)
        for (i, p) in prefixes.enumerated() where i % 3 == 0 {
            t.remove(Self.key(p), length: Int(p.length)); ref.remove(Self.key(p), Int(p.length))
            if Bool.random(using: &rng) {
                try t.insert(Self.key(p), length: Int(p.length), nextHop: i % 251)
                ref.insert(Self.key(p), Int(p.length), i % 251)
            }
        }
        t.recycleRetiredGroups()
        agree(t, ref, Self.probes(prefixes, width: width, count: 60_000, seed: 3), "\(what), after churn")
    }

    @Test func fullInternetTable() throws {
        let lines = try Self.fullTableLines()
        let prefixes = lines.compactMap { IPPrefix($0) }
        #expect(prefixes.count == lines.count, "every line is a prefix")
        let v4 = prefixes.filter { if case .v4 = $0.address { true } else { false } }
        let v6 = prefixes.filter { if case .v6 = $0.address { true } else { false } }
        #expect(v4.count == 901_899 && v6.count == 160_147)
        try run(v4, width: 32, nextHops: v4.indices.map { $0 % 1021 }, what: "IPv4 full table")
        try run(v6, width: 128, nextHops: v6.indices.map { $0 % 1021 }, what: "IPv6 full table")
    }

    /// The compact IPv4 table on the full table: loaded as one batch, then
    /// the same churn one change at a time, then emptied in one batch.
    @Test func fullInternetTableCompact() throws {
        let v4 = try Self.fullTableLines().compactMap { IPPrefix($0) }.filter { if case .v4 = $0.address { true } else { false } }
        func addr(_ p: IPPrefix) -> UInt32 { UInt32(truncatingIfNeeded: Self.key(p).high >> 32) }
        let t = CompactTable()
        var ref = ByLengthLPM(width: 32)
        try t.apply(v4.enumerated().map { .add(address: addr($0.element), length: Int($0.element.length), nextHop: $0.offset % 1021) })
        for (i, p) in v4.enumerated() { ref.insert(Self.key(p), Int(p.length), i % 1021) }
        #expect(t.ruleCount == v4.count)
        #expect(t.tableBytes < 32_000_000, "\(t.tableBytes) bytes")   // every node direct: 26.7 MB (11.3 MB mapped)
        func agree(_ what: String, seed: UInt64) {
            var bad = 0
            for k in Self.probes(v4, width: 32, count: 60_000, seed: seed) {
                let got = t.lookup(UInt32(truncatingIfNeeded: k.high >> 32)), want = ref.lookup(k)
                if got != want { bad += 1; if bad <= 3 { Issue.record("\(what): \(IPv4Address(rawValue: UInt32(truncatingIfNeeded: k.high >> 32))) table \(got) reference \(want)") } }
            }
            #expect(bad == 0, "\(what): \(bad) differ")
        }
        agree("compact, whole", seed: 1)
        var rng = SeededRandom(seed: 2)
        // (Every ninth: each change rebuilds its /16, which a debug build makes slow.)
        for (i, p) in v4.enumerated() where i % 9 == 0 {
            try t.remove(addr(p), length: Int(p.length)); ref.remove(Self.key(p), Int(p.length))
            if Bool.random(using: &rng) {
                try t.insert(addr(p), length: Int(p.length), nextHop: i % 251)
                ref.insert(Self.key(p), Int(p.length), i % 251)
            }
            if i % 9000 == 0 { t.recycleRetired() }
        }
        t.recycleRetired()
        agree("compact, after churn", seed: 3)
        try t.apply(t.routes.map { .delete(address: $0.address, length: $0.length) })
        #expect(t.ruleCount == 0 && t.nodeCount == 0 && t.wordsInUse == 0)
    }

    @Test func routeViewsIPv6() throws {
        let text = try String(contentsOfFile: TestData.path("routing/ipv6-routes-852"), encoding: .utf8)
        var prefixes: [IPPrefix] = [], hops: [Int] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let f = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard f.count == 2, let p = IPPrefix(f[0]), let nh = Int(f[1]) else { Issue.record("bad line \(line)"); continue }
            prefixes.append(p); hops.append(nh)
        }
        #expect(prefixes.count == 102_126)
        try run(prefixes, width: 128, nextHops: hops, what: "RouteViews IPv6")
    }
}
