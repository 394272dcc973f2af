import BowmanClassifier
import ClassifyWorkload
import Foundation

// Compile time, table memory and single-core lookup rate of the flat
// classifier on ClassBench sets (acl1, fw1, ipc1 at 1k and 10k rules).
let sets = CommandLine.arguments.count > 1 ? Array(CommandLine.arguments.dropFirst()) : ["acl1_1k", "fw1_1k", "ipc1_1k", "acl1_10k", "fw1_10k", "ipc1_10k"]
print("| set | rules | dimensions | bitsets | compile | tables | ns/lookup | M lookups/s |")
print("|---|---|---|---|---|---|---|---|")
for name in sets {
    let w = try ClassifyWorkload(set: name, root: ClassifyWorkload.testData)
    // Check against the reference on a sample first.
    for f in w.frames.prefix(200) {
        let (a, b) = f.withUnsafeBytes { (w.classifier.match($0), w.flat.match($0)) }
        precondition(a == b, "\(name): flat \(b) != reference \(a)")
    }
    var sink = 0
    _ = w.classifyAll()
    var best = Double.infinity
    for _ in 0..<5 {
        let t0 = Date()
        for _ in 0..<4 { sink &+= w.classifyAll() }
        best = min(best, Date().timeIntervalSince(t0) / Double(4 * w.frames.count))
    }
    print(String(format: "| %@ | %d | %d | %d | %.0f ms | %.1f MB | %.0f | %.2f |", name, w.rules.count, w.flat.dimensionCount,
                 w.flat.bitsetCount, w.compileSeconds * 1000, Double(w.flat.tableBytes) / 1e6, best * 1e9, 1 / best / 1e6))
    if sink == 42 { print("") }
}
