import BenchSupport
import BowmanCore
import BowmanRouting
import Foundation
import Synchronization

// Longest-prefix match on the full Internet table (../shared/testdata/
// routing/prefixes.txt.gz: 901,899 IPv4 + 160,147 IPv6 prefixes; next hop
// of the i-th prefix of a family: i mod 65536) with Bowman's tables
// (IPv4: CompactTable, what route tables use, and StrideTable, the
// DIR-24-8 form, for comparison; IPv6: StrideTable): build time, memory,
// lookups/s (bursts of 64 as workers run them, and one at a time) on two
// traffic sets a family, and one route added or deleted until another
// core's lookups see it.
//
// lpm-bench [--dump DIR]: with --dump also writes what lpm_dpdk (rte_lpm,
// rte_lpm6) reads to run the same prefixes and addresses and check every
// answer: DIR/v4.routes, DIR/v6.routes ("prefix next-hop" lines),
// DIR/v4-{random,prefixes}.addr (u32 host order), DIR/v6-*.addr (16 bytes,
// network order), DIR/*.expected (i32 per address, -1: no route).
// LOOKUPS=N addresses per set (default 2^20); DIRECT_ABOVE=K the compact
// table's direct-node threshold (default 0: every node direct). --ab: that table against
// every node mapped, passes alternated, nothing else.
var args = Array(CommandLine.arguments.dropFirst())
var dump: String?
if args.first == "--dump", args.count > 1 { dump = args[1]; args.removeFirst(2) }
let count = Int(ProcessInfo.processInfo.environment["LOOKUPS"] ?? "") ?? 1 << 20
let here = URL(fileURLWithPath: #filePath)
let testdata = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/testdata")

func readPrefixes() throws -> [IPPrefix] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/gzip")
    p.arguments = ["-dc", testdata.appendingPathComponent("routing/prefixes.txt.gz").path]
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).map { IPPrefix($0)! }
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
/// Median of 7 passes over the addresses, in nanoseconds per lookup.
func timed(_ n: Int, _ body: () -> Int) -> Double {
    var sink = body(), t: [Double] = []
    for _ in 0..<7 {
        let t0 = now()
        sink &+= body()
        t.append(Double(now() - t0) / Double(n))
    }
    if sink == 42 { print("") }
    return t.sorted()[3]
}

func key(_ a: IPAddress) -> RouteKey {
    switch a { case .v4(let x): RouteKey(v4: x.rawValue); case .v6(let x): RouteKey(high: x.high, low: x.low) }
}

/// An address inside `p`, its host bits random.
func inside(_ p: IPPrefix, _ rng: inout SplitMix) -> RouteKey {
    let k = key(p.address), width = p.address.isV4 ? 32 : 128
    let l = Int(p.length)
    var r = RouteKey(high: rng.next(), low: rng.next())
    if width == 32 { r = RouteKey(v4: UInt32(truncatingIfNeeded: r.high)) }
    let hostHigh: UInt64 = l >= 64 ? 0 : (l == 0 ? ~0 : ~0 >> l)
    let hostLow: UInt64 = l >= 128 ? 0 : (l <= 64 ? ~0 : ~0 >> (l - 64))
    return RouteKey(high: k.high | (r.high & hostHigh), low: k.low | (r.low & hostLow))
}

/// A lookup spinning on another thread: told which next hop to wait for,
/// it notes the time it first sees it.
final class Probe<T: Table>: @unchecked Sendable {
    let key: RouteKey, table: T
    let want = Atomic<Int>(-2), seenAt = Atomic<UInt64>(0), stop = Atomic<Bool>(false)
    init(key: RouteKey, table: T) { self.key = key; self.table = table }
    func watch() {
        while !stop.load(ordering: .relaxed) {
            let w = want.load(ordering: .acquiring)
            if w == -2 { continue }
            let v = table.lookup(key)
            if v == w { seenAt.store(now(), ordering: .relaxed); want.store(-2, ordering: .releasing) }
        }
    }
    /// Sets the reader looking for `nextHop` (before the update is made).
    func expect(_ nextHop: Int) { want.store(nextHop, ordering: .releasing) }
    /// Waits until the reader saw it; returns when it did.
    func seen() -> UInt64 {
        while want.load(ordering: .acquiring) != -2 {}
        return seenAt.load(ordering: .relaxed)
    }
}

extension IPAddress { var isV4: Bool { if case .v4 = self { true } else { false } } }

