import BowmanClassifier
import ClassifyWorkload
import Foundation

// Compile time, table memory and single-core lookup rate of the flat
// classifier on ClassBench sets (acl1, fw1, ipc1 at 1k and 10k rules).
// classify-bench [--dump DIR] [SET ...]: with --dump, also writes DIR/SET.trace
// (ClassBench trace format) and DIR/SET.expected (Bowman's rule numbers).
var args = Array(CommandLine.arguments.dropFirst())
var dump: String?
if args.first == "--dump", args.count > 1 { dump = args[1]; args.removeFirst(2) }
let sets = args.isEmpty ? ["acl1_1k", "fw1_1k", "ipc1_1k", "acl1_10k", "fw1_10k", "ipc1_10k"] : args
print("| set | rules | dimensions | bitsets | compile | tables | ns/lookup | M lookups/s |")
print("|---|---|---|---|---|---|---|---|")
TrieClassifier.experimentOrder = Int(ProcessInfo.processInfo.environment["TRIE_ORDER"] ?? "0") ?? 0
for name in sets {
    let w = try ClassifyWorkload(set: name, root: ClassifyWorkload.testData)
    if ProcessInfo.processInfo.environment["TRIE_BUILD_ONLY"] != nil {
        print(name, w.rules.count, "trees", w.trie.treeCount, "nodes", w.trie.nodeCount, "MB", w.trie.tableBytes / 1_000_000, "ms", Int(w.trieCompileSeconds * 1000))
        continue
    }
    // Check against the reference on a sample first.
    for f in w.frames.prefix(200) {
        let (a, b) = f.withUnsafeBytes { (w.classifier.match($0), w.flat.match($0)) }
        precondition(a == b, "\(name): flat \(b) != reference \(a)")
        let t = f.withUnsafeBytes { w.trie.match($0) }
        precondition(a == t, "\(name): trie \(t) != reference \(a)")
    }
    if let dir = dump {
        let trace = w.entries.map { "\($0.source.rawValue) \($0.destination.rawValue) \($0.sourcePort) \($0.destinationPort) \($0.proto)" }
        let expected = w.frames.map { f in String(f.withUnsafeBytes { w.flat.match($0) }) }
        try (trace.joined(separator: "\n") + "\n").write(toFile: "\(dir)/\(name).trace", atomically: true, encoding: .utf8)
        try (expected.joined(separator: "\n") + "\n").write(toFile: "\(dir)/\(name).expected", atomically: true, encoding: .utf8)
    }
    var sink = 0
    if let spin = ProcessInfo.processInfo.environment["TRIE_SPIN"], let n = Int(spin) {
        for _ in 0..<n { sink &+= w.classifyAllTrieBursts() }
        print(sink); continue
    }
    _ = w.classifyAll()
    var best = Double.infinity
    for _ in 0..<5 {
        let t0 = Date()
        for _ in 0..<4 { sink &+= w.classifyAll() }
        best = min(best, Date().timeIntervalSince(t0) / Double(4 * w.frames.count))
    }
    print(String(format: "| %@ | %d | %d | %d | %.0f ms | %.1f MB | %.0f | %.2f |", name, w.rules.count, w.flat.dimensionCount,
                 w.flat.bitsetCount, w.compileSeconds * 1000, Double(w.flat.tableBytes) / 1e6, best * 1e9, 1 / best / 1e6))
    var hist: [Int: Int] = [:]
    for f in w.frames { hist[f.withUnsafeBytes { w.trie.view.nodesVisited($0) }, default: 0] += 1 }
    print("kinds", w.trie.nodeKinds, "visited", hist.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " "))
    var bestT = Double.infinity
    for _ in 0..<5 {
        let t0 = Date()
        for _ in 0..<4 { sink &+= w.classifyAllTrie() }
        bestT = min(bestT, Date().timeIntervalSince(t0) / Double(4 * w.frames.count))
    }
    precondition(w.classifyAllTrieBursts() == w.classifyAll(), "bursts disagree")
    var bestB = Double.infinity
    for _ in 0..<5 {
        let t0 = Date()
        for _ in 0..<4 { sink &+= w.classifyAllTrieBursts() }
        bestB = min(bestB, Date().timeIntervalSince(t0) / Double(4 * w.frames.count))
    }
    print(String(format: "bursts: %.0f ns, %.2f M/s", bestB * 1e9, 1 / bestB / 1e6))
    print(String(format: "| %@ trie | %d | %d slots | %d trees, %d nodes | %.0f ms | %.1f MB | %.0f | %.2f |", name, w.rules.count, w.trie.slotCount,
                 w.trie.treeCount, w.trie.nodeCount, w.trieCompileSeconds * 1000, Double(w.trie.tableBytes) / 1e6, bestT * 1e9, 1 / bestT / 1e6))
    if sink == 42 { print("") }
}
