import BowmanCore

extension FieldValue: Comparable {
    @inlinable public static func < (a: FieldValue, b: FieldValue) -> Bool { a.high < b.high || (a.high == b.high && a.low < b.low) }
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
    /// The tables as unsafe buffers and plain integers: a trivial value, so
    /// a worker reading `pointee.view` of a published table copies no
    /// reference and retains nothing. Valid while the `FlatClassifier`
    /// (its `storage`) lives: the publisher keeps it until every worker
    /// passed a quiescent point.
    @frozen public struct View: @unchecked Sendable {
        public let words: Int
        public let demux: UnsafeBufferPointer<Int>
        public let headers: HeaderWalk
        public let ruleEnd: UnsafeBufferPointer<Int32>
        public let residualStart: UnsafeBufferPointer<Int32>
        public let residualPosition: UnsafeBufferPointer<Int32>
        public let residualOffset: UnsafeBufferPointer<Int32>
        public let residualLength: UnsafeBufferPointer<Int32>
        public let residualTest: UnsafeBufferPointer<Filter.Predicate.Test>
        public let dimPosition: UnsafeBufferPointer<Int32>
        public let dimOffset: UnsafeBufferPointer<Int32>
        public let dimLength: UnsafeBufferPointer<Int32>
        public let dimStart: UnsafeBufferPointer<Int32>
        public let dimCount: UnsafeBufferPointer<Int32>
        public let dimAbsent: UnsafeBufferPointer<Int32>
        public let bounds: UnsafeBufferPointer<FieldValue>
        public let intervalSet: UnsafeBufferPointer<Int32>
        public let bitsets: UnsafeBufferPointer<UInt64>
        public let bitsetFirst: UnsafeBufferPointer<Int32>
        public let bitsetEnd: UnsafeBufferPointer<Int32>
        /// Aggregated bit vectors: per bitset, one bit per 64-bit word of it,
        /// set when the word is not zero (`summaryWords` UInt64 per bitset).
        public let summaries: UnsafeBufferPointer<UInt64>
        public let summaryWords: Int
    }

    let storage: TableStorage
    public let view: View

    public var ruleCount: Int { view.demux.count }
    public var dimensionCount: Int { view.dimPosition.count }
    public var bitsetCount: Int { view.bitsets.count / max(1, view.words) }
    /// Bytes of the tables (the benchmark's memory figure).
    public var tableBytes: Int { view.bitsets.count * 8 + view.bounds.count * 16 + view.intervalSet.count * 4 }