func write<T>(_ values: [T], to path: String) throws {
    try values.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
}

/// What the benchmark needs of a table; generic code over it is specialised.
protocol Table: AnyObject, Sendable {
    func lookup(_ k: RouteKey) -> Int
    func lookup(burst: UnsafeBufferPointer<RouteKey>, v4: UnsafeBufferPointer<UInt32>, into: UnsafeMutablePointer<Int>)
    func add(_ k: RouteKey, _ length: Int, _ nh: Int) throws
    func delete(_ k: RouteKey, _ length: Int) throws
    func recycle()
    var bytes: Int { get }
    var detail: String { get }
}

final class Stride: Table, @unchecked Sendable {
    let t: StrideTable
    init(_ t: StrideTable) { self.t = t }
    @inline(__always) func lookup(_ k: RouteKey) -> Int { t.width == 32 ? t.lookup(v4: UInt32(truncatingIfNeeded: k.high >> 32)) : t.lookup(k) }
    @inline(__always) func lookup(burst: UnsafeBufferPointer<RouteKey>, v4: UnsafeBufferPointer<UInt32>, into o: UnsafeMutablePointer<Int>) {
        if t.width == 32 { t.lookup(v4: v4, into: o) } else { t.lookup(burst, into: o) }
    }
    func add(_ k: RouteKey, _ length: Int, _ nh: Int) throws { try t.insert(k, length: length, nextHop: nh) }
    func delete(_ k: RouteKey, _ length: Int) throws { t.remove(k, length: length) }
    func recycle() { t.recycleRetiredGroups() }
    var bytes: Int { t.tableBytes }
    var detail: String { "\(t.groupsInUse) groups" }
}

final class Compact: Table, @unchecked Sendable {
    let t: CompactTable
    init(_ t: CompactTable) { self.t = t }
    @inline(__always) func lookup(_ k: RouteKey) -> Int { t.lookup(UInt32(truncatingIfNeeded: k.high >> 32)) }
    @inline(__always) func lookup(burst: UnsafeBufferPointer<RouteKey>, v4: UnsafeBufferPointer<UInt32>, into o: UnsafeMutablePointer<Int>) {
        t.lookup(v4, into: o)
    }
    func add(_ k: RouteKey, _ length: Int, _ nh: Int) throws { try t.insert(UInt32(truncatingIfNeeded: k.high >> 32), length: length, nextHop: nh) }
    func delete(_ k: RouteKey, _ length: Int) throws { try t.remove(UInt32(truncatingIfNeeded: k.high >> 32), length: length) }
    func recycle() { t.recycleRetired() }
    var bytes: Int { t.tableBytes }
    var detail: String { "\(t.nodeCount) nodes, \(t.directNodeCount) direct" }
}

/// Bursts of 64 over every address, as a worker runs them; returns a value so the work is kept.
@inline(never)
func bursts<T: Table>(_ table: T, _ keys: [RouteKey], _ v4: [UInt32], _ out: inout [Int]) -> Int {
    out.withUnsafeMutableBufferPointer { o in
        keys.withUnsafeBufferPointer { k in
            v4.withUnsafeBufferPointer { a in
                var i = 0
                while i < a.count {
                    let end = min(i + 64, a.count)
                    table.lookup(burst: UnsafeBufferPointer(rebasing: k[i..<end]), v4: UnsafeBufferPointer(rebasing: a[i..<end]), into: o.baseAddress! + i)
                    i = end
                }
            }
        }
        return o[o.count - 1]
    }
}

@inline(never)
func singles<T: Table>(_ table: T, _ keys: [RouteKey]) -> Int {
    var s = 0
    for k in keys { s &+= table.lookup(k) }
    return s
}

let all = try readPrefixes()
var rows: [String] = [], updateRows: [String] = []

