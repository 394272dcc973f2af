import BowmanCore

/// What workers classify against: a compiled *base* (the tree, with the
/// bit-vector tables beside it) plus the changes made since it was
/// compiled — rules added (a small bit-vector table of their own) and base
/// rules deleted (a bit per rule). Building the base takes from a few to a
/// few thousand milliseconds; building the changes on top of an existing
/// base is proportional to the number of rules changed, so one rule added
/// or deleted reaches the workers in well under a millisecond while the
/// management core compiles a new base in the background.
///
/// A lookup: the base's best rule (the tree); if that rule was deleted, the
/// bit-vector tables' best rule that was not; the added rules' best; the
/// better of the two under the policy. Equal to `Classifier.match` on the
/// current rules.
public struct ClassifierTables: Sendable {
    /// A compiled rule set (immutable; shared by the snapshots built on it).
    public final class Base: Sendable {
        public let policy: MatchPolicy
        /// The classifier the ids belong to.
        public let lineage: UInt64
        /// Filter ids in policy order (the compiled tables' rule indices).
        public let ids: [FilterID]
        /// (id, rule index) sorted by id: the diff against a rule list is one merge.
        let byID: [(FilterID, Int)]
        /// Nil when the rules do not compile to a tree (more than 256 key
        /// entries, or too large): the bit-vector tables answer alone.
        public let tree: TrieClassifier?
        public let flat: FlatClassifier
        let rank: RankTable

        public init(_ c: Classifier, treeBudget: Int = TrieClassifier.defaultTreeBudget) {
            policy = c.policy
            lineage = c.lineage
            let ordered = c.rulesInPolicyOrder
            ids = ordered.map(\.id)
            byID = ids.enumerated().map { ($1, $0) }.sorted { $0.0 < $1.0 }
            flat = FlatClassifier(c)
            tree = TrieClassifier(c, treeBudget: treeBudget, fallback: flat)
            rank = RankTable(ordered, of: c)
        }

        public var ruleCount: Int { ids.count }
    }

    /// Policy ranks and demux ids of rules, as unsafe buffers (a trivial view).
    final class RankTable: @unchecked Sendable {
        let major: UnsafeMutableBufferPointer<Int>
        let minor: UnsafeMutableBufferPointer<Int>
        let demux: UnsafeMutableBufferPointer<Int>
        init(_ rules: [Classifier.Rule], of c: Classifier) {
            major = .allocate(capacity: max(1, rules.count))
            minor = .allocate(capacity: max(1, rules.count))
            demux = .allocate(capacity: max(1, rules.count))
            for (i, r) in rules.enumerated() {
                let k = c.rank(r)
                major[i] = k.0; minor[i] = k.1; demux[i] = r.demuxID
            }
        }
        deinit { major.deallocate(); minor.deallocate(); demux.deallocate() }
    }

    /// Deleted base rules, one bit each.
    final class Bits: @unchecked Sendable {
        let words: UnsafeMutableBufferPointer<UInt64>
        init(count: Int) {
            words = .allocate(capacity: max(1, (count + 63) / 64))
            words.initialize(repeating: 0)
        }
        deinit { words.deallocate() }
    }

    public let base: Base
    /// The added rules as a tree, or as bit vectors where a tree refuses them.
    let addedTree: TrieClassifier?
    let addedFlat: FlatClassifier?
    let addedRank: RankTable?
    let deleted: Bits
    public let addedCount: Int
    public let deletedCount: Int
    /// The rules these tables answer for.
    public let ruleCount: Int
    public let view: View

    /// A full compile: the base is `c` itself, nothing changed since.
    public init(_ c: Classifier, treeBudget: Int = TrieClassifier.defaultTreeBudget) {
        self.init(base: Base(c, treeBudget: treeBudget), current: c)
    }

    /// `current`'s rules on top of `base`: rules of `current` the base
    /// lacks are added, base rules `current` lacks are deleted. Costs in
    /// proportion to the rules, not to compiling them (unless most changed).
    public init(base: Base, current c: Classifier) {
        precondition(c.policy == base.policy, "the base and the rules follow different policies")
        self.base = base
        let bits = Bits(count: base.ruleCount)
        var addedRules = Classifier(registry: c.registry, policy: c.policy)
        var newRules: [Classifier.Rule] = []
        // One merge of the base's ids with the rules' (both ascending: a
        // classifier keeps its rules in the order of their ids). Rules of
        // another classifier share no ids with the base: all of them are
        // added, all of the base's deleted.
        var deletedRules = 0, k = 0
        var previous = FilterID(Int.min)
        let sameLineage = c.lineage == base.lineage
        for r in c.rules where !sameLineage { newRules.append(r) }
        for r in c.rules where sameLineage {
            precondition(previous < r.id, "rules out of id order")
            previous = r.id
            while k < base.byID.count && base.byID[k].0 < r.id {
                let i = base.byID[k].1
                bits.words[i >> 6] |= 1 << UInt64(i & 63)
                deletedRules += 1; k += 1
            }
            if k < base.byID.count && base.byID[k].0 == r.id { k += 1 } else { newRules.append(r) }
        }
        while k < base.byID.count {
            let i = base.byID[k].1
            bits.words[i >> 6] |= 1 << UInt64(i & 63)
            deletedRules += 1; k += 1
        }
        deleted = bits
        deletedCount = deletedRules
        addedCount = newRules.count
        ruleCount = c.rules.count
        if newRules.isEmpty {
            addedTree = nil; addedFlat = nil; addedRank = nil
        } else {
            for r in newRules { addedRules.adoptRule(r) }
            addedTree = TrieClassifier(addedRules, treeBudget: 1 << 20)
            addedFlat = addedTree == nil ? FlatClassifier(addedRules) : nil
            addedRank = RankTable(addedRules.rulesInPolicyOrder, of: addedRules)
        }
        view = View(tree: base.tree?.view, flat: base.flat.view, baseMajor: UnsafeBufferPointer(base.rank.major), baseMinor: UnsafeBufferPointer(base.rank.minor),
                    baseDemux: UnsafeBufferPointer(base.rank.demux), deleted: UnsafePointer(bits.words.baseAddress!), anyDeleted: deletedCount > 0,
                    anyAdded: !newRules.isEmpty, addedTree: addedTree?.view, addedFlat: addedFlat?.view, addedMajor: addedRank.map { UnsafeBufferPointer($0.major) }, addedMinor: addedRank.map { UnsafeBufferPointer($0.minor) },
                    addedDemux: addedRank.map { UnsafeBufferPointer($0.demux) })
    }

