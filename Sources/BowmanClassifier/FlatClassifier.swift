import BowmanCore

extension FieldValue: Comparable {
    public static func < (a: FieldValue, b: FieldValue) -> Bool { (a.high, a.low) < (b.high, b.low) }
}

/// A `Classifier` compiled to flat tables for the data path (bit-vector
/// search, Lakshman & Stiliadis): every distinct field a rule tests is a
/// dimension; its predicates cut the field's value space into elementary
/// intervals, each mapped to a bitset of the rules it satisfies (rules that
/// do not test the field are in every bitset). A lookup is, per dimension,
/// one binary search and an AND of bitsets; the first set bit in policy
/// order whose residual checks pass is the answer.
///
/// Built on the management core from a `Classifier`; immutable afterwards,
/// so it can be published to workers as a snapshot.
public struct FlatClassifier: Sendable {
    /// Rules in policy order (the bit index of a rule).
    let demux: [Int]
    let words: Int
    /// A header path: protocol definitions from the start of the packet.
    let paths: [[ProtocolDefinition]]
    /// Per rule: its path index, and its predicates that are not intervals.
    let rulePath: [Int]
    let residual: [[Filter.Predicate]]
    let residualPathOf: [[Int]]   // header index of each residual predicate (parallel to residual)

    struct Dimension: Sendable {
        var path: Int          // index into paths, cut to the header holding the field
        var header: Int        // header index in that path
        var offset: Int
        var length: Int
        /// Sorted lower bounds of the elementary intervals; interval i is
        /// [bounds[i], bounds[i+1]).
        var bounds: [FieldValue]
        /// Bitset index per interval.
        var intervalSet: [Int32]
        /// Bitset for a packet too short to hold the field: rules that do not test it.
        var absentSet: Int32
    }
    let dimensions: [Dimension]
    /// All bitsets, `words` UInt64 each, deduplicated.
    let bitsets: [UInt64]
    public var ruleCount: Int { demux.count }
    public var bitsetCount: Int { bitsets.count / max(1, words) }
    /// Bytes of the tables (for the benchmark's memory figure).
    public var tableBytes: Int {
        bitsets.count * 8 + dimensions.reduce(0) { $0 + $1.bounds.count * 16 + $1.intervalSet.count * 4 }
    }

    public init(_ c: Classifier) {
        // Policy order.
        var rules = c.rules
        switch c.policy {
        case .mostPredicates:
            rules.sort { ($0.filter.predicates.count, -$0.id.rawValue) > ($1.filter.predicates.count, -$1.id.rawValue) }
        case .firstMatch:
            rules.sort { ($0.priority, $0.id) < ($1.priority, $1.id) }
        }
        let n = rules.count
        let w = max(1, (n + 63) / 64)
        demux = rules.map(\.demuxID)
        words = w

        // Paths (by protocol names) and dimensions (by path prefix, offset, length).
        var pathIndex: [[String]: Int] = [:]
        var paths: [[ProtocolDefinition]] = []
        func pathID(_ p: [ProtocolDefinition]) -> Int {
            let key = p.map(\.name)
            if let i = pathIndex[key] { return i }
            paths.append(p); pathIndex[key] = paths.count - 1
            return paths.count - 1
        }
        struct Key: Hashable { var path: [String]; var offset: Int; var length: Int }
        var dimIndex: [Key: Int] = [:]
        var dimPath: [(path: Int, header: Int, offset: Int, length: Int)] = []
        var intervals: [[(lo: FieldValue, hi: FieldValue, rule: Int)]] = []
        var rulePath: [Int] = [], residual: [[Filter.Predicate]] = [], residualHeaders: [[Int]] = []
        var tested: [[Bool]] = []   // per dim, per rule

        for (r, rule) in rules.enumerated() {
            rulePath.append(pathID(rule.filter.headers))
            var res: [Filter.Predicate] = [], resH: [Int] = []
            for p in rule.filter.predicates {
                let prefix = Array(rule.filter.headers[0...p.header])
                guard let (lo, hi) = FlatClassifier.interval(p) else { res.append(p); resH.append(p.header); continue }
                let key = Key(path: prefix.map(\.name), offset: p.offset, length: p.length)
                let d: Int
                if let i = dimIndex[key] { d = i } else {
                    d = dimPath.count
                    dimIndex[key] = d
                    dimPath.append((pathID(prefix), p.header, p.offset, p.length))
                    intervals.append([])
                    tested.append(Array(repeating: false, count: n))
                }
                if tested[d][r] {
                    // Two interval predicates on one field: keep the second as residual.
                    res.append(p); resH.append(p.header); continue
                }
                tested[d][r] = true
                intervals[d].append((lo, hi, r))
            }
            residual.append(res); residualHeaders.append(resH)
        }

        var sets: [UInt64] = []
        var setIndex: [[UInt64]: Int32] = [:]
        func intern(_ s: [UInt64]) -> Int32 {
            if let i = setIndex[s] { return i }
            let i = Int32(sets.count / w)
            sets += s; setIndex[s] = i
            return i
        }
        var dims: [Dimension] = []
        for d in 0..<dimPath.count {
            var untested = [UInt64](repeating: 0, count: w)
            for r in 0..<n where !tested[d][r] { untested[r >> 6] |= 1 << UInt64(r & 63) }
            // Elementary intervals from every predicate's [lo, hi].
            var cuts: Set<FieldValue> = [FieldValue(low: 0)]
            for iv in intervals[d] {
                cuts.insert(iv.lo)
                if let next = FlatClassifier.successor(iv.hi) { cuts.insert(next) }
            }
            let bounds = cuts.sorted()
            // Sweep: add a rule at its lo, drop it after its hi.
            var starts: [FieldValue: [Int]] = [:], ends: [FieldValue: [Int]] = [:]
            for iv in intervals[d] {
                starts[iv.lo, default: []].append(iv.rule)
                if let next = FlatClassifier.successor(iv.hi) { ends[next, default: []].append(iv.rule) }
            }
            var current = untested
            var intervalSet: [Int32] = []
            for b in bounds {
                for r in ends[b] ?? [] { current[r >> 6] &= ~(1 << UInt64(r & 63)) }
                for r in starts[b] ?? [] { current[r >> 6] |= 1 << UInt64(r & 63) }
                intervalSet.append(intern(current))
            }
            let (p, h, o, l) = dimPath[d]
            dims.append(Dimension(path: p, header: h, offset: o, length: l, bounds: bounds, intervalSet: intervalSet,
                                  absentSet: intern(untested)))
        }
        self.paths = paths
        self.rulePath = rulePath
        self.residual = residual
        self.residualPathOf = residualHeaders
        self.dimensions = dims
        self.bitsets = sets
    }