    public init(_ c: Classifier) {
        let rules = c.rulesInPolicyOrder
        let n = rules.count
        let w = max(1, (n + 63) / 64)
        let demux = rules.map(\.demuxID)

        // The trie of header positions.
        var walk = HeaderPositions()
        func position(_ headers: [ProtocolDefinition], upTo h: Int) -> Int32 { walk.position(headers, upTo: h) }
        struct Key: Hashable { var position: Int32; var offset: Int; var length: Int }
        var dimIndex: [Key: Int] = [:]
        var dimKeys: [Key] = []
        var intervals: [[(lo: FieldValue, hi: FieldValue, rule: Int)]] = []
        var tested: [[Bool]] = []
        var ruleEnd: [Int32] = [], rStart: [Int32] = [], rPos: [Int32] = [], rOff: [Int32] = [], rLen: [Int32] = []
        var rTest: [Filter.Predicate.Test] = []

        for (r, rule) in rules.enumerated() {
            let hs = rule.filter.headers
            ruleEnd.append(hs.isEmpty ? -1 : position(hs, upTo: hs.count - 1))
            rStart.append(Int32(rPos.count))
            var testedHere = Set<Int>()
            for p in rule.filter.predicates {
                let pos = position(hs, upTo: p.header)
                let key = Key(position: pos, offset: p.offset, length: p.length)
                let d = dimIndex[key]
                if let (lo, hi) = FlatClassifier.interval(p), !(d.map { testedHere.contains($0) } ?? false) {
                    let dim: Int
                    if let d { dim = d } else {
                        dim = dimKeys.count
                        dimIndex[key] = dim
                        dimKeys.append(key)
                        intervals.append([])
                        tested.append(Array(repeating: false, count: n))
                    }
                    testedHere.insert(dim)
                    tested[dim][r] = true
                    intervals[dim].append((lo, hi, r))
                } else {
                    rPos.append(pos); rOff.append(Int32(p.offset)); rLen.append(Int32(p.length)); rTest.append(p.test)
                }
            }
        }
        rStart.append(Int32(rPos.count))

        var sets: [UInt64] = []
        var setIndex: [[UInt64]: Int32] = [:]
        func intern(_ s: [UInt64]) -> Int32 {
            if let i = setIndex[s] { return i }
            let i = Int32(sets.count / w)
            sets += s; setIndex[s] = i
            return i
        }
        var dPos: [Int32] = [], dOff: [Int32] = [], dLen: [Int32] = [], dStart: [Int32] = [], dCount: [Int32] = [], dAbsent: [Int32] = []
        var allBounds: [FieldValue] = [], allSets: [Int32] = []
        for d in 0..<dimKeys.count {
            var untested = [UInt64](repeating: 0, count: w)
            for r in 0..<n where !tested[d][r] { untested[r >> 6] |= 1 << UInt64(r & 63) }
            var cuts: Set<FieldValue> = [FieldValue(low: 0)]
            var starts: [FieldValue: [Int]] = [:], ends: [FieldValue: [Int]] = [:]
            for iv in intervals[d] {
                cuts.insert(iv.lo)
                starts[iv.lo, default: []].append(iv.rule)
                if let next = FlatClassifier.successor(iv.hi) { cuts.insert(next); ends[next, default: []].append(iv.rule) }
            }
            let sorted = cuts.sorted()
            var current = untested
            dStart.append(Int32(allBounds.count))
            for b in sorted {
                for r in ends[b] ?? [] { current[r >> 6] &= ~(1 << UInt64(r & 63)) }
                for r in starts[b] ?? [] { current[r >> 6] |= 1 << UInt64(r & 63) }
                allBounds.append(b)
                allSets.append(intern(current))
            }
            dCount.append(Int32(sorted.count))
            dAbsent.append(intern(untested))
            dPos.append(dimKeys[d].position); dOff.append(Int32(dimKeys[d].offset)); dLen.append(Int32(dimKeys[d].length))
        }
        // Word windows of the bitsets, and dimensions ordered narrowest first.
        var bFirst: [Int32] = [], bEnd: [Int32] = []
        for i in 0..<(sets.count / w) {
            let words = sets[(i * w)..<((i + 1) * w)]
            let f = words.firstIndex { $0 != 0 }.map { $0 - i * w } ?? 0
            let e = words.lastIndex { $0 != 0 }.map { $0 - i * w + 1 } ?? 0
            bFirst.append(Int32(f)); bEnd.append(Int32(max(e, f)))
        }
        let order = (0..<dPos.count).sorted { a, b in
            func width(_ d: Int) -> Double {
                let s = Int(dStart[d]), c = Int(dCount[d])
                guard c > 0 else { return Double(w) }
                return Double((s..<(s + c)).reduce(0) { $0 + Int(bEnd[Int(allSets[$1])] - bFirst[Int(allSets[$1])]) }) / Double(c)
            }
            return width(a) < width(b)
        }
        dPos = order.map { dPos[$0] }; dOff = order.map { dOff[$0] }; dLen = order.map { dLen[$0] }
        dStart = order.map { dStart[$0] }; dCount = order.map { dCount[$0] }; dAbsent = order.map { dAbsent[$0] }
        let bitsetFirst = bFirst, bitsetEnd = bEnd
        let sw = (w + 63) / 64
        var summaries = [UInt64](repeating: 0, count: max(1, sets.count / w) * sw)
        for b in 0..<(sets.count / w) {
            for k in 0..<w where sets[b * w + k] != 0 { summaries[b * sw + k / 64] |= 1 << UInt64(k % 64) }
        }
        let st = TableStorage()
        storage = st
        view = View(words: w, demux: st.own(demux), headers: walk.walk(st), ruleEnd: st.own(ruleEnd),
                    residualStart: st.own(rStart), residualPosition: st.own(rPos), residualOffset: st.own(rOff),
                    residualLength: st.own(rLen), residualTest: st.own(rTest),
                    dimPosition: st.own(dPos), dimOffset: st.own(dOff), dimLength: st.own(dLen), dimStart: st.own(dStart),
                    dimCount: st.own(dCount), dimAbsent: st.own(dAbsent), bounds: st.own(allBounds), intervalSet: st.own(allSets),
                    bitsets: st.own(sets), bitsetFirst: st.own(bitsetFirst), bitsetEnd: st.own(bitsetEnd),
                    summaries: st.own(summaries), summaryWords: sw)
    }

