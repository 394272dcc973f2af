import BowmanCore
import BowmanRouting
import BowmanTestSupport
import Foundation
import Testing

/// The stride tables against the linear-scan reference: random tables with
/// heavy overlap, add/delete churn, the edges (/0, /32, /128, overlapping
/// deletes), and that deleting everything gives every group back.
@Suite struct StrideTableTests {
    /// Random keys drawn near a few bases, so prefixes nest and overlap.
    struct Keys {
        var rng: SeededRandom
        let bases: [RouteKey]
        let width: Int
        init(seed: UInt64, width: Int) {
            rng = SeededRandom(seed: seed)
            self.width = width
            var r = SeededRandom(seed: seed ^ 0x5A5A)
            bases = (0..<6).map { _ in
                width == 32 ? RouteKey(v4: UInt32.random(in: 0...UInt32.max, using: &r))
                            : RouteKey(high: UInt64.random(in: 0...UInt64.max, using: &r), low: UInt64.random(in: 0...UInt64.max, using: &r))
            }
        }
        mutating func key() -> RouteKey {
            let b = bases.randomElement(using: &rng)!
            // Flip a few low-order bits of the base at a random depth.
            let depth = Int.random(in: 0...width, using: &rng)
            var k = b
            for _ in 0..<3 {
                let bit = Int.random(in: max(0, depth - 8)...max(0, width - 1), using: &rng)
                if bit < 64 { k.high ^= 1 << UInt64(63 - bit) } else { k.low ^= 1 << UInt64(127 - bit) }
            }
            return k
        }
        mutating func length() -> Int {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: return Int.random(in: 0...8, using: &rng)
            case 1...4: return Int.random(in: 16...min(width, 24), using: &rng)
            default: return Int.random(in: 20...width, using: &rng)
            }
        }
    }

    func lookup(_ t: StrideTable, _ k: RouteKey) -> Int { t.width == 32 ? t.lookup(v4: k.v4) : t.lookup(k) }

    func check(_ t: StrideTable, _ ref: LinearLPM, _ keys: inout Keys, probes: Int, _ context: String) {
        var bad = 0
        for _ in 0..<probes {
            let k = keys.key()
            let want = ref.lookup(k), got = lookup(t, k)
            if want != got {
                bad += 1
                if bad <= 3 { Issue.record("\(context): key \(String(k.high, radix: 16)) \(String(k.low, radix: 16)): table \(got), reference \(want)") }
            }
        }
        #expect(bad == 0, "\(context): \(bad) of \(probes) lookups differ")
    }

    @Test(arguments: [32, 128])
    func randomTablesWithChurnAgreeWithTheLinearScan(width: Int) throws {
        for seed in 1...3 {
            let t = StrideTable(width: width, groupCapacity: 4096)
            var ref = LinearLPM()
            var keys = Keys(seed: UInt64(seed * 10 + width), width: width)
            var live: [(RouteKey, Int)] = []
            for round in 0..<4 {
                for _ in 0..<150 {
                    let k = keys.key(), l = keys.length(), nh = Int.random(in: 0...1000, using: &keys.rng)
                    try t.insert(k, length: l, nextHop: nh)
                    ref.insert(k, l, nh)
                    live.append((k, l))
                }
                for _ in 0..<60 where !live.isEmpty {
                    let (k, l) = live.remove(at: Int.random(in: 0..<live.count, using: &keys.rng))
                    t.remove(k, length: l)
                    ref.remove(k, l)
                }
                if round % 2 == 1 { t.recycleRetiredGroups() }
                check(t, ref, &keys, probes: 1500, "width \(width) seed \(seed) round \(round)")
            }
            #expect(t.ruleCount == ref.list.count)
            // Deleting everything folds every group back into the root.
            for r in t.routes { t.remove(r.key, length: r.length) }
            #expect(t.ruleCount == 0 && t.groupsInUse == 0)
            check(t, LinearLPM(), &keys, probes: 200, "width \(width) seed \(seed) emptied")
        }
    }

    @Test func edgesOfIPv4() throws {
        let t = StrideTable(width: 32, groupCapacity: 16)
        let a = RouteKey(v4: 0xC612_0001)   // 198.18.0.1
        #expect(t.lookup(v4: 0xC612_0001) == -1)
        try t.insert(a, length: 0, nextHop: 1)          // default route
        #expect(t.lookup(v4: 0) == 1 && t.lookup(v4: .max) == 1)
        try t.insert(a, length: 32, nextHop: 2)         // host route
        #expect(t.lookup(v4: 0xC612_0001) == 2 && t.lookup(v4: 0xC612_0000) == 1 && t.lookup(v4: 0xC612_0002) == 1)
        try t.insert(a, length: 15, nextHop: 3)         // 198.18.0.0/15
        try t.insert(a, length: 24, nextHop: 4)
        try t.insert(a, length: 25, nextHop: 5)
        #expect(t.lookup(v4: 0xC613_FFFF) == 3 && t.lookup(v4: 0xC612_00FF) == 4 && t.lookup(v4: 0xC612_007F) == 5)
        #expect(t.lookup(v4: 0xC612_0001) == 2)
        // Overlapping deletes fall back to the next covering route, level by level.
        #expect(t.remove(a, length: 25) == 5)
        #expect(t.lookup(v4: 0xC612_007F) == 4 && t.lookup(v4: 0xC612_0001) == 2)
        #expect(t.remove(a, length: 24) == 4)
        #expect(t.lookup(v4: 0xC612_007F) == 3)
        #expect(t.remove(a, length: 32) == 2)
        #expect(t.lookup(v4: 0xC612_0001) == 3)
        #expect(t.groupsInUse == 0, "the /32's group folds away")
        #expect(t.remove(a, length: 15) == 3)
        #expect(t.lookup(v4: 0xC612_0001) == 1)
        #expect(t.remove(a, length: 0) == 1)
        #expect(t.lookup(v4: 0xC612_0001) == -1)
        #expect(t.remove(a, length: 0) == nil, "deleting what is not there changes nothing")
        // Replacing a route's next hop returns the old one.
        try t.insert(a, length: 20, nextHop: 7)
        #expect(try t.insert(a, length: 20, nextHop: 8) == 7)
        #expect(t.lookup(v4: 0xC612_0001) == 8 && t.ruleCount == 1)
    }

    @Test func edgesOfIPv6() throws {
        let t = StrideTable(width: 128, groupCapacity: 64)
        let a = RouteKey(high: 0xFD00_0018_0000_0000, low: 1)   // fd00:18::1
        let near = RouteKey(high: 0xFD00_0018_0000_0000, low: 2)
        try t.insert(a, length: 0, nextHop: 1)
        try t.insert(a, length: 128, nextHop: 2)
        try t.insert(a, length: 64, nextHop: 3)
        try t.insert(a, length: 8, nextHop: 4)
        #expect(t.lookup(a) == 2 && t.lookup(near) == 3)
        #expect(t.lookup(RouteKey(high: 0xFD01 << 48, low: 0)) == 4 && t.lookup(RouteKey(high: 0, low: 0)) == 1)
        #expect(t.remove(a, length: 64) == 3)
        #expect(t.lookup(near) == 4 && t.lookup(a) == 2)
        #expect(t.remove(a, length: 128) == 2)
        #expect(t.lookup(a) == 4 && t.groupsInUse == 0)
    }

    @Test func refusalsChangeNothing() throws {
        let t = StrideTable(width: 32, groupCapacity: 1)
        #expect(throws: StrideTable.Failure.lengthOutOfRange(33, width: 32)) { try t.insert(RouteKey(v4: 1), length: 33, nextHop: 1) }
        #expect(throws: StrideTable.Failure.nextHopOutOfRange(-1)) { try t.insert(RouteKey(v4: 1), length: 8, nextHop: -1) }
        try t.insert(RouteKey(v4: 0x0A00_0001), length: 32, nextHop: 1)         // takes the one group
        #expect(throws: StrideTable.Failure.outOfGroups(capacity: 1)) { try t.insert(RouteKey(v4: 0x0B00_0001), length: 32, nextHop: 2) }
        #expect(t.ruleCount == 1 && t.lookup(v4: 0x0B00_0001) == -1 && t.lookup(v4: 0x0A00_0001) == 1)
        // A freed group is reused only after the grace period.
        t.remove(RouteKey(v4: 0x0A00_0001), length: 32)
        #expect(throws: StrideTable.Failure.outOfGroups(capacity: 1)) { try t.insert(RouteKey(v4: 0x0B00_0001), length: 32, nextHop: 2) }
        t.recycleRetiredGroups()
        try t.insert(RouteKey(v4: 0x0B00_0001), length: 32, nextHop: 2)
        #expect(t.lookup(v4: 0x0B00_0001) == 2)
    }

    @Test func burstLookupsEqualSingleOnes() throws {
        let t = StrideTable(width: 32, groupCapacity: 256)
        var keys = Keys(seed: 9, width: 32)
        for _ in 0..<300 { try t.insert(keys.key(), length: keys.length(), nextHop: Int.random(in: 0...50, using: &keys.rng)) }
        let addrs = (0..<64).map { _ in keys.key().v4 }
        var out = [Int](repeating: 0, count: 64)
        addrs.withUnsafeBufferPointer { a in out.withUnsafeMutableBufferPointer { t.lookup(v4: a, into: $0.baseAddress!) } }
        #expect(out == addrs.map { t.lookup(v4: $0) })
        let t6 = StrideTable(width: 128, groupCapacity: 8192)
        var k6 = Keys(seed: 10, width: 128)
        for _ in 0..<300 { try t6.insert(k6.key(), length: k6.length(), nextHop: Int.random(in: 0...50, using: &k6.rng)) }
        let keys6 = (0..<64).map { _ in k6.key() }
        keys6.withUnsafeBufferPointer { a in out.withUnsafeMutableBufferPointer { t6.lookup(a, into: $0.baseAddress!) } }
        #expect(out == keys6.map { t6.lookup($0) })
    }
}