    /// [lo, hi] of a predicate when it is an interval: a range, or an
    /// equality under a prefix-shaped (high ones, then zeros) mask.
    static func interval(_ p: Filter.Predicate) -> (FieldValue, FieldValue)? {
        switch p.test {
        case .range(let lo, let hi): return (FieldValue(low: lo), FieldValue(low: hi))
        case .equal(let value, let mask):
            let full = FieldValue.ones(bytes: p.length)
            let hostBits = FieldValue(high: full.high & ~mask.high, low: full.low & ~mask.low)
            // A prefix mask: the bits it clears are the low ones, contiguous.
            let (h, l) = (hostBits.high, hostBits.low)
            let contiguous = h == 0 ? (l & (l &+ 1)) == 0 : (l == .max && (h & (h &+ 1)) == 0)
            guard contiguous else { return nil }
            return (value, FieldValue(high: value.high | h, low: value.low | l))
        }
    }

    static func successor(_ v: FieldValue) -> FieldValue? {
        if v.low == .max { return v.high == .max ? nil : FieldValue(high: v.high + 1, low: 0) }
        return FieldValue(high: v.high, low: v.low + 1)
    }

    /// The demux id of the best matching rule, or `Classifier.noMatch`.
    public func match(_ p: UnsafeRawBufferPointer) -> Int {
        if demux.isEmpty { return Classifier.noMatch }
        // Header bases per path, computed lazily (most rule sets use a couple of paths).
        var bases = [[Int]?](repeating: nil, count: paths.count)
        func base(_ path: Int) -> [Int]? {
            if let b = bases[path] { return b }
            var out: [Int] = []
            var at = 0
            for proto in paths[path] {
                out.append(at)
                guard let len = Filter.headerLength(proto, p, at) else { bases[path] = []; return [] }
                at += len
            }
            bases[path] = out
            return out
        }
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: words) { acc -> Int in
            acc.initialize(repeating: .max)
            bitsets.withUnsafeBufferPointer { sets in
                for d in dimensions {
                    let b = base(d.path) ?? []
                    let set: Int32
                    if d.header < b.count, b[d.header] + d.offset + d.length <= p.count {
                        let v = FieldValue(loading: p, at: b[d.header] + d.offset, length: d.length)
                        // Last bound ≤ v.
                        var lo = 0, hi = d.bounds.count - 1
                        while lo < hi {
                            let mid = (lo + hi + 1) >> 1
                            if d.bounds[mid] <= v { lo = mid } else { hi = mid - 1 }
                        }
                        set = d.intervalSet[lo]
                    } else {
                        set = d.absentSet
                    }
                    let s = Int(set) * words
                    for k in 0..<words { acc[k] &= sets[s + k] }
                }
            }
            for k in 0..<words {
                var word = acc[k]
                while word != 0 {
                    let r = k * 64 + word.trailingZeroBitCount
                    word &= word - 1
                    if r >= demux.count { break }
                    if verify(r, p, base(rulePath[r]) ?? []) { return demux[r] }
                }
            }
            return Classifier.noMatch
        }
    }

    /// The rule's header path is walkable and its residual predicates hold.
    func verify(_ r: Int, _ p: UnsafeRawBufferPointer, _ bases: [Int]) -> Bool {
        guard bases.count == paths[rulePath[r]].count else { return false }
        for (i, pr) in residual[r].enumerated() {
            let at = bases[residualPathOf[r][i]] + pr.offset
            guard at + pr.length <= p.count else { return false }
            let v = FieldValue(loading: p, at: at, length: pr.length)
            switch pr.test {
            case .equal(let value, let mask): if v & mask != value { return false }
            case .range(let lo, let hi): if v.low < lo || v.low > hi { return false }
            }
        }
        return true
    }
}