    /// The demux id of the best matching rule, or `Classifier.noMatch`.
    public func match(_ p: UnsafeRawBufferPointer) -> Int { view.match(p) }

    /// Everything the lookup reads, as unsafe buffers and plain values: a
    /// worker copying it retains nothing.
    @frozen public struct View: @unchecked Sendable {
        public let tree: TrieClassifier.View?
        public let flat: FlatClassifier.View
        public let baseMajor: UnsafeBufferPointer<Int>, baseMinor: UnsafeBufferPointer<Int>, baseDemux: UnsafeBufferPointer<Int>
        public let deleted: UnsafePointer<UInt64>
        public let anyDeleted: Bool
        public let anyAdded: Bool
        public let addedTree: TrieClassifier.View?
        public let addedFlat: FlatClassifier.View?
        public let addedMajor: UnsafeBufferPointer<Int>?, addedMinor: UnsafeBufferPointer<Int>?, addedDemux: UnsafeBufferPointer<Int>?

        /// The demux id of the best matching rule, or -1.
        @inlinable
        public func match(_ p: UnsafeRawBufferPointer) -> Int {
            let r = tree.map { $0.matchRule(p) } ?? flat.matchRule(p, excluding: nil)
            return settle(r, p)
        }

        /// Words of scratch `match(burst:into:scratch:)` needs.
        public var scratchWords: Int { Swift.max(tree?.scratchWords ?? 1, addedTree?.scratchWords ?? 1) }

        /// Demux ids of a burst (`results[i]` for `packets[i]`).
        @inlinable
        public func match(burst packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, into results: UnsafeMutablePointer<Int>) {
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: scratchWords) { tmp in
                match(burst: packets, into: results, scratch: tmp.baseAddress.unsafelyUnwrapped)
            }
        }

        /// Demux ids of a burst: the tree's burst walk, then the per-packet
        /// corrections for changed rules. `scratch`: at least `scratchWords`
        /// words (a worker keeps its own, so nothing is allocated).
        @inlinable
        public func match(burst packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, into results: UnsafeMutablePointer<Int>,
                          scratch: UnsafeMutablePointer<UInt64>) {
            if let t = tree {
                guard anyDeleted || anyAdded else {
                    t.match(burst: packets, into: results, scratch: scratch)   // demux ids straight away
                    return
                }
                t.matchRules(burst: packets, into: results, scratch: scratch)
            } else {
                for i in 0..<packets.count { results[i] = flat.matchRule(packets[i], excluding: nil) }
            }
            guard anyDeleted || anyAdded else {
                for i in 0..<packets.count { results[i] = results[i] < 0 ? -1 : baseDemux[results[i]] }
                return
            }
            if let at = addedTree {
                // The added rules' tree, in bursts too.
                withUnsafeTemporaryAllocation(of: Int.self, capacity: packets.count) { o in
                    at.matchRules(burst: packets, into: o.baseAddress.unsafelyUnwrapped, scratch: scratch)
                    for i in 0..<packets.count { results[i] = combine(pastDeleted(results[i], packets[i]), o[i]) }
                }
            } else {
                for i in 0..<packets.count { results[i] = settle(results[i], packets[i]) }
            }
        }

        /// From the base's best rule index to the answer: past deleted base
        /// rules, against the added rules.
        @inlinable @inline(__always)
        func settle(_ baseRule: Int, _ p: UnsafeRawBufferPointer) -> Int {
            let r = pastDeleted(baseRule, p)
            guard anyAdded else { return r < 0 ? -1 : baseDemux[r] }
            return combine(r, addedTree.map { $0.matchRule(p) } ?? addedFlat.unsafelyUnwrapped.matchRule(p, excluding: nil))
        }

        /// The base's best rule that was not deleted.
        @inlinable @inline(__always)
        func pastDeleted(_ r: Int, _ p: UnsafeRawBufferPointer) -> Int {
            if anyDeleted && r >= 0 && deleted[r >> 6] >> UInt64(r & 63) & 1 != 0 {
                return flat.matchRule(p, excluding: deleted)
            }
            return r
        }

        /// The demux id of the better of a base rule and an added rule (indices, -1: none).
        @inlinable @inline(__always)
        func combine(_ r: Int, _ o: Int) -> Int {
            if o < 0 { return r < 0 ? -1 : baseDemux[r] }
            if r < 0 { return addedDemux.unsafelyUnwrapped[o] }
            let (am, an) = (addedMajor.unsafelyUnwrapped[o], addedMinor.unsafelyUnwrapped[o])
            return (am, an) < (baseMajor[r], baseMinor[r]) ? addedDemux.unsafelyUnwrapped[o] : baseDemux[r]
        }
    }
}

