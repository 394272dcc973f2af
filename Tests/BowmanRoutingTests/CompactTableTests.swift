import BowmanCore
import BowmanRouting
import BowmanTestSupport
import Foundation
import Synchronization
import Testing

/// The compact IPv4 table against the linear-scan reference (random tables
/// with churn, single changes and batches), its edges, refusals that change
/// nothing, memory given back, bursts, and lookups racing updates.
@Suite struct CompactTableTests {
    typealias Keys = StrideTableTests.Keys

    func check(_ t: CompactTable, _ ref: LinearLPM, _ keys: inout Keys, probes: Int, _ context: String) {
        var bad = 0
        for _ in 0..<probes {
            let k = keys.key().v4
            let want = ref.lookup(RouteKey(v4: k)), got = t.lookup(k)
            if want != got {
                bad += 1
                if bad <= 3 { Issue.record("\(context): \(IPv4Address(rawValue: k)): table \(got), reference \(want)") }
            }
        }
        #expect(bad == 0, "\(context): \(bad) of \(probes) lookups differ")
    }

    /// directAbove 0: every node direct (the default); 192: a mix; 256: every node mapped.
    @Test(arguments: [false, true], [0, 192, 256]) func randomTablesWithChurnAgreeWithTheLinearScan(batched: Bool, directAbove: Int) throws {
        for seed in 1...4 {
            let t = CompactTable(arenaWords: 1 << 21, directAbove: directAbove)
            var ref = LinearLPM()
            var keys = Keys(seed: UInt64(seed * 7), width: 32)
            var live: [(UInt32, Int)] = []
            for round in 0..<4 {
                var changes: [CompactTable.Change] = []
                for _ in 0..<200 {
                    let k = keys.key(), l = keys.length(), nh = Int.random(in: 0...1000, using: &keys.rng)
                    if batched { changes.append(.add(address: k.v4, length: l, nextHop: nh)) } else { try t.insert(k.v4, length: l, nextHop: nh) }
                    ref.insert(k, l, nh)
                    live.append((k.v4, l))
                }
                for _ in 0..<80 where !live.isEmpty {
                    let (a, l) = live.remove(at: Int.random(in: 0..<live.count, using: &keys.rng))
                    if batched { changes.append(.delete(address: a, length: l)) } else { _ = try t.remove(a, length: l) }
                    ref.remove(RouteKey(v4: a), l)
                }
                if batched { try t.apply(changes) }
                if round % 2 == 1 { t.recycleRetired() }
                check(t, ref, &keys, probes: 2000, "seed \(seed) round \(round) batched \(batched) directAbove \(directAbove)")
                if directAbove == 0 { #expect(t.directNodeCount == t.nodeCount && t.nodeCount > 0) }
                if directAbove == 256 { #expect(t.directNodeCount == 0) }
            }
            #expect(t.ruleCount == ref.list.count)
            for r in t.routes { _ = try t.remove(r.address, length: r.length) }
            #expect(t.ruleCount == 0 && t.nodeCount == 0 && t.directNodeCount == 0 && t.wordsInUse == 0)
            check(t, LinearLPM(), &keys, probes: 200, "seed \(seed) emptied")
        }
    }

    @Test func edges() throws {
        let t = CompactTable(arenaWords: 1 << 20)
        let a: UInt32 = 0xC612_0001   // 198.18.0.1
        #expect(t.lookup(a) == -1)
        try t.insert(a, length: 0, nextHop: 1)
        #expect(t.lookup(0) == 1 && t.lookup(.max) == 1)
        try t.insert(a, length: 32, nextHop: 2)
        #expect(t.lookup(a) == 2 && t.lookup(a - 1) == 1 && t.lookup(a + 1) == 1)
        try t.insert(a, length: 15, nextHop: 3)
        try t.insert(a, length: 16, nextHop: 9)
        try t.insert(a, length: 24, nextHop: 4)
        try t.insert(a, length: 25, nextHop: 5)
        #expect(t.lookup(0xC613_FFFF) == 3 && t.lookup(0xC612_FFFF) == 9 && t.lookup(0xC612_00FF) == 4 && t.lookup(0xC612_007F) == 5)
        #expect(t.lookup(a) == 2)
        #expect(try t.remove(a, length: 25) == 5)
        #expect(t.lookup(0xC612_007F) == 4 && t.lookup(a) == 2)
        #expect(try t.remove(a, length: 24) == 4)
        #expect(t.lookup(0xC612_007F) == 9)
        #expect(try t.remove(a, length: 16) == 9)
        #expect(t.lookup(0xC612_007F) == 3)
        #expect(try t.remove(a, length: 32) == 2)
        #expect(t.lookup(a) == 3 && t.nodeCount == 0, "the /16 folds back into the root")
        #expect(try t.remove(a, length: 15) == 3)
        #expect(try t.remove(a, length: 0) == 1)
        #expect(t.lookup(a) == -1)
        #expect(try t.remove(a, length: 0) == nil)
        try t.insert(a, length: 20, nextHop: 7)
        #expect(try t.insert(a, length: 20, nextHop: 8) == 7)
        #expect(t.lookup(a) == 8 && t.ruleCount == 1)
        // 256 distinct next hops in one node: every index byte is used.
        for j in 0..<256 { try t.insert(0x0A00_0000 | UInt32(j) << 8, length: 24, nextHop: 100 + j) }
        for j in 0..<256 { #expect(t.lookup(0x0A00_0000 | UInt32(j) << 8 | 7) == 100 + j) }
        try t.insert(0x0A00_0505, length: 32, nextHop: 1)
        #expect(t.lookup(0x0A00_0505) == 1 && t.lookup(0x0A00_0506) == 105)
    }

    @Test func refusalsChangeNothing() throws {
        let t = CompactTable(arenaWords: 96, directAbove: 256)    // room for one mapped node of 64 + up to 32 entries
        #expect(throws: CompactTable.Failure.lengthOutOfRange(33)) { try t.insert(1, length: 33, nextHop: 1) }
        #expect(throws: CompactTable.Failure.nextHopOutOfRange(-1)) { try t.insert(1, length: 8, nextHop: -1) }
        try t.insert(0x0A00_0000, length: 17, nextHop: 1)
        #expect(t.nodeCount == 1)
        #expect(throws: CompactTable.Failure.outOfMemory(words: 96)) { try t.insert(0x0B00_0000, length: 17, nextHop: 2) }
        #expect(t.ruleCount == 1 && t.lookup(0x0B00_0000) == -1 && t.lookup(0x0A00_0000) == 1)
        // A batch is refused whole.
        #expect(throws: CompactTable.Failure.outOfMemory(words: 96)) {
            try t.apply([.add(address: 0x0C00_0000, length: 8, nextHop: 3), .add(address: 0x0B00_0000, length: 17, nextHop: 2)])
        }
        #expect(t.ruleCount == 1 && t.lookup(0x0C00_0000) == -1)
        // Memory comes back only after the grace period.
        #expect(try t.remove(0x0A00_0000, length: 17) == 1)
        #expect(throws: CompactTable.Failure.outOfMemory(words: 96)) { try t.insert(0x0B00_0000, length: 17, nextHop: 2) }
        t.recycleRetired()
        try t.insert(0x0B00_0000, length: 17, nextHop: 2)
        #expect(t.lookup(0x0B00_0000) == 2)
    }

    @Test func burstLookupsEqualSingleOnes() throws {
        let t = CompactTable(arenaWords: 1 << 20)
        var keys = Keys(seed: 9, width: 32)
        for _ in 0..<400 { try t.insert(keys.key().v4, length: keys.length(), nextHop: Int.random(in: 0...50, using: &keys.rng)) }
        for n in [1, 7, 64] {
            let addrs = (0..<n).map { _ in keys.key().v4 }
            var out = [Int](repeating: 0, count: n)
            addrs.withUnsafeBufferPointer { a in out.withUnsafeMutableBufferPointer { t.lookup(a, into: $0.baseAddress!) } }
            #expect(out == addrs.map { t.lookup($0) })
        }
    }

    /// A reader on another thread looks up addresses whose routes flip
    /// between two next hops while the writer changes them: every answer is
    /// one of the two, never a torn or stale-node value.
    @Test func lookupsRacingUpdatesSeeBeforeOrAfter() throws {
        let t = CompactTable(arenaWords: 1 << 20)
        try t.insert(0x0A00_0000, length: 8, nextHop: 1)
        try t.insert(0x0A01_0000, length: 16, nextHop: 2)
        for j in 0..<64 { try t.insert(0x0A01_0000 | UInt32(j) << 10, length: 22, nextHop: 3 + j % 5) }
        let stop = Atomic<Bool>(false), wrong = Atomic<Int>(0), passes = Atomic<Int>(0)
        let table = t
        let reader = Thread {
            while !stop.load(ordering: .relaxed) {
                let v = table.lookup(0x0A01_2A05)        // inside 10.1.40.0/22 (nh 3 + 10 % 5 = 3) or its /25 (40)
                let w = table.lookup(0x0A05_0001)        // the /8 (1) or a /24 flipping (41)
                if !(v == 3 || v == 40) || !(w == 1 || w == 41) { wrong.add(1, ordering: .relaxed) }
                passes.add(1, ordering: .releasing)     // a quiescent point
            }
        }
        reader.start()
        for r in 0..<3000 {
            if r % 2 == 0 {
                try t.apply([.add(address: 0x0A01_2A00, length: 25, nextHop: 40), .add(address: 0x0A05_0000, length: 24, nextHop: 41)])
            } else {
                try t.apply([.delete(address: 0x0A01_2A00, length: 25), .delete(address: 0x0A05_0000, length: 24)])
            }
            // The reader may still be inside a retired node: the memory is
            // reused only once it has passed a quiescent point since (two
            // passes: the one under way, then a whole one).
            if r % 100 == 99 {
                let p0 = passes.load(ordering: .acquiring)
                while passes.load(ordering: .acquiring) < p0 + 2 { sched_yield() }
                t.recycleRetired()
            }
        }
        let total = passes.load(ordering: .relaxed)
        stop.store(true, ordering: .relaxed)
        #expect(wrong.load(ordering: .relaxed) == 0, "\(wrong.load(ordering: .relaxed)) wrong answers in \(total) passes")
        #expect(total > 0)
    }
}