    /// [lo, hi] of a predicate when it is an interval: a range, or an
    /// equality under a prefix-shaped (high ones, then zeros) mask.
    static func interval(_ p: Filter.Predicate) -> (FieldValue, FieldValue)? {
        switch p.test {
        case .range(let lo, let hi): return (FieldValue(low: lo), FieldValue(low: hi))
        case .equal(let value, let mask):
            let full = FieldValue.ones(bytes: p.length)
            let (h, l) = (full.high & ~mask.high, full.low & ~mask.low)
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
    public func match(_ p: UnsafeRawBufferPointer) -> Int { view.match(p) }
}

extension FlatClassifier.View {
    /// The demux id of the best matching rule, or -1 (`Classifier.noMatch`).
    /// No allocation, no retain: header bases and the accumulated bitset
    /// live on the stack, the tables are unsafe buffers.
    @inlinable
    public func match(_ p: UnsafeRawBufferPointer) -> Int {
        let r = matchRule(p, excluding: nil)
        return r < 0 ? -1 : demux[r]
    }

    /// The index (policy order) of the best matching rule, or -1; rules
    /// whose bit is set in `excluding` are passed over.
    @inlinable
    public func matchRule(_ p: UnsafeRawBufferPointer, excluding: UnsafePointer<UInt64>?) -> Int {
        let positions = headers.count
        let dims = dimPosition.count
        if demux.isEmpty { return -1 }
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * positions + dims) { tmp -> Int in
            let base = tmp.baseAddress.unsafelyUnwrapped, end = base + positions, chosen = end + positions
            // Start and end offset of every header position (-1: not walkable).
            for k in 0..<positions {
                let par = Int(headers.parent[k])
                let start = par < 0 ? 0 : end[par]
                base[k] = start
                end[k] = start < 0 ? -1 : headers.end(k, p, start)
            }
            // Per dimension, the bitset of the interval the packet's value falls in.
            for d in 0..<dims {
                let b = base[Int(dimPosition[d])]
                let at = b + Int(dimOffset[d]), len = Int(dimLength[d])
                var set = dimAbsent[d]
                if b >= 0 && at + len <= p.count {
                    let v = FieldValue(loading: p, at: at, length: len)
                    var bl = Int(dimStart[d]), bh = bl + Int(dimCount[d]) - 1
                    while bl < bh {
                        let mid = (bl + bh + 1) >> 1
                        if bounds[mid] <= v { bl = mid } else { bh = mid - 1 }
                    }
                    set = intervalSet[bl]
                }
                chosen[d] = Int(set)
            }
            // Aggregated bit vectors: only words nonzero in every dimension's
            // bitset are ANDed, word by word across dimensions, in priority
            // order; the first rule that verifies is the answer.
            for sw in 0..<summaryWords {
                var m = UInt64.max
                for d in 0..<dims { m &= summaries[chosen[d] * summaryWords + sw] }
                while m != 0 {
                    let k = sw * 64 + m.trailingZeroBitCount
                    m &= m - 1
                    var word = UInt64.max
                    for d in 0..<dims {
                        word &= bitsets[chosen[d] * words + k]
                        if word == 0 { break }
                    }
                    while word != 0 {
                        let r = k * 64 + word.trailingZeroBitCount
                        word &= word - 1
                        if r >= demux.count { break }
                        if let x = excluding, x[r >> 6] >> UInt64(r & 63) & 1 != 0 { continue }
                        if verify(r, p, base, end) { return r }
                    }
                }
            }
            return -1
        }
    }

    /// The rule's header path is walkable and its residual predicates hold.
    @inlinable @inline(__always)
    func verify(_ r: Int, _ p: UnsafeRawBufferPointer, _ base: UnsafeMutablePointer<Int>, _ end: UnsafeMutablePointer<Int>) -> Bool {
        let last = Int(ruleEnd[r])
        if last >= 0 && end[last] < 0 { return false }
        for i in Int(residualStart[r])..<Int(residualStart[r + 1]) {
            let b = base[Int(residualPosition[i])]
            let at = b + Int(residualOffset[i]), len = Int(residualLength[i])
            guard b >= 0, at + len <= p.count else { return false }
            let v = FieldValue(loading: p, at: at, length: len)
            switch residualTest[i] {
            case .equal(let value, let mask): if v & mask != value { return false }
            case .range(let lo, let hi): if v.low < lo || v.low > hi { return false }
            }
        }
        return true
    }
}