/// `--ab`: the IPv4 compact table with nodes direct above DIRECT_ABOVE
/// distinct entries (default 0: all) against every node mapped, passes alternated (A B A B …,
/// 31 pairs) so the machine's drift hits both alike; prints the median of
/// the pairs' ratios per address set.
if args.first == "--ab" {
    let prefixes = all.filter { $0.address.isV4 }
    let dense = Int(ProcessInfo.processInfo.environment["DIRECT_ABOVE"] ?? "") ?? 0
    func make(_ d: Int) throws -> Compact {
        let t = CompactTable(directAbove: d)
        try t.apply(prefixes.enumerated().map { .add(address: UInt32(truncatingIfNeeded: key($0.element.address).high >> 32), length: Int($0.element.length), nextHop: $0.offset % 65536) })
        return Compact(t)
    }
    let a = try make(dense), b = try make(256)
    var rng = SplitMix(state: 4)
    let sets: [(String, [UInt32])] = [
        ("random", (0..<count).map { _ in UInt32(truncatingIfNeeded: rng.next()) }),
        ("prefixes", (0..<count).map { _ in UInt32(truncatingIfNeeded: inside(prefixes[Int(rng.next() % UInt64(prefixes.count))], &rng).high >> 32) }),
    ]
    print("IPv4 CompactTable, direct above \(dense) (\(a.t.directNodeCount) of \(a.t.nodeCount) nodes direct, \(a.bytes) bytes) ÷ all mapped (\(b.bytes) bytes), bursts of 64:")
    for (name, v4) in sets {
        let keys = v4.map { RouteKey(v4: $0) }
        var oa = [Int](repeating: 0, count: count), ob = oa
        _ = bursts(a, keys, v4, &oa); _ = bursts(b, keys, v4, &ob)
        precondition(oa == ob, "the two layouts disagree")
        var ratios: [Double] = [], ta: [Double] = [], tb: [Double] = []
        for _ in 0..<31 {
            let t0 = now(); _ = bursts(a, keys, v4, &oa)
            let t1 = now(); _ = bursts(b, keys, v4, &ob)
            let t2 = now()
            ta.append(Double(t1 - t0) / Double(count)); tb.append(Double(t2 - t1) / Double(count))
            ratios.append(Double(t2 - t1) / Double(t1 - t0))
        }
        func med(_ x: [Double]) -> Double { x.sorted()[x.count / 2] }
        print(String(format: "  %@: direct %.2f ns, mapped %.2f ns a lookup (medians); speed ratio direct ÷ mapped, median of 31 pairs: %.3f (quartiles %.3f – %.3f)",
                     name, med(ta), med(tb), med(ratios), ratios.sorted()[7], ratios.sorted()[23]))
    }
    exit(0)
}
var answers: [String: [Int]] = [:]

@MainActor func run<T: Table>(_ family: String, _ form: String, _ prefixes: [IPPrefix], _ make: () throws -> T,
                   sets: [(String, [RouteKey])]) throws {
    let width = family == "v4" ? 32 : 128
    let t0 = now()
    let table = try make()
    let buildMs = Double(now() - t0) / 1e6
    for (name, keys) in sets {
        var out = [Int](repeating: 0, count: keys.count)
        let v4 = keys.map { UInt32(truncatingIfNeeded: $0.high >> 32) }
        let b = timed(keys.count) { bursts(table, keys, v4, &out) }, s = timed(keys.count) { singles(table, keys) }
        let hits = out.filter { $0 >= 0 }.count
        // Every form gives the same answers; a sample checked against the per-length reference.
        if let earlier = answers["\(family) \(name)"] { precondition(earlier == out, "\(family) \(name): \(form) disagrees") }
        answers["\(family) \(name)"] = out
        var byLength: [[RouteKey: Int]] = Array(repeating: [:], count: width + 1)
        for (i, p) in prefixes.enumerated() { byLength[Int(p.length)][key(p.address)] = i % 65536 }
        for i in stride(from: 0, to: keys.count, by: 97) {
            var want = -1
            for l in stride(from: width, through: 0, by: -1) {
                if let nh = byLength[l][keys[i].masked(l)] { want = nh; break }
            }
            precondition(out[i] == want, "\(family) \(name): lookup \(i) gave \(out[i]), the reference \(want)")
        }
        rows.append(String(format: "| IP%@ %@ | %@ | %d | **%.2f** (%.2f ns) | %.2f | %.1f %% | %.0f ms | %.1f MB (%@) |",
                           family, form, name, prefixes.count, 1e3 / b, b, 1e3 / s, 100 * Double(hits) / Double(keys.count),
                           buildMs, Double(table.bytes) / 1e6, table.detail))
        print("LPM \(family) \(name) bowman-\(form)-bulk64 \(String(format: "%.2f", 1e3 / b)) M/s")
        if let dir = dump {
            if width == 32 { try write(v4, to: "\(dir)/\(family)-\(name).addr") } else {
                try write(keys.flatMap { k -> [UInt8] in (0..<16).map { j in UInt8(truncatingIfNeeded: (j < 8 ? k.high >> (56 - 8 * j) : k.low >> (120 - 8 * j))) } },
                          to: "\(dir)/\(family)-\(name).addr")
            }
            try write(out.map { Int32($0) }, to: "\(dir)/\(family)-\(name).expected")
        }
    }

    // One route added / deleted, and how long until a lookup on another
    // thread sees it: a host route inside a covered prefix.
    var rng = SplitMix(state: 99)
    let covered = prefixes[prefixes.count / 2]
    let host = inside(covered, &rng)
    let probe = Probe(key: host, table: table)
    let reader = Thread { probe.watch() }
    reader.start()
    var addNs: [Double] = [], delNs: [Double] = [], addSeen: [Double] = [], delSeen: [Double] = []
    let covering = table.lookup(host)
    for r in 0..<51 {
        let nh = 70000 + r  // above every next hop the table holds
        probe.expect(nh)
        let a0 = now()
        try table.add(host, width, nh)
        let a1 = now()
        let addSeenAt = probe.seen()
        addNs.append(Double(a1 - a0)); addSeen.append(Double(addSeenAt - a0))
        probe.expect(covering)
        let d0 = now()
        try table.delete(host, width)
        let d1 = now()
        let delSeenAt = probe.seen()
        delNs.append(Double(d1 - d0)); delSeen.append(Double(delSeenAt - d0))
        table.recycle()     // the reader is idle between probes: a quiescent point
    }
    probe.stop.store(true, ordering: .relaxed)
    func med(_ x: [Double]) -> Double { x.sorted()[x.count / 2] / 1000 }
    updateRows.append(String(format: "| IP%@ %@ | /%d inside %@ | %.1f µs | %.1f µs | %.1f µs | %.1f µs |", family, form, width,
                             covered.description, med(addNs), med(addSeen), med(delNs), med(delSeen)))
}

