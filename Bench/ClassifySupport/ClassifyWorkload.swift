import BowmanClassifier
import BowmanCore
import Foundation

/// A ClassBench rule set compiled, and headers to classify: bursts of 64
/// frames built inside randomly chosen rules (as ClassBench's trace
/// generator does), so most lookups hit deep in the rule list.
public struct ClassifyWorkload {
    public let name: String
    public let rules: [ClassBench.Rule]
    public let classifier: Classifier
    public let flat: FlatClassifier
    public let compileSeconds: Double
    /// The tables workers use (tree + bit-vector fallback), compiled whole.
    public let tables: ClassifierTables
    public var trie: TrieClassifier { tables.base.tree! }
    public let trieCompileSeconds: Double
    public let frames: [[UInt8]]
    /// The 5-tuples behind `frames` (for a ClassBench-format trace).
    public let entries: [ClassBench.TraceEntry]
    /// The same frames in one buffer, one per 128-byte slot (as packet
    /// buffers and the rte_acl harness hold them), and a pointer to each
    /// built once (as rte_acl's harness builds its data pointers once), so
    /// the benchmark loop itself retains nothing and builds nothing.
    let storage: UnsafeMutableRawBufferPointer
    let packets: UnsafeMutableBufferPointer<UnsafeRawBufferPointer>
    static let slot = 128

    public init(set name: String, root: URL, headers: Int = 4096) throws {
        self.name = name
        let text = try String(contentsOf: root.appendingPathComponent("classbench/\(name)"), encoding: .utf8)
        rules = try ClassBench.parseRules(text)
        classifier = try ClassBench.classifier(rules)
        let t0 = Date()
        flat = FlatClassifier(classifier)
        compileSeconds = Date().timeIntervalSince(t0)
        let t1 = Date()
        tables = ClassifierTables(classifier)
        trieCompileSeconds = Date().timeIntervalSince(t1)
        var state: UInt64 = 0x9E3779B97F4A7C15
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 11 }
        var out: [[UInt8]] = []
        var tuples: [ClassBench.TraceEntry] = []
        for _ in 0..<headers {
            let r = rules[Int(next() % UInt64(rules.count))]
            func inside(_ p: IPPrefix) -> IPv4Address {
                guard case .v4(let a) = p.address else { return IPv4Address(rawValue: 0) }
                let host = p.length == 32 ? 0 : UInt32(truncatingIfNeeded: next()) & (UInt32.max >> UInt32(p.length))
                return IPv4Address(rawValue: a.rawValue | host)
            }
            func port(_ r: ClosedRange<UInt16>) -> UInt16 { r.lowerBound &+ UInt16(truncatingIfNeeded: next() % (UInt64(r.upperBound - r.lowerBound) + 1)) }
            let e = ClassBench.TraceEntry(source: inside(r.source), destination: inside(r.destination), sourcePort: port(r.sourcePorts),
                                          destinationPort: port(r.destinationPorts), proto: r.protoMask == 0 ? 6 : r.proto)
            out.append(e.frame())
            tuples.append(e)
        }
        frames = out
        entries = tuples
        storage = .allocate(byteCount: out.count * Self.slot, alignment: 64)
        packets = .allocate(capacity: out.count)
        for (i, f) in out.enumerated() {
            precondition(f.count <= Self.slot)
            let at = storage.baseAddress!.advanced(by: i * Self.slot)
            f.withUnsafeBytes { at.copyMemory(from: $0.baseAddress!, byteCount: f.count) }
            packets[i] = UnsafeRawBufferPointer(start: at, count: f.count)
        }
    }

    /// Root of the shared test data, found from this file (Bench/ClassifySupport/…, beside the repository).
    public static var testData: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/testdata")
    }

    /// Classifies every frame once with the trie; returns a checksum of the results.
    public func classifyAllTrie() -> Int {
        var sum = 0
        for p in packets {
            sum &+= tables.view.match(p)
        }
        return sum
    }

    /// The same, in bursts of 64 (the worker's burst size).
    public func classifyAllTrieBursts() -> Int { classifyAllBursts(tables.view) }

    /// Key extraction alone, in bursts of 64 (benchmark aid).
    public func extractAll() -> Int {
        var sum: UInt64 = 0
        let scratch = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: tables.view.scratchWords)
        defer { scratch.deallocate() }
        var i = 0
        while i < packets.count {
            let n = min(64, packets.count - i)
            sum &+= trie.view.extractOnly(burst: UnsafeBufferPointer(rebasing: packets[i..<(i + n)]), scratch: scratch.baseAddress!)
            i += n
        }
        return Int(truncatingIfNeeded: sum)
    }

    /// Every frame in bursts of 64 against `view` (e.g. tables with changes pending).
    public func classifyAllBursts(_ view: ClassifierTables.View) -> Int {
        var sum = 0
        // The worker's scratch, allocated once (as ClassifyFunction does).
        let scratch = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: view.scratchWords)
        defer { scratch.deallocate() }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 64) { out in
            var i = 0
            while i < packets.count {
                let n = min(64, packets.count - i)
                view.match(burst: UnsafeBufferPointer(rebasing: packets[i..<(i + n)]), into: out.baseAddress!, scratch: scratch.baseAddress!)
                for k in 0..<n { sum &+= out[k] }
                i += n
            }
        }
        return sum
    }

    /// Classifies every frame once; returns a checksum of the results.
    public func classifyAll() -> Int {
        var sum = 0
        for p in packets {
            sum &+= flat.match(p)
        }
        return sum
    }
}
