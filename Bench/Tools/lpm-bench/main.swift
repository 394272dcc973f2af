import BowmanCore
import BowmanRouting
import Foundation
import Synchronization

// Longest-prefix match on the full Internet table (../shared/testdata/
// routing/prefixes.txt.gz: 901,899 IPv4 + 160,147 IPv6 prefixes; next hop
// of the i-th prefix of a family: i mod 65536) with Bowman's StrideTable:
// build time, memory, lookups/s (bursts of 64 as workers run them, and one
// at a time) on two traffic sets a family, and one route added or deleted
// until another core's lookups see it.
//
// lpm-bench [--dump DIR]: with --dump also writes what lpm_dpdk (rte_lpm,
// rte_lpm6) reads to run the same prefixes and addresses and check every
// answer: DIR/v4.routes, DIR/v6.routes ("prefix next-hop" lines),
// DIR/v4-{random,prefixes}.addr (u32 host order), DIR/v6-*.addr (16 bytes,
// network order), DIR/*.expected (i32 per address, -1: no route).
// LOOKUPS=N addresses per set (default 2^20).
var args = Array(CommandLine.arguments.dropFirst())
var dump: String?
if args.first == "--dump", args.count > 1 { dump = args[1]; args.removeFirst(2) }
let count = Int(ProcessInfo.processInfo.environment["LOOKUPS"] ?? "") ?? 1 << 20
let here = URL(fileURLWithPath: #filePath)
let testdata = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/testdata")

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

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
final class Probe: @unchecked Sendable {
    let key: RouteKey, v4: Bool, table: StrideTable
    let want = Atomic<Int>(-2), seenAt = Atomic<UInt64>(0), stop = Atomic<Bool>(false)
    init(key: RouteKey, v4: Bool, table: StrideTable) { self.key = key; self.v4 = v4; self.table = table }
    func watch() {
        while !stop.load(ordering: .relaxed) {
            let w = want.load(ordering: .acquiring)
            if w == -2 { continue }
            let v = v4 ? table.lookup(v4: UInt32(truncatingIfNeeded: key.high >> 32)) : table.lookup(key)
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

let all = try readPrefixes()
var rows: [String] = [], updateRows: [String] = []
for family in ["v4", "v6"] {
    let prefixes = all.filter { $0.address.isV4 == (family == "v4") }
    let width = family == "v4" ? 32 : 128
    let t0 = now()
    let table = StrideTable(width: width, groupCapacity: width == 32 ? 1 << 16 : 1 << 18)
    for (i, p) in prefixes.enumerated() { try table.insert(key(p.address), length: Int(p.length), nextHop: i % 65536) }
    let buildMs = Double(now() - t0) / 1e6
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
    for (name, keys) in sets {
        var out = [Int](repeating: 0, count: keys.count)
        let v4 = keys.map { UInt32(truncatingIfNeeded: $0.high >> 32) }
        // Bursts of 64, as a worker runs them.
        func bursts() -> Int {
            out.withUnsafeMutableBufferPointer { o in
                if width == 32 {
                    v4.withUnsafeBufferPointer { a in
                        var i = 0
                        while i < a.count {
                            table.lookup(v4: UnsafeBufferPointer(rebasing: a[i..<min(i + 64, a.count)]), into: o.baseAddress! + i)
                            i += 64
                        }
                    }
                } else {
                    keys.withUnsafeBufferPointer { a in
                        var i = 0
                        while i < a.count {
                            table.lookup(UnsafeBufferPointer(rebasing: a[i..<min(i + 64, a.count)]), into: o.baseAddress! + i)
                            i += 64
                        }
                    }
                }
                return o[o.count - 1]
            }
        }
        func single() -> Int {
            var s = 0
            if width == 32 { for a in v4 { s &+= table.lookup(v4: a) } } else { for k in keys { s &+= table.lookup(k) } }
            return s
        }
        let b = timed(keys.count, bursts), s = timed(keys.count, single)
        let hits = out.filter { $0 >= 0 }.count
        // Every answer checked against the per-length reference on a sample.
        var byLength: [[RouteKey: Int]] = Array(repeating: [:], count: width + 1)
        for (i, p) in prefixes.enumerated() { byLength[Int(p.length)][key(p.address)] = i % 65536 }
        for i in stride(from: 0, to: keys.count, by: 97) {
            var want = -1
            for l in stride(from: width, through: 0, by: -1) {
                if let nh = byLength[l][keys[i].masked(l)] { want = nh; break }
            }
            precondition(out[i] == want, "\(family) \(name): lookup \(i) gave \(out[i]), the reference \(want)")
        }
        rows.append(String(format: "| %@ | %@ | %d | **%.2f** (%.2f ns) | %.2f | %.1f %% | %.0f ms | %.1f MB (%d groups) |",
                           "IPv\(family.dropFirst())", name, prefixes.count, 1e3 / b, b, 1e3 / s, 100 * Double(hits) / Double(keys.count),
                           buildMs, Double(table.tableBytes) / 1e6, table.groupsInUse))
        print("LPM \(family) \(name) bowman-bulk64 \(String(format: "%.2f", 1e3 / b)) M/s")
        if let dir = dump {
            if width == 32 { try write(v4, to: "\(dir)/\(family)-\(name).addr") } else {
                try write(keys.flatMap { k -> [UInt8] in (0..<16).map { j in UInt8(truncatingIfNeeded: (j < 8 ? k.high >> (56 - 8 * j) : k.low >> (120 - 8 * j))) } },
                          to: "\(dir)/\(family)-\(name).addr")
            }
            try write(out.map { Int32($0) }, to: "\(dir)/\(family)-\(name).expected")
        }
    }

    // One route added / deleted, and how long until a lookup on another
    // thread sees it: a host route (needs a group) inside a covered prefix.
    let host = inside(prefixes[prefixes.count / 2], &rng)
    let probe = Probe(key: host, v4: width == 32, table: table)
    let reader = Thread { probe.watch() }
    reader.start()
    var addNs: [Double] = [], delNs: [Double] = [], addSeen: [Double] = [], delSeen: [Double] = []
    let covering = table.lookup(host)
    for r in 0..<51 {
        let nh = 70000 + r  // above every next hop the table holds
        probe.expect(nh)
        let a0 = now()
        try table.insert(host, length: width, nextHop: nh)
        let a1 = now()
        let addSeenAt = probe.seen()
        addNs.append(Double(a1 - a0)); addSeen.append(Double(addSeenAt - a0))
        probe.expect(covering)
        let d0 = now()
        table.remove(host, length: width)
        let d1 = now()
        let delSeenAt = probe.seen()
        delNs.append(Double(d1 - d0)); delSeen.append(Double(delSeenAt - d0))
        table.recycleRetiredGroups()
    }
    probe.stop.store(true, ordering: .relaxed)
    func med(_ x: [Double]) -> Double { x.sorted()[x.count / 2] / 1000 }
    updateRows.append(String(format: "| IPv%@ | /%d inside %@ | %.1f µs | %.1f µs | %.1f µs | %.1f µs |", String(family.dropFirst()), width,
                             prefixes[prefixes.count / 2].description, med(addNs), med(addSeen), med(delNs), med(delSeen)))
}
print("Lookups (one core, \(count) addresses a set; next hop of prefix i: i mod 65536):")
print("| family | addresses | prefixes | M lookups/s, bursts of 64 | one at a time | matched | build | memory |")
print("|---|---|---|---|---|---|---|---|")
rows.forEach { print($0) }
print("One route added / deleted on the full table (median of 51), and until a lookup on another thread sees it:")
print("| family | route | add | add seen | delete | delete seen |")
print("|---|---|---|---|---|---|")
updateRows.forEach { print($0) }
