import BowmanClassifier
import BowmanIO
import ClassifyWorkload
import Foundation

// Single-core classification on ClassBench sets (acl1, fw1, ipc1 at 1k and
// 10k rules): for the tree (what workers run, bursts of 64, and one packet
// at a time) and the bit-vector tables: lookups/s, compile time, memory;
// then how long one rule added or deleted takes to reach the workers.
// classify-bench [--dump DIR] [SET ...]: with --dump, also writes DIR/SET.trace
// (ClassBench trace format), DIR/SET.expected (Bowman's rule numbers) and
// DIR/SET.pcap (the frames themselves). Environment: HEADERS=N frames
// instead of 4096 (fewer: the walk with its nodes in cache); LOOP=b or
// LOOP=x only runs the burst lookups (or the key extraction) 30,000 times
// over, for a profiler.
var args = Array(CommandLine.arguments.dropFirst())
var dump: String?
if args.first == "--dump", args.count > 1 { dump = args[1]; args.removeFirst(2) }
let sets = args.isEmpty ? ["acl1_1k", "fw1_1k", "ipc1_1k", "acl1_10k", "fw1_10k", "ipc1_10k"] : args

/// Best of five rounds of four passes, in seconds per lookup.
func timed(_ frames: Int, _ body: () -> Int) -> Double {
    var sink = body(), best = Double.infinity
    for _ in 0..<5 {
        let t0 = Date()
        for _ in 0..<4 { sink &+= body() }
        best = min(best, Date().timeIntervalSince(t0) / Double(4 * frames))
    }
    if sink == 42 { print("") }
    return best
}
func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

var lookups: [String] = [], updates: [String] = []
for name in sets {
    let w = try ClassifyWorkload(set: name, root: ClassifyWorkload.testData, headers: Int(ProcessInfo.processInfo.environment["HEADERS"] ?? "4096")!)
    // Every form agrees with the reference on a sample, and the tables on all.
    for f in w.frames.prefix(300) {
        let a = f.withUnsafeBytes { w.classifier.match($0) }
        precondition(a == f.withUnsafeBytes { w.flat.match($0) }, "\(name): bit-vector tables disagree with the reference")
        precondition(a == f.withUnsafeBytes { w.tables.match($0) }, "\(name): tree disagrees with the reference")
    }
    precondition(w.classifyAllTrieBursts() == w.classifyAll(), "\(name): bursts disagree")
    if let dir = dump {
        let trace = w.entries.map { "\($0.source.rawValue) \($0.destination.rawValue) \($0.sourcePort) \($0.destinationPort) \($0.proto)" }
        let expected = w.frames.map { f in String(f.withUnsafeBytes { w.flat.match($0) }) }
        try (trace.joined(separator: "\n") + "\n").write(toFile: "\(dir)/\(name).trace", atomically: true, encoding: .utf8)
        try (expected.joined(separator: "\n") + "\n").write(toFile: "\(dir)/\(name).expected", atomically: true, encoding: .utf8)
        var pcap = try PcapWriter(path: "\(dir)/\(name).pcap", linkType: .ethernet)
        for (i, f) in w.frames.enumerated() {
            try f.withUnsafeBytes { try pcap.write($0, timestamp: PcapTimestamp(seconds: Int64(i), nanoseconds: 0)) }
        }
        try pcap.close()
    }
    if let mode = ProcessInfo.processInfo.environment["LOOP"] {
        var sink = 0
        for _ in 0..<30000 { sink &+= mode == "x" ? w.extractAll() : w.classifyAllTrieBursts() }
        print(sink); continue
    }
    let bursts = timed(w.frames.count) { w.classifyAllTrieBursts() }
    let extraction = timed(w.frames.count) { w.extractAll() }
    let single = timed(w.frames.count) { w.classifyAllTrie() }
    let flat = timed(w.frames.count) { w.classifyAll() }
    var visited = 0
    for f in w.frames { visited += f.withUnsafeBytes { w.trie.view.nodesVisited($0) } }
    lookups.append(String(format: "| %@ | %d | **%.2f** (%.1f ns) | %.1f ns | %.2f | %.2f | %d trees, %d nodes, %.1f nodes/lookup | %.0f ms | %.1f MB | %.0f ms | %.1f MB |",
                          name, w.rules.count, 1 / bursts / 1e6, bursts * 1e9, extraction * 1e9, 1 / single / 1e6, 1 / flat / 1e6,
                          w.trie.treeCount, w.trie.nodeCount, Double(visited) / Double(w.frames.count),
                          w.trieCompileSeconds * 1000, Double(w.trie.tableBytes) / 1e6, w.compileSeconds * 1000, Double(w.flat.tableBytes) / 1e6))

    // One rule added (a copy of a random rule, placed first) or one deleted,
    // on the compiled base: what LiveClassifier publishes at once.
    var c = w.classifier
    let base = w.tables.base
    var addTimes: [Double] = [], deleteTimes: [Double] = []
    var rng = SystemRandomNumberGenerator()
    var withChange = w.tables
    for _ in 0..<21 {
        let r = w.rules.randomElement(using: &rng)!
        let t0 = Date()
        let id = try c.addFilter(r.filterText, demuxID: 100_000, priority: 0)
        withChange = ClassifierTables(base: base, current: c)
        addTimes.append(Date().timeIntervalSince(t0))
        try c.deleteFilter(id, demuxID: 100_000)
        let victim = c.rules[Int.random(in: 0..<c.rules.count, using: &rng)]
        let t1 = Date()
        try c.deleteFilter(victim.id, demuxID: victim.demuxID)
        let t = ClassifierTables(base: base, current: c)
        deleteTimes.append(Date().timeIntervalSince(t1))
        c = w.classifier
        if t.ruleCount == 42 { print("") }
    }
    let changed = timed(w.frames.count) { w.classifyAllBursts(withChange.view) }
    updates.append(String(format: "| %@ | %.0f µs | %.0f µs | %.2f |", name, median(addTimes) * 1e6, median(deleteTimes) * 1e6, 1 / changed / 1e6))
}
print("Lookups (M/s, one core, 4096 headers built inside random rules; tree in bursts of 64 as workers run it):\n")
print("| set | rules | tree, bursts | of which key extraction | tree, one by one | bit vectors | tree shape | tree compile | tree memory | bit-vector compile | bit-vector memory |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for l in lookups { print(l) }
print("\nOne rule changed on the compiled base (median of 21; the workers' next burst sees it), and lookups until the new base is compiled:\n")
print("| set | add | delete | M lookups/s with one rule added |")
print("|---|---|---|---|")
for u in updates { print(u) }