for family in ["v4", "v6"] {
    let prefixes = all.filter { $0.address.isV4 == (family == "v4") }
    let width = family == "v4" ? 32 : 128
    var rng = SplitMix(state: width == 32 ? 4 : 6)
    let sets: [(String, [RouteKey])] = [
        ("random", (0..<count).map { _ in
            width == 32 ? RouteKey(v4: UInt32(truncatingIfNeeded: rng.next()))
                // IPv6: uniform in 2000::/3, the global unicast space the table covers.
                : RouteKey(high: 0x2000_0000_0000_0000 | (rng.next() >> 3), low: rng.next()) }),
        ("prefixes", (0..<count).map { _ in inside(prefixes[Int(rng.next() % UInt64(prefixes.count))], &rng) }),
    ]
    if let dir = dump {
        let lines = prefixes.enumerated().map { "\($0.element) \($0.offset % 65536)" }
        try (lines.joined(separator: "\n") + "\n").write(toFile: "\(dir)/\(family).routes", atomically: true, encoding: .utf8)
    }
    if family == "v4" {
        // compact: the default (every node direct); mapped: every node a byte map (the layout before).
        let dense = Int(ProcessInfo.processInfo.environment["DIRECT_ABOVE"] ?? "") ?? 0   // to explore other thresholds
        for (form, directAbove) in [("compact", dense), ("mapped", 256)] {
            try run(family, form, prefixes, {
                let t = CompactTable(directAbove: directAbove)
                try t.apply(prefixes.enumerated().map { .add(address: UInt32(truncatingIfNeeded: key($0.element.address).high >> 32), length: Int($0.element.length), nextHop: $0.offset % 65536) })
                return Compact(t)
            }, sets: sets)
        }
    }
    try run(family, "stride", prefixes, {
        let t = StrideTable(width: width, groupCapacity: width == 32 ? 1 << 16 : 1 << 18)
        for (i, p) in prefixes.enumerated() { try t.insert(key(p.address), length: Int(p.length), nextHop: i % 65536) }
        return Stride(t)
    }, sets: sets)
}
print("Lookups (one core, \(count) addresses a set; next hop of prefix i: i mod 65536):")
print("| table | addresses | prefixes | M lookups/s, bursts of 64 | one at a time | matched | build | memory |")
print("|---|---|---|---|---|---|---|---|")
rows.forEach { print($0) }
print("One route added / deleted on the full table (median of 51), and until a lookup on another thread sees it:")
print("| table | route | add | add seen | delete | delete seen |")
print("|---|---|---|---|---|---|")
updateRows.forEach { print($0) }
