import BowmanCore

/// The seed's multi-way tree, compiled to flat tables: one tree level per
/// key slot some node tests, identical subtrees merged (a DAG: a
/// deterministic automaton over the packet's key), a node one word naming a
/// shared run table and then its targets. A lookup is three loads per level
/// and ends at a leaf that names the best rule, so its cost does not grow
/// with the number of rules. Rule
/// sets that would make the automaton too large are grouped by how wild
/// their fields are and split into several trees; a lookup takes the best
/// leaf of all of them.
///
/// How a rule becomes tree paths: every byte a predicate reads is one *slot*
/// of the key (header position, offset), a symbol 0…255, or 256 when the
/// header cannot be reached or walked. The tree answers *regular* packets,
/// where every header position is either dead or holds every byte the rules
/// read from it, so bounds cost no steps (see `KeyLayout`); the bit-vector
/// tables answer the rest (packets cut short inside a header).
/// Equalities under any mask are per-byte symbol sets; a range over n bytes
/// is at most 2n-1 products of per-byte ranges. Nodes are sets of live rule pieces; a
/// node whose best live piece accepts anything in the remaining slots is a
/// leaf; slots where every node's symbols all lead to one place are not
/// levels.
///
///
/// Files: this one (the type and its View), `TrieClassifier+Build.swift`,
/// `KeyLayout.swift`, `TreeBuilder.swift` (build, cold) and
/// `TrieClassifier+Lookup.swift` (lookup, hot).
/// Built on the management core from a `Classifier`; immutable afterwards.
public struct TrieClassifier: Sendable {
    /// Words one tree may take before its rules are split in two.
    public static let defaultTreeBudget = 1 << 21
    /// Key entries a key may hold (what a burst lane's scratch has room for).
    public static let maxSlots = 256
    /// Where leaf r (rule r; `rules`: none) lies, a byte offset from the rows' base.
    @inlinable
    static func leafOffset(_ r: Int, rules: Int) -> Int { 8 &* (r &- rules &- 1) }

    @frozen public struct View: @unchecked Sendable {
        /// Rule index (policy order) to demux id.
        public let demux: UnsafeBufferPointer<Int>
        public let headers: HeaderWalk
        /// Chunks of the key: up to eight bytes at consecutive offsets of one
        /// header position, one word each: position | offset << 16 | width << 32 | key index << 48
        /// (eight key entries each, whatever the width).
        public let chunks: UnsafeBufferPointer<UInt64>
        /// The live slots, one word each: key index | position << 16.
        public let liveSlots: UnsafeBufferPointer<UInt64>
        /// Two words per header position: parent (low 32 bits, -1 for the
        /// root) | the bytes rules read from it << 32 (a packet is regular
        /// when every live position holds them; 16 bits) | bit 63 when
        /// another position follows it; then a fixed length (bits 0–15),
        /// or a one-byte length field: offset << 16 | mask << 32 | shift << 40
        /// | multiplier << 46 | addend << 54; bit 63: any other length (`headers.end`).
        public let positionWords: UnsafeBufferPointer<UInt64>
        /// Two words per header position: bytes of its ancestors every rule
        /// naming it tests for one value (the EtherType before a VLAN tag or
        /// an IPv4 header), where a packet holding another value leaves the
        /// position dead — no rule through it can match. A word: 1 << 63 |
        /// ancestor position << 32 | offset << 8 | value; 0 for none.
        public let positionGuards: UnsafeBufferPointer<UInt64>
        /// Whether any position has a guard.
        public let anyGuards: Bool
        /// What answers packets that are not regular.
        public let fallback: FlatClassifier.View
        /// Run tables, then leaves, then the rows of every tree (see
        /// `TreeBuilder` for the encoding), one buffer: targets and run
        /// tables are byte offsets from word `rowBase` (run tables and
        /// leaves before it). A run table is 257 bytes (padded to 264), the
        /// run of every symbol (0…256) in a node, shared by every node with
        /// the same run starts; table 0 puts every symbol in run 0 (leaves
        /// and nodes that pass lanes on use it).
        public let rows: UnsafeBufferPointer<Int32>
        public let rowBase: Int
        /// Per tree, the state a lane enters in (a target).
        public let treeRoot: UnsafeBufferPointer<Int32>
        /// Per tree, its best rule (trees are in this order): a lookup that
        /// already holds a better rule skips the tree.
        public let treeFirstRule: UnsafeBufferPointer<Int>
        /// Per tree, its levels (`levelStart[t]..<levelStart[t+1]`): the key
        /// entry each reads.
        public let levelStart: UnsafeBufferPointer<Int32>
        public let levels: UnsafeBufferPointer<Int32>
        /// Per tree, two words: where its root's pair table starts in
        /// `pairs` (-1: none) and the root's run table. A pair table holds,
        /// for every run of the root and every symbol of the second level,
        /// where two steps from the root lead: a burst lane enters there.
        public let treePair: UnsafeBufferPointer<Int32>
        public let pairs: UnsafeBufferPointer<Int32>
        /// Per tree, the slots every rule of it tests alike (`commonStart[t]..<commonStart[t+1]`),
        /// checked before the walk: a key index and its symbol set (5 words).
        public let commonStart: UnsafeBufferPointer<Int32>
        public let commonSlot: UnsafeBufferPointer<Int32>
        public let commonSet: UnsafeBufferPointer<UInt64>
        /// Per tree, where its common tests start in `commonWords` and how
        /// many words of them (-1: not all exact: the sets above decide). A
        /// word: a key entry, then a mask and the value four entries from
        /// it must hold under it.
        public let commonExact: UnsafeBufferPointer<Int32>
        public let commonWords: UnsafeBufferPointer<UInt64>
        /// Entries (16-bit symbols) of the key.
        public let slots: Int
    }

    let storage: TableStorage
    let fallback: FlatClassifier
    public let view: View
    public var ruleCount: Int { view.demux.count }
    public var treeCount: Int { view.treeRoot.count }
    /// Rows of every tree (nodes that are not leaves).
    public let nodeCount: Int
    /// Bytes of the row and class tables.
    public var tableBytes: Int { view.rows.count * 4 + view.pairs.count * 4 }

    /// The demux id of the best matching rule, or `Classifier.noMatch`.
    public func match(_ p: UnsafeRawBufferPointer) -> Int { view.match(p) }
}
