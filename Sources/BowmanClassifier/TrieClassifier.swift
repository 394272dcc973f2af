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

    /// Nil when the rules cannot be compiled this way: more than 256 key
    /// entries, or tables beyond 2^28 words (the caller keeps the bit-vector
    /// `FlatClassifier`).
    ///
    /// `fallback`: the bit-vector tables of the same classifier, which
    /// answer packets that are not regular (built here when not given).
    public init?(_ c: Classifier, treeBudget: Int = TrieClassifier.defaultTreeBudget, fallback: FlatClassifier? = nil) {
        let rules = c.rulesInPolicyOrder
        let demux = rules.map(\.demuxID)
        var layout = KeyLayout()
        var pieces = rules.enumerated().map { (r, rule) in layout.pieces(rule.filter, rule: r) }
        pieces = layout.liveTestsOnBytes(pieces)
        var used = Set<Int>()
        for rulePieces in pieces { for piece in rulePieces { used.formUnion(piece.keys) } }
        // Byte slots in packet order (header position, then offset), live
        // slots last (those no piece tests any more dropped).
        func order(_ s: KeyLayout.Slot) -> (Int, Int32, Int32) { (s.offset == KeyLayout.liveSlot ? 1 : 0, s.position, s.offset) }
        let order = layout.slots.indices.filter { layout.slots[$0].offset != KeyLayout.liveSlot || used.contains($0) }
            .sorted { order(layout.slots[$0]) < order(layout.slots[$1]) }
        var rank = [Int](repeating: 0, count: layout.slots.count)
        for (i, s) in order.enumerated() { rank[s] = i }
        layout.slots = order.map { layout.slots[$0] }
        pieces = pieces.map { $0.map { Dictionary(uniqueKeysWithValues: $0.map { (rank[$0.key], $0.value) }) } }
        let slots = layout.slots.count
        // The key: each position's bytes in chunks of eight (load eight
        // bytes, store eight symbols), a chunk moved back inside the bytes
        // rules read from its position where it would pass their end; the
        // symbols of bytes no slot names are never tested. Live slots last.
        var keyOf = [Int](repeating: 0, count: slots)
        var chunks: [UInt64] = []   // position | offset << 16 | width << 32 | key index << 48
        var keyLength = 0
        do {
            var i = 0
            while i < slots && layout.slots[i].offset != KeyLayout.liveSlot {
                let pos = layout.slots[i].position, need = layout.need[pos] ?? 0
                let o = Int(layout.slots[i].offset)
                let c = o + 8 <= need ? o : Swift.max(0, need - 8), w = Swift.min(8, need - c)
                chunks.append(UInt64(pos) | UInt64(c) << 16 | UInt64(w) << 32 | UInt64(keyLength) << 48)
                while i < slots && layout.slots[i].position == pos && layout.slots[i].offset != KeyLayout.liveSlot
                        && Int(layout.slots[i].offset) < c + w {
                    keyOf[i] = keyLength + Int(layout.slots[i].offset) - c
                    i += 1
                }
                keyLength += 8
            }
            for j in i..<slots { keyOf[j] = keyLength; keyLength += 1 }
        }
        guard keyLength <= TrieClassifier.maxSlots, layout.need.values.allSatisfy({ $0 < 1 << 16 }) else { return nil }
        // Trees: rules grouped by how wild their fields are (rules alike in
        // which fields they leave open cross-multiply least), split until
        // each group fits the budget. A lookup takes the best leaf of all.
        func wildness(_ r: Int) -> [Int] {
            (0..<slots).map { slot in pieces[r].map { layout.sets[Int($0[slot] ?? 0)].count }.max() ?? 257 }
        }
        let keys = (0..<rules.count).map(wildness)
        let grouped = (0..<rules.count).sorted { a, b in
            keys[a].lexicographicallyPrecedes(keys[b], by: >) || (keys[a] == keys[b] && a < b)
        }
        var built: [TreeBuilder.Tree] = []
        var classes = ClassTables()
        var pending: [Range<Int>] = [0..<rules.count]
        while let range = pending.popLast() {
            let members = grouped[range].sorted()   // priority order within the tree
            var b = TreeBuilder(slots: slots, keyOf: keyOf, sets: layout.sets, ruleCount: rules.count)
            // Slots every piece tests alike are checked once, before the walk.
            var common: [Int: Int32] = [:]
            if let firstPiece = members.lazy.flatMap({ pieces[$0] }).first {
                for (slot, set) in firstPiece where members.allSatisfy({ pieces[$0].allSatisfy { $0[slot] == set } }) { common[slot] = set }
            }
            for r in members { for p in pieces[r] { b.add(p.filter { common[$0.key] == nil }, rule: r) } }
            if var t = b.build(budget: range.count > 1 ? treeBudget : .max, classes: &classes) {
                t.common = common.keys.sorted().map { ($0, layout.sets[Int(common[$0]!)]) }
                built.append(t)
            } else {
                guard range.count > 1 else { return nil }
                let mid = range.lowerBound + range.count / 2
                pending.append(mid..<range.upperBound)
                pending.append(range.lowerBound..<mid)
            }
        }
        if built.isEmpty {
            guard let t = TreeBuilder(slots: slots, keyOf: keyOf, sets: layout.sets, ruleCount: rules.count).build(budget: .max, classes: &classes) else { return nil }
            built.append(t)
        }
        built.sort { $0.firstRule < $1.firstRule }
        // The rows of every tree after the leaves: leaf r (two words, the
        // run table 0 and itself) at byte 8 × (r - rules - 1) from the base,
        // "no rule" (r = rules, what a lane that skips a tree holds) last.
        let leafWords = 2 * (rules.count + 1)
        var rows: [Int32] = [], roots: [Int32] = [], levels: [Int32] = [], levelStart: [Int32] = [0]
        for r in 0...rules.count { rows += [0, Int32(TrieClassifier.leafOffset(r, rules: rules.count))] }
        var treePair: [Int32] = [], pairs: [Int32] = []
        var commonStart: [Int32] = [0], commonSlot: [Int32] = [], commonSet: [UInt64] = []
        var commonExact: [Int32] = [], commonWords: [UInt64] = []
        var nodes = 0
        for t in built {
            for (slot, set) in t.common {
                commonSlot.append(Int32(keyOf[slot]))
                commonSet += [set.w0, set.w1, set.w2, set.w3, set.w4]
            }
            commonStart.append(Int32(commonSlot.count))
            // When every common test is one symbol: the key's entries under
            // masks, four entries (one eight-byte load) at a time.
            if t.common.allSatisfy({ $0.1.count == 1 }) {
                var want: [Int: UInt16] = [:]
                for (slot, set) in t.common { want[keyOf[slot]] = UInt16((0...256).first { set.contains($0) }!) }
                commonExact += [Int32(commonWords.count / 3), 0]
                var entries = want.keys.sorted()[...]
                while let first = entries.first {
                    // Four entries from a multiple of four: one half of an extraction's
                    // sixteen-byte store (a load across two would wait for both).
                    let e = first / 4 * 4
                    var mask: UInt64 = 0, value: UInt64 = 0
                    while let f = entries.first, f < e + 4 {
                        mask |= 0xFFFF << UInt64(16 * (f - e)); value |= UInt64(want[f]!) << UInt64(16 * (f - e))
                        entries = entries.dropFirst()
                    }
                    commonWords += [UInt64(e), mask, value]
                    commonExact[commonExact.count - 1] += 1
                }
            } else {
                commonExact += [0, -1]
            }
            guard (rows.count + t.rows.count) * 4 < 1 << 30 else { return nil }
            let base = Int32((rows.count - leafWords) * 4)
            rows += t.relocated(by: base)
            roots.append(t.root >= 0 ? t.root &+ base : t.root)
            levels += t.levels
            levelStart.append(Int32(levels.count))
            // The root's pair table: where two steps from the root lead, for
            // every run of the root and symbol of the second level (a lane
            // enters there).
            treePair += [-1, 0]
            let root = Int(roots.last!), at = leafWords + root / 4
            if root >= 0, t.levels.count >= 2 {
                let tab = Int(rows[at]), runs = Int(classes.bytes[tab + 256]) + 1
                if runs <= 16 {
                    treePair[treePair.count - 2] = Int32(pairs.count)
                    treePair[treePair.count - 1] = Int32(tab)
                    for k in 0..<runs {
                        let c = Int(rows[at + 1 + k])
                        for sym in 0...256 {
                            if c < 0 { pairs.append(Int32(c)); continue }
                            let row = leafWords + c / 4
                            pairs.append(rows[row + 1 + Int(classes.bytes[Int(rows[row]) + sym])])
                        }
                    }
                }
            }
            nodes += t.nodes
        }
        rows += [Int32](repeating: 0, count: 8)
        // The run tables go before the leaves, in the same buffer: a run
        // table's offset is from the same base as a target (one base
        // register for both). Run table words move accordingly.
        let tableWords = (classes.bytes.count + 3) / 4
        let rowBase = tableWords + leafWords
        let shift = Int32(-4 * rowBase)
        do {
            var i = 0
            while i < leafWords { rows[i] &+= shift; i += 2 }
            var isTable = [Bool](repeating: false, count: rows.count)
            var at = leafWords
            for t in built {
                for (j, target) in t.isTarget.enumerated() where !target { isTable[at + j] = true }
                at += t.rows.count
            }
            for j in leafWords..<rows.count where isTable[j] { rows[j] &+= shift }
            for t in 0..<built.count { treePair[2 * t + 1] &+= shift }
            var packed = [Int32](repeating: 0, count: tableWords)
            for (j, b) in classes.bytes.enumerated() { packed[j / 4] |= Int32(bitPattern: UInt32(b) << UInt32(8 * (j % 4))) }
            rows = packed + rows
        }
        guard rows.count < 1 << 29 else { return nil }   // byte offsets fit 32 bits
        nodeCount = nodes
        let guardWords = layout.guards(pieces: pieces, rules: rules.map(\.filter))
        let st = TableStorage()
        storage = st
        let fb = fallback ?? FlatClassifier(c)
        self.fallback = fb
        view = View(demux: st.own(demux), headers: layout.headers.walk(st),
                    chunks: st.own(chunks),
                    liveSlots: st.own(layout.slots.indices.filter { layout.slots[$0].offset == KeyLayout.liveSlot }.map {
                        UInt64(keyOf[$0]) | UInt64(layout.slots[$0].position) << 16
                    }),
                    positionWords: st.own(layout.headers.protos.indices.flatMap { k -> [UInt64] in
                        let followed: UInt64 = layout.headers.parents.contains(Int32(k)) ? 1 << 63 : 0
                        let a = UInt64(UInt32(bitPattern: layout.headers.parents[k])) | UInt64(layout.need[Int32(k)] ?? 0) << 32 | followed
                        switch layout.headers.protos[k].headerLength {
                        case .fixed(let n) where n > 0 && n < 1 << 16: return [a, UInt64(n)]
                        case .computed(let f, let mask, let shift, let mult, let add)
                            where f.length == 1 && f.offset < 1 << 16 && mask <= 0xFF && (0..<64).contains(shift) && (0...255).contains(mult) && (0...255).contains(add):
                            return [a, UInt64(f.offset) << 16 | mask << 32 | UInt64(shift) << 40 | UInt64(mult) << 46 | UInt64(add) << 54]
                        default: return [a, 1 << 63]
                        }
                    }),
                    positionGuards: st.own(guardWords), anyGuards: guardWords.contains { $0 != 0 },
                    fallback: fb.view,
                    rows: st.own(rows), rowBase: rowBase, treeRoot: st.own(roots), treeFirstRule: st.own(built.map(\.firstRule)),
                    levelStart: st.own(levelStart), levels: st.own(levels),
                    treePair: st.own(treePair), pairs: st.own(pairs), commonStart: st.own(commonStart),
                    commonSlot: st.own(commonSlot), commonSet: st.own(commonSet),
                    commonExact: st.own(commonExact), commonWords: st.own(commonWords), slots: keyLength)
    }

    /// The demux id of the best matching rule, or `Classifier.noMatch`.
    public func match(_ p: UnsafeRawBufferPointer) -> Int { view.match(p) }
}

extension Classifier {
    /// A rule's rank under the policy, lower wins: (priority, id) for first
    /// match, (-predicates, id) for most predicates — the order every
    /// compiled form numbers its rules in.
    public func rank(_ r: Rule) -> (Int, Int) {
        switch policy {
        case .firstMatch: return (r.priority, r.id.rawValue)
        case .mostPredicates: return (-r.filter.predicates.count, r.id.rawValue)
        }
    }

    /// The rules in the order the policy ranks them (best first).
    public var rulesInPolicyOrder: [Rule] { rules.sorted { rank($0) < rank($1) } }
}

/// A set of key symbols: the 256 byte values and 256 ("absent").
struct SymbolSet: Hashable {
    var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0, w4: UInt64 = 0
    static let absent = 256
    static var all: SymbolSet { SymbolSet(w0: .max, w1: .max, w2: .max, w3: .max, w4: 1) }
    static var bytes: SymbolSet { SymbolSet(w0: .max, w1: .max, w2: .max, w3: .max, w4: 0) }
    func contains(_ s: Int) -> Bool {
        let w: UInt64
        switch s >> 6 { case 0: w = w0; case 1: w = w1; case 2: w = w2; case 3: w = w3; default: w = w4 }
        return w >> UInt64(s & 63) & 1 != 0
    }
    mutating func insert(_ s: Int) {
        let b: UInt64 = 1 << UInt64(s & 63)
        switch s >> 6 { case 0: w0 |= b; case 1: w1 |= b; case 2: w2 |= b; case 3: w3 |= b; default: w4 |= b }
    }
    static func & (a: SymbolSet, b: SymbolSet) -> SymbolSet {
        SymbolSet(w0: a.w0 & b.w0, w1: a.w1 & b.w1, w2: a.w2 & b.w2, w3: a.w3 & b.w3, w4: a.w4 & b.w4)
    }
    var isEmpty: Bool { (w0 | w1 | w2 | w3 | w4) == 0 }
    var count: Int { w0.nonzeroBitCount + w1.nonzeroBitCount + w2.nonzeroBitCount + w3.nonzeroBitCount + w4.nonzeroBitCount }
    static func range(_ lo: Int, _ hi: Int) -> SymbolSet {
        var s = SymbolSet()
        if lo <= hi { for v in lo...hi { s.insert(v) } }
        return s
    }
    static func masked(value: UInt8, mask: UInt8) -> SymbolSet {
        var s = SymbolSet()
        for v in 0..<256 where UInt8(v) & mask == value { s.insert(v) }
        return s
    }
}

/// Slots of the key and the symbol sets rules place on them.
///
/// The tree answers for *regular* packets: those where every header
/// position either cannot be reached or walked (it is *dead*: no rule that
/// names it can match) or holds all the bytes any rule reads from it.
/// Within a regular packet a position's bytes are all present or all
/// absent, so bounds need no slots of their own: one byte of a rule's
/// fields in a position excludes "absent" and the bytes it leaves open
/// accept anything. A rule whose last header has no predicate tests that
/// header's *live* slot (1: walked, 0: dead), or a byte other rules read
/// from it for "not absent" (`liveTestsOnBytes`). Other packets (cut short
/// inside a header some rule reads) go to the bit-vector tables.
struct KeyLayout {
    /// The offset of a position's live slot (sorted after every byte slot).
    static let liveSlot = Int32.max
    struct Slot: Hashable { var position: Int32; var offset: Int32 }
    var headers = HeaderPositions()
    var slots: [Slot] = []
    var slotIndex: [Slot: Int] = [:]
    /// Per header position, the bytes the rules read from it (a regular packet holds them).
    var need: [Int32: Int] = [:]
    /// Interned symbol sets; 0 is every symbol.
    var sets: [SymbolSet] = [.all]
    var setIndex: [SymbolSet: Int32] = [SymbolSet.all: 0]

    mutating func position(_ hs: [ProtocolDefinition], upTo h: Int) -> Int32 { headers.position(hs, upTo: h) }

    mutating func slot(_ s: Slot) -> Int {
        if let i = slotIndex[s] { return i }
        slots.append(s); slotIndex[s] = slots.count - 1
        return slots.count - 1
    }

    mutating func intern(_ s: SymbolSet) -> Int32 {
        if let i = setIndex[s] { return i }
        sets.append(s); setIndex[s] = Int32(sets.count - 1)
        return Int32(sets.count - 1)
    }

    /// A piece: slot → symbol set (absent slots accept anything).
    typealias Piece = [Int: SymbolSet]

    /// Per header position, two guard words (see `TrieClassifier.View.positionGuards`):
    /// bytes of its ancestors that every piece of every rule naming the
    /// position tests for one value, the nearest ancestor's last bytes first.
    /// `pieces`: per rule, its pieces over these slots.
    mutating func guards(pieces: [[[Int: Int32]]], rules: [Filter]) -> [UInt64] {
        let positions = headers.protos.count
        var named = [[Int]](repeating: [], count: positions)
        for (r, f) in rules.enumerated() {
            for h in f.headers.indices { named[Int(position(f.headers, upTo: h))].append(r) }
        }
        var out: [UInt64] = []
        for k in 0..<positions {
            var ancestors: Set<Int32> = []
            var a = headers.parents[k]
            while a >= 0 { ancestors.insert(a); a = headers.parents[Int(a)] }
            var common: [Int: Int]?
            for r in named[k] {
                guard !pieces[r].isEmpty else { continue }   // a rule that matches nothing guards nothing
                for piece in pieces[r] {
                    var exact: [Int: Int] = [:]
                    for (slot, sid) in piece where slots[slot].offset != KeyLayout.liveSlot && ancestors.contains(slots[slot].position) {
                        let set = sets[Int(sid)]
                        if set.count == 1, let v = (0..<256).first(where: { set.contains($0) }) { exact[slot] = v }
                    }
                    common = common.map { $0.filter { exact[$0.key] == $0.value } } ?? exact
                }
                if common?.isEmpty == true { break }
            }
            // The nearest ancestor's last bytes first: where a header names the next one (EtherType, VLAN's protocol).
            let chosen = (common ?? [:]).sorted { (slots[$0.key].position, slots[$0.key].offset) > (slots[$1.key].position, slots[$1.key].offset) }
                .prefix(2).filter { slots[$0.key].offset < 1 << 16 }
            for i in 0..<2 {
                guard i < chosen.count else { out.append(0); continue }
                let slot = slots[chosen[i].key]
                out.append(1 << 63 | UInt64(slot.position) << 32 | UInt64(slot.offset) << 8 | UInt64(chosen[i].value))
            }
        }
        return out
    }

    /// The rule as a union of products of per-slot symbol sets, with set ids per slot.
    mutating func pieces(_ f: Filter, rule: Int) -> [[Int: Int32]] {
        var products: [Piece] = [[:]]
        var tested: [Int32: [Int]] = [:]   // position → its byte slots this rule reads
        for p in f.predicates {
            let pos = position(f.headers, upTo: p.header)
            need[pos] = Swift.max(need[pos] ?? 0, p.offset + p.length)
            let byteSlots = (0..<p.length).map { slot(Slot(position: pos, offset: Int32(p.offset + $0))) }
            tested[pos, default: []] += byteSlots
            let alternatives: [[SymbolSet]]
            switch p.test {
            case .equal(let value, let mask):
                alternatives = [(0..<p.length).map { i in
                    SymbolSet.masked(value: KeyLayout.byte(value, i, p.length), mask: KeyLayout.byte(mask, i, p.length))
                }]
            case .range(let lo, let hi):
                alternatives = KeyLayout.rangeProducts(lo: lo, hi: hi, length: p.length)
            }
            var out: [Piece] = []
            for base in products {
                for alt in alternatives {
                    var q = base
                    var empty = false
                    for (i, s) in byteSlots.enumerated() {
                        let v = (q[s] ?? .all) & alt[i]
                        if v.isEmpty { empty = true; break }
                        q[s] = v
                    }
                    if !empty { out.append(q) }
                }
            }
            products = out
        }
        // Every set above excludes "absent"; one per position is enough to
        // reject a dead one, so "any byte" widens to "anything" wherever
        // another byte of the position says more (or it is not the first).
        for i in products.indices {
            for (_, byteSlots) in tested {
                let open = Set(byteSlots).filter { products[i][$0] == .bytes }
                let keep = open.count == Set(byteSlots).count ? open.min() : nil
                for s in open where s != keep { products[i][s] = .all }
            }
        }
        if !f.headers.isEmpty {
            let last = position(f.headers, upTo: f.headers.count - 1)
            if tested[last] == nil {
                let s = slot(Slot(position: last, offset: KeyLayout.liveSlot))
                for i in products.indices { products[i][s] = SymbolSet.range(1, 1) }
            }
        }
        return products.map { q in q.filter { $0.value != .all }.mapValues { intern($0) } }
    }

    /// `pieces` (per rule, its pieces) with each live-slot test moved to
    /// the first byte other rules read from that header, as "any byte, not
    /// absent": in a regular packet a live header holds every byte rules
    /// read from it and a dead one none, so the test is the same and costs
    /// no level of its own (the catch-all rule of an ACL). A live slot
    /// stays where no rule reads a byte of its header.
    mutating func liveTestsOnBytes(_ pieces: [[[Int: Int32]]]) -> [[[Int: Int32]]] {
        var firstByte: [Int32: Int] = [:]
        for (i, slot) in slots.enumerated() where slot.offset != KeyLayout.liveSlot {
            if let j = firstByte[slot.position], slots[j].offset <= slot.offset { continue }
            firstByte[slot.position] = i
        }
        let anyByte = intern(.bytes)
        return pieces.map { rulePieces in
            rulePieces.map { piece in
                var q = piece
                for (slot, _) in piece where slots[slot].offset == KeyLayout.liveSlot {
                    guard let b = firstByte[slots[slot].position] else { continue }
                    q[slot] = nil
                    q[b] = anyByte   // a live slot is a piece's only test of its header
                }
                return q
            }
        }
    }

    static func byte(_ v: FieldValue, _ i: Int, _ length: Int) -> UInt8 {
        let shift = 8 * (length - 1 - i)   // byte i from the most significant end
        return shift >= 64 ? UInt8(truncatingIfNeeded: v.high >> UInt64(shift - 64)) : UInt8(truncatingIfNeeded: v.low >> UInt64(shift))
    }

    /// [lo, hi] over `length` big-endian bytes as products of per-byte ranges.
    static func rangeProducts(lo: UInt64, hi: UInt64, length: Int) -> [[SymbolSet]] {
        func b(_ v: UInt64, _ i: Int) -> Int { Int(truncatingIfNeeded: v >> UInt64(8 * (length - 1 - i))) & 0xFF }
        // lo's bytes from i on all zero / hi's all 0xFF.
        func minFrom(_ v: UInt64, _ i: Int) -> Bool { (i..<length).allSatisfy { b(v, $0) == 0 } }
        func maxFrom(_ v: UInt64, _ i: Int) -> Bool { (i..<length).allSatisfy { b(v, $0) == 0xFF } }
        let bytes = SymbolSet.bytes
        func go(_ i: Int, _ lo: UInt64, _ hi: UInt64, loTight: Bool, hiTight: Bool) -> [[SymbolSet]] {
            // Suffixes from byte i: lo's bytes bind while loTight, hi's while hiTight.
            if i == length { return [[]] }
            let l = loTight ? b(lo, i) : 0, h = hiTight ? b(hi, i) : 0xFF
            let loMin = !loTight || minFrom(lo, i + 1), hiMax = !hiTight || maxFrom(hi, i + 1)
            if l == h { return go(i + 1, lo, hi, loTight: loTight, hiTight: hiTight).map { [SymbolSet.range(l, l)] + $0 } }
            if loMin && hiMax { return [[SymbolSet.range(l, h)] + Array(repeating: bytes, count: length - i - 1)] }
            var out: [[SymbolSet]] = []
            var midLo = l, midHi = h
            if !loMin { out += go(i + 1, lo, hi, loTight: true, hiTight: false).map { [SymbolSet.range(l, l)] + $0 }; midLo = l + 1 }
            if !hiMax { midHi = h - 1 }
            if midLo <= midHi { out.append([SymbolSet.range(midLo, midHi)] + Array(repeating: bytes, count: length - i - 1)) }
            if !hiMax { out += go(i + 1, lo, hi, loTight: false, hiTight: true).map { [SymbolSet.range(h, h)] + $0 } }
            return out
        }
        return go(0, lo, hi, loTight: true, hiTight: true)
    }
}

/// Run tables shared by the nodes of every tree: one per distinct list of
/// run starts, 257 bytes (a symbol's run), padded to 264.
struct ClassTables {
    var bytes = [UInt8](repeating: 0, count: 264)   // table 0: one run (leaves)
    var index: [[Int]: Int32] = [[]: 0]
    /// The byte offset of the table for `starts` (at most 255 starts).
    mutating func table(_ starts: [Int]) -> Int32 {
        if let t = index[starts] { return t }
        let t = Int32(bytes.count)
        var run = 0
        for sym in 0...256 {
            while run < starts.count && starts[run] <= sym { run += 1 }
            bytes.append(UInt8(run))
        }
        bytes += [UInt8](repeating: 0, count: 7)
        index[starts] = t
        return t
    }
}

/// Builds one tree (automaton) over a subset of the rules.
///
/// The tree is levelled: a level is a key slot some node tests, and every
/// node of a level reads that slot, so a walk's key entry at a step is the
/// same in every lane and known before the step (no key index in a node).
/// Node encoding in the row array (`Int32` words): a target is a byte
/// offset from the rows' base, a node at ≥ 0, a leaf < 0. A node is one
/// word, its run table (`ClassTables`; where the tables lie, before the
/// rows), then the targets of its runs: a step is the run table, the
/// symbol's run in it, and the target — three loads, two additions. A
/// node at a level where its rules test nothing has one run (it passes
/// lanes on); slots no node tests are not levels. A leaf is two words, the
/// table every symbol's run is 0 in and itself: lanes at a leaf step in
/// place until the last level; leaf r lies at byte 8 × (r - rules - 1),
/// so the leaf names its rule.
struct TreeBuilder {
    struct Tree {
        /// Rows: a node's run table, then its targets (see above).
        var rows: [Int32]
        /// The state a lane enters the tree in (a target).
        var root: Int32
        var nodes: Int
        var firstRule: Int
        var common: [(Int, SymbolSet)] = []
        /// The key entry every level reads, in order.
        var levels: [Int32]
        /// Which words of `rows` are targets (the rest are run tables).
        var isTarget: [Bool]
        /// The rows with their node targets moved `base` bytes on (leaves stay).
        func relocated(by base: Int32) -> [Int32] {
            var out = rows
            for i in out.indices where isTarget[i] && out[i] >= 0 { out[i] &+= base }
            return out
        }
    }
    let slots: Int
    /// Slot → its index in the key (what a level reads).
    let keyOf: [Int]
    let sets: [SymbolSet]
    let ruleCount: Int
    /// Pieces, flattened: set id per slot.
    var pieceSets: [Int32] = []
    var pieceRule: [Int32] = []

    init(slots: Int, keyOf: [Int], sets: [SymbolSet], ruleCount: Int) {
        self.slots = slots; self.keyOf = keyOf; self.sets = sets; self.ruleCount = ruleCount
    }

    mutating func add(_ piece: [Int: Int32], rule: Int) {
        for s in 0..<slots { pieceSets.append(piece[s] ?? 0) }
        pieceRule.append(Int32(rule))
    }

    /// A node before layout: run starts (after 0) and child node indices (or leaves).
    struct Node { var depth: Int; var starts: [Int]; var children: [Int32] }


    func build(budget: Int, classes: inout ClassTables) -> Tree? {
        let pieces = pieceRule.count
        // From which slot on a piece accepts anything.
        var wildFrom = [Int](repeating: 0, count: pieces)
        for p in 0..<pieces {
            var d = slots
            while d > 0 && pieceSets[p * slots + d - 1] == 0 { d -= 1 }
            wildFrom[p] = d
        }
        // Suffix ids: equal ids ⇔ equal sets from slot d on (for duplicate removal).
        var suffix = [Int32](repeating: 0, count: pieces * (slots + 1))
        do {
            var ids: [Int64: Int32] = [:]
            for d in stride(from: slots - 1, through: 0, by: -1) {
                for p in 0..<pieces {
                    let k = Int64(pieceSets[p * slots + d]) << 32 | Int64(suffix[p * (slots + 1) + d + 1])
                    let id: Int32
                    if let i = ids[k] { id = i } else { id = Int32(ids.count + 1); ids[k] = id }
                    suffix[p * (slots + 1) + d] = id
                }
            }
        }
        // Run boundaries of every set: the symbols where membership changes.
        let setBounds: [[Int]] = sets.map { s in (1...256).filter { s.contains($0) != s.contains($0 - 1) } }

        let noMatch = ~Int32(ruleCount)
        var nodes: [Node] = []
        // A node is its depth and its live pieces; the lists lie back to
        // back in one arena, found again by a hash (nodes with the same
        // hash are chained), so no list is an array of its own.
        var arena: [Int32] = [], liveStart: [Int] = [], liveCount: [Int] = []
        var byHash: [UInt64: Int32] = [:], sameHash: [Int32] = []
        var work: [Int32] = []
        var words = 0
        var overBudget = false
        func node(_ depth: Int, _ live: [Int32]) -> Int32 {
            guard let first = live.first else { return noMatch }
            if wildFrom[Int(first)] <= depth || depth == slots { return ~pieceRule[Int(first)] }
            var h = UInt64(depth) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(live.count)
            for p in live { h = (h ^ UInt64(UInt32(bitPattern: p))) &* 0x0000_0100_0000_01B3; h ^= h >> 31 }
            var c = byHash[h] ?? -1
            while c >= 0 {
                let i = Int(c)
                if nodes[i].depth == depth && liveCount[i] == live.count
                    && arena[liveStart[i]..<(liveStart[i] + liveCount[i])].elementsEqual(live) { return c }
                c = sameHash[i]
            }
            let id = Int32(nodes.count)
            nodes.append(Node(depth: depth, starts: [], children: []))
            liveStart.append(arena.count); liveCount.append(live.count)
            arena += live
            sameHash.append(byHash[h] ?? -1); byHash[h] = id
            work.append(id)
            return id
        }
        var scratch: [[Int32]] = []
        // Stamps instead of sets (the builder's hot loops): a suffix id, a
        // set id or a symbol is "seen" when its stamp is the current one.
        var suffixStamp = [Int32](repeating: 0, count: pieces * (slots + 1) + 2), stamp: Int32 = 0
        var setSlot = [Int32](repeating: -1, count: sets.count), setStamp = [Int32](repeating: 0, count: sets.count)
        var cutStamp = [Int32](repeating: 0, count: 257)
        var nodeStamp: Int32 = 0
        let root = node(0, Array(0..<Int32(pieces)))
        var live: [Int32] = []
        while let id = work.popLast() {
            let d = nodes[Int(id)].depth
            let liveHere = liveStart[Int(id)]..<(liveStart[Int(id)] + liveCount[Int(id)])
            nodeStamp &+= 1
            // The distinct sets live here, and the elementary intervals all their boundaries make.
            var distinct: [Int32] = []
            for j in liveHere {
                let p = arena[j]
                let s = pieceSets[Int(p) * slots + d]
                if setStamp[Int(s)] != nodeStamp { setStamp[Int(s)] = nodeStamp; setSlot[Int(s)] = Int32(distinct.count); distinct.append(s) }
            }
            cutStamp[0] = nodeStamp
            for s in distinct { for b in setBounds[Int(s)] { cutStamp[b] = nodeStamp } }
            var starts: [Int] = []
            for v in 0...256 where cutStamp[v] == nodeStamp { starts.append(v) }
            // Which intervals each distinct set holds.
            let holds: [[Int]] = distinct.map { sid in let set = sets[Int(sid)]; return starts.indices.filter { set.contains(starts[$0]) } }
            if scratch.count < starts.count { scratch += Array(repeating: [], count: starts.count - scratch.count) }
            for i in 0..<starts.count { scratch[i].removeAll(keepingCapacity: true) }
            for j in liveHere {
                let p = arena[j]
                for i in holds[Int(setSlot[Int(pieceSets[Int(p) * slots + d])])] { scratch[i].append(p) }
            }
            var runStarts: [Int] = [], children: [Int32] = []
            for i in 0..<starts.count {
                // Duplicates of a better piece's remaining sets go; so does everything after a piece that accepts anything.
                live.removeAll(keepingCapacity: true)
                stamp &+= 1
                for p in scratch[i] {
                    let sid = Int(suffix[Int(p) * (slots + 1) + d + 1])
                    if suffixStamp[sid] != stamp { suffixStamp[sid] = stamp; live.append(p) }
                    if wildFrom[Int(p)] <= d + 1 { break }
                }
                let child = node(d + 1, live)
                if children.last == child { continue }
                if !children.isEmpty { runStarts.append(starts[i]) }
                children.append(child)
            }
            nodes[Int(id)] = Node(depth: d, starts: runStarts, children: children)
            words += 1 + children.count
            if words > budget { overBudget = true; break }
        }
        if overBudget { return nil }
        // Levels: the depths where some node tests its byte. Every lane
        // steps at every level; depths no node tests are stepped over.
        var active = [Bool](repeating: false, count: slots + 1)
        for n in nodes where n.children.count > 1 { active[n.depth] = true }
        func through(_ c: Int32) -> Int32 {
            var c = c
            while c >= 0 && !active[nodes[Int(c)].depth] { c = nodes[Int(c)].children[0] }
            return c
        }
        // Layout: depth first from the root, a node's first target right
        // after it (the nodes one lookup steps through lie close together).
        // A node at a level where it tests nothing keeps one run (it passes
        // lanes on); leaves are not laid out here: leaf r is a fixed place
        // before every tree's rows, at byte 8 × (r - rules - 1).
        var offset = [Int32](repeating: -1, count: nodes.count)
        var order: [Int32] = []
        var laidOut = 0
        var stack: [Int32] = []
        let first = through(root)
        if first >= 0 { stack.append(first) }
        while let c = stack.popLast() {
            let n = nodes[Int(c)]
            guard offset[Int(c)] < 0 else { continue }
            guard n.starts.count <= 255 else { return nil }   // a run index is a byte
            offset[Int(c)] = Int32(laidOut * 4)
            order.append(c)
            laidOut += 1 + n.children.count
            guard laidOut < 1 << 28 else { return nil }
            for child in n.children.reversed() {
                let t = through(child)
                if t >= 0 && offset[Int(t)] < 0 { stack.append(t) }
            }
        }
        let rules = Int32(ruleCount)
        func target(_ c: Int32) -> Int32 { c < 0 ? Int32(TrieClassifier.leafOffset(Int(~c), rules: Int(rules))) : offset[Int(c)] }
        var rows: [Int32] = [], isTarget: [Bool] = []
        rows.reserveCapacity(laidOut); isTarget.reserveCapacity(laidOut)
        for c in order {
            let n = nodes[Int(c)]
            rows.append(n.children.count > 1 ? classes.table(n.starts) : 0); isTarget.append(false)
            for child in n.children { rows.append(target(through(child))); isTarget.append(true) }
        }
        return Tree(rows: rows, root: target(first), nodes: order.count, firstRule: Int(pieceRule.first ?? 0),
                    levels: (0..<slots).filter { active[$0] }.map { Int32(keyOf[$0]) }, isTarget: isTarget)
    }
}

extension TrieClassifier.View {
    /// The demux id of the best matching rule, or -1.
    @inlinable
    public func match(_ p: UnsafeRawBufferPointer) -> Int {
        let r = matchRule(p)
        return r < 0 ? -1 : demux[r]
    }

    /// The index (policy order) of the best matching rule, or -1.
    @inlinable
    public func matchRule(_ p: UnsafeRawBufferPointer) -> Int {
        withKey(of: p) { key, regular in regular ? walk(key) : fallback.matchRule(p, excluding: nil) }
    }

    /// `body` with the key of one packet and whether it is regular (the
    /// burst extraction with one lane, its scratch on the stack).
    @inlinable @inline(__always)
    func withKey<R>(of p: UnsafeRawBufferPointer, _ body: (UnsafeMutablePointer<UInt16>, Bool) -> R) -> R {
        let keyWords = (Swift.max(1, slots) + 3) / 4
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: keyWords + headers.count + 2) { tmp -> R in
            let key = UnsafeMutableRawPointer(tmp.baseAddress.unsafelyUnwrapped).assumingMemoryBound(to: UInt16.self)
            let irregular = withUnsafePointer(to: p) {
                symbolsOfLanes(UnsafeBufferPointer(start: $0, count: 1), 0, 1, tmp.baseAddress.unsafelyUnwrapped + keyWords, key, lanes: 1)
            }
            return body(key, irregular == 0)
        }
    }

    /// Demux ids of a burst of packets (`results[i]` for `packets[i]`):
    /// sixteen packets walk the trees together, so the dependent loads of one
    /// overlap with the others'.
    @inlinable
    public func match(burst packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, into results: UnsafeMutablePointer<Int>) {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: scratchWords) { tmp in
            match(burst: packets, into: results, scratch: tmp.baseAddress.unsafelyUnwrapped)
        }
    }

    /// Rule indices (policy order, -1 for none) of a burst of packets.
    @inlinable
    public func matchRules(burst packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, into results: UnsafeMutablePointer<Int>) {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: scratchWords) { tmp in
            matchRules(burst: packets, into: results, scratch: tmp.baseAddress.unsafelyUnwrapped)
        }
    }

    /// Words of scratch a burst lookup needs (sixteen keys and the header positions).
    public var scratchWords: Int { Self.scratchWords(positions: headers.count) }

    /// `scratchWords` for tables of `positions` header positions: sixteen
    /// keys, each lane's packet and header spans, the same-shape path's checks.
    public static func scratchWords(positions: Int) -> Int {
        lanes * keyStride / 4 + lanes * (positions + 2) + 1 + 13 * positions + 8
    }

    /// Key entries between two lanes' keys in a burst: the most any key
    /// holds, so a lane's key is a constant offset from the first.
    public static let keyStride = TrieClassifier.maxSlots

    /// `matchRules(burst:into:)` with the caller's scratch (at least
    /// `scratchWords` words): what a worker calls, so nothing is allocated
    /// whatever the size of the key.
    @inlinable
    public func matchRules(burst packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, into results: UnsafeMutablePointer<Int>,
                           scratch tmp: UnsafeMutablePointer<UInt64>) {
        burst(packets, into: results, scratch: tmp, demuxIDs: false)
    }

    /// Demux ids of a burst (-1: none) with the caller's scratch.
    @inlinable
    public func match(burst packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, into results: UnsafeMutablePointer<Int>,
                      scratch tmp: UnsafeMutablePointer<UInt64>) {
        burst(packets, into: results, scratch: tmp, demuxIDs: true)
    }

    /// The burst lookup: rule indices, or their demux ids (-1: none either way).
    @inlinable @inline(__always)
    func burst(_ packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, into results: UnsafeMutablePointer<Int>,
               scratch tmp: UnsafeMutablePointer<UInt64>, demuxIDs: Bool) {
        // Sixteen keys of 16-bit symbols, then the header spans.
        let keys = UnsafeMutableRawPointer(tmp).assumingMemoryBound(to: UInt16.self), scratch = tmp + Self.lanes * Self.keyStride / 4
        var first = 0
        while first < packets.count {
            let n = min(Self.lanes, packets.count - first)
            let irregular = symbolsOfLanes(packets, first, n, scratch, keys, lanes: Self.lanes)
            let r = walkLanes(keys)
            withUnsafeBytes(of: r) { rs in
                for l in 0..<n {
                    let rule = rs.load(fromByteOffset: MemoryLayout<Int>.stride * l, as: Int.self)
                    results[first + l] = rule < demux.count ? (demuxIDs ? demux[rule] : rule) : -1
                }
            }
            if irregular != 0 {
                for l in 0..<n where irregular >> l & 1 != 0 {
                    let rule = fallback.matchRule(packets[first + l], excluding: nil)
                    results[first + l] = demuxIDs && rule >= 0 ? demux[rule] : rule
                }
            }
            first += n
        }
    }

    /// Lane l's packet (`packets[first + l]`, the last repeated past `n`) as
    /// `base[l]`, `counts[l]`: what the extraction reads.
    @inlinable @inline(__always)
    func setLanes(_ packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, _ first: Int, _ n: Int,
                  _ base: UnsafeMutablePointer<UnsafeRawPointer?>, _ counts: UnsafeMutablePointer<Int>, lanes: Int) {
        let from = packets.baseAddress.unsafelyUnwrapped + first
        if n == lanes {
            for l in 0..<lanes { base[l] = from[l].baseAddress; counts[l] = from[l].count }
            return
        }
        for l in 0..<lanes {
            let p = from[Swift.min(l, n &- 1)]
            base[l] = p.baseAddress
            counts[l] = p.count
        }
    }

    /// The length a one-byte length field's value `v` gives, from its
    /// position word `d` (mask, addend, shift, multiplier); 0: not walkable.
    @inlinable @inline(__always)
    static func fieldLength(_ d: UInt64, _ v: UInt64) -> Int {
        Int(truncatingIfNeeded: (((v & ((d >> 32) & 0xFF)) &+ ((d >> 54) & 0xFF)) >> ((d >> 40) & 0x3F)) &* ((d >> 46) & 0xFF))
    }

    /// Eight key entries: the bytes at `p + o`, widened to symbols.
    @inlinable @inline(__always)
    static func storeChunk(_ k: UnsafeMutablePointer<UInt16>, _ p: UnsafeRawPointer, _ o: Int) {
        let v = p.loadUnaligned(fromByteOffset: o, as: SIMD8<UInt8>.self)
        UnsafeMutableRawPointer(k).storeBytes(of: SIMD8<UInt16>(truncatingIfNeeded: v), as: SIMD8<UInt16>.self)
    }

    /// Eight key entries of a dead header (symbol 256).
    @inlinable @inline(__always)
    static func storeAbsent(_ k: UnsafeMutablePointer<UInt16>) {
        UnsafeMutableRawPointer(k).storeBytes(of: SIMD8<UInt16>(repeating: 256), as: SIMD8<UInt16>.self)
    }

    /// Where guard word `g`'s byte lies in lane l (its ancestor's start in `spans`, plus its offset).
    @inlinable @inline(__always)
    static func guardOffset(_ g: UInt64, _ spans: UnsafeMutablePointer<Int32>, lanes: Int, lane l: Int) -> Int {
        Int(spans[2 &* lanes &* Int(truncatingIfNeeded: (g >> 32) & 0xFFFF) &+ 2 &* l]) &+ Int(truncatingIfNeeded: (g >> 8) & 0xFFFF)
    }

    /// The keys, one symbol (0…256) per key entry, of `lanes` packets
    /// (`packets[first...]`, the last repeated when fewer than `lanes`
    /// remain; lane l's key at `keys + l * keyStride`), header position by
    /// header position and chunk by chunk, so each description is decoded
    /// once for all lanes and the lanes' loads overlap; the mask of lanes
    /// that are not regular (their keys all zeros). `scratch`: lanes ×
    /// (positions + 2) + 1 + 13 × positions + 8 words (with more than one lane).
    @inlinable @inline(__always)
    func symbolsOfLanes(_ packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, _ first: Int, _ n: Int,
                        _ scratch: UnsafeMutablePointer<UInt64>, _ keys: UnsafeMutablePointer<UInt16>, lanes: Int) -> Int {
        let slots = Swift.max(1, self.slots)
        let base = UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: UnsafeRawPointer?.self)
        let counts = UnsafeMutableRawPointer(scratch + lanes).assumingMemoryBound(to: Int.self)
        let spans = UnsafeMutableRawPointer(scratch + 2 &* lanes).assumingMemoryBound(to: Int32.self)   // [position][lane]: start, end
        setLanes(packets, first, n, base, counts, lanes: lanes)
        if lanes > 1 {
            // Without guards first (the same answers: a guard only kills headers no matching rule
            // can use), then with them, which line up more traffic but cost more.
            let checks = scratch + (lanes &* (headers.count &+ 2) &+ 1)
            // An earlier group of this burst may have left a plan that fits this one too.
            let plan = checks + 13 &* headers.count
            if first == 0 { plan[0] = 0 }
            if plan[0] != 0 && sameShapeAgain(lanes, base, counts, spans, checks, keys) { return 0 }
            if keysOfSameShape(lanes, base, counts, spans, checks, keys, guarded: false)
                || (anyGuards && keysOfSameShape(lanes, base, counts, spans, checks, keys, guarded: true)) { return 0 }
        }
        var irregular = 0
        let words = positionWords.baseAddress.unsafelyUnwrapped, guards = positionGuards.baseAddress.unsafelyUnwrapped
        // Guards matter only to packets too short for a header: elsewhere a
        // header they would kill reads bytes no matching rule uses.
        /// Whether guard `g` leaves its position dead in lane l (its byte is there and holds another value).
        @inline(__always) func guardFails(_ g: UInt64, _ l: Int) -> Bool {
            guard g != 0 else { return false }
            let at = Self.guardOffset(g, spans, lanes: lanes, lane: l)
            return at < counts[l] && base[l].unsafelyUnwrapped.load(fromByteOffset: at, as: UInt8.self) != UInt8(truncatingIfNeeded: g)
        }
        for k in 0..<headers.count {
            let a = words[2 &* k], d = words[2 &* k &+ 1]
            let g0 = guards[2 &* k], g1 = guards[2 &* k &+ 1]
            let par = Int(truncatingIfNeeded: Int32(truncatingIfNeeded: a)), need = Int(truncatingIfNeeded: (a >> 32) & 0xFFFF)
            let row = spans + 2 &* lanes &* k, parentRow = spans + 2 &* lanes &* Swift.max(0, par)
            let fixed = Int(truncatingIfNeeded: d & 0xFFFF)
            if fixed != 0 || d >> 63 != 0 {
                for l in 0..<lanes {
                    let start = par < 0 ? 0 : Int(parentRow[2 &* l &+ 1])
                    var end = start < 0 ? -1 : fixed != 0 ? start &+ fixed
                        : headers.end(k, UnsafeRawBufferPointer(start: base[l], count: counts[l]), start)
                    if end >= 0 && counts[l] &- start < need {
                        // Too short for the bytes its rules read: dead if its guards fail, else not regular.
                        if guardFails(g0, l) || guardFails(g1, l) { end = -1 } else { irregular |= 1 << l }
                    }
                    row[2 &* l] = Int32(truncatingIfNeeded: end < 0 ? -1 : start)
                    row[2 &* l &+ 1] = Int32(truncatingIfNeeded: end)
                }
            } else {
                // A one-byte length field (IPv4 IHL, TCP data offset, extension lengths).
                let at = Int(truncatingIfNeeded: (d >> 16) & 0xFFFF)
                for l in 0..<lanes {
                    let start = par < 0 ? 0 : Int(parentRow[2 &* l &+ 1])
                    var end = -1
                    if start >= 0 && start &+ at < counts[l] {
                        let len = Self.fieldLength(d, UInt64(base[l].unsafelyUnwrapped.load(fromByteOffset: start &+ at, as: UInt8.self)))
                        end = len > 0 ? start &+ len : -1
                    }
                    if end >= 0 && counts[l] &- start < need {
                        // Too short for the bytes its rules read: dead if its guards fail, else not regular.
                        if guardFails(g0, l) || guardFails(g1, l) { end = -1 } else { irregular |= 1 << l }
                    }
                    row[2 &* l] = Int32(truncatingIfNeeded: end < 0 ? -1 : start)
                    row[2 &* l &+ 1] = Int32(truncatingIfNeeded: end)
                }
            }
        }
        let chunks = self.chunks.baseAddress.unsafelyUnwrapped
        for r in 0..<self.chunks.count {
            let d = chunks[r]
            let pos = Int(truncatingIfNeeded: d & 0xFFFF), off = Int(truncatingIfNeeded: (d >> 16) & 0xFFFF)
            let width = Int(truncatingIfNeeded: (d >> 32) & 0xFFFF), at = Int(truncatingIfNeeded: d >> 48)
            let row = spans + 2 &* lanes &* pos
            for l in 0..<lanes {
                let k = keys + (l &* Self.keyStride &+ at)
                let b = Int(row[2 &* l])
                if b >= 0 && b &+ off &+ 8 <= counts[l] {
                    // Live and inside the packet (bytes past the width are never read by a node).
                    Self.storeChunk(k, base[l].unsafelyUnwrapped, b &+ off)
                } else if b >= 0 && irregular >> l & 1 == 0 {
                    // Live and regular: the width it tests is inside the packet.
                    for j in 0..<width { k[j] = UInt16(base[l].unsafelyUnwrapped.load(fromByteOffset: b &+ off &+ j, as: UInt8.self)) }
                } else {
                    Self.storeAbsent(k)
                }
            }
        }
        let live = liveSlots.baseAddress.unsafelyUnwrapped
        for i in 0..<liveSlots.count {
            let d = live[i]
            let at = Int(truncatingIfNeeded: d & 0xFFFF), row = spans + 2 &* lanes &* Int(truncatingIfNeeded: (d >> 16) & 0xFFFF)
            for l in 0..<lanes { keys[l &* Self.keyStride &+ at] = row[2 &* l] >= 0 ? 1 : 0 }
        }
        if irregular != 0 {
            for l in 0..<lanes where irregular >> l & 1 != 0 { for s in 0..<slots { keys[l &* Self.keyStride &+ s] = 0 } }
        }
        return irregular
    }

    /// The fast path of `symbolsOfLanes`: when every lane's headers start
    /// where lane 0's do (the one-byte length fields of headers that others
    /// follow hold lane 0's values under their masks) and every lane holds
    /// every byte its live headers' rules read, each chunk is at one offset
    /// in every packet: a load at a constant offset per lane, no span per
    /// lane. A header nothing follows may be live in some lanes and dead in
    /// others (TCP's data offset read in a UDP packet): one bit per lane.
    /// The usual case (a burst of one kind of traffic). `guarded`: headers
    /// whose guards fail (`positionGuards`) are dead — in every lane for a
    /// followed header, lane by lane for one nothing follows. False when a
    /// lane's headers start elsewhere, a lane is not regular, or a header's
    /// length is not a one-byte field (the general path then rewrites
    /// everything).
    /// `checks`: 13 × positions + 8 words (the last eight: the plan `sameShapeAgain` reuses).
    @inlinable @inline(__always)
    func keysOfSameShape(_ lanes: Int, _ base: UnsafeMutablePointer<UnsafeRawPointer?>, _ counts: UnsafeMutablePointer<Int>,
                         _ spans: UnsafeMutablePointer<Int32>, _ checks: UnsafeMutablePointer<UInt64>,
                         _ keys: UnsafeMutablePointer<UInt16>, guarded: Bool) -> Bool {
        let words = positionWords.baseAddress.unsafelyUnwrapped
        let positions = headers.count
        checks[13 &* positions] = 0   // no plan until this one is complete
        let dead = checks + positions   // per position, the lanes where it is dead
        let guardChecks = checks + 2 &* positions   // guard bytes compared in every lane: at | value << 32 | (1 if it held) << 40
        let guards = positionGuards.baseAddress.unsafelyUnwrapped
        var guardCount = 0
        let p0 = base[0].unsafelyUnwrapped, count0 = counts[0]
        let allLanes = lanes >= 64 ? UInt64.max : (1 << UInt64(lanes)) &- 1
        // `checks`: length bytes every lane must match from the front, headers live lane by lane from the back.
        var limit = 0, ceiling = Int.max, checkCount = 0, leafCount = 0
        // Lane 0's spans (`spans[2 * lanes * k]`: start, end), what every
        // lane must hold, and the length bytes to compare or decode per lane.
        for k in 0..<positions {
            let a = words[2 &* k], d = words[2 &* k &+ 1]
            let par = Int(truncatingIfNeeded: Int32(truncatingIfNeeded: a)), need = Int(truncatingIfNeeded: (a >> 32) & 0xFFFF)
            let followed = a >> 63 != 0
            let from = par < 0 ? 0 : Int(spans[2 &* lanes &* par &+ 1])   // the parent's end (followed: the same in every lane)
            let fixed = Int(truncatingIfNeeded: d & 0xFFFF)
            var end = -1
            dead[k] = 0
            // Guards: a byte another guard already compared in every lane
            // is known; the others are compared in every lane (a followed
            // header: its children must start alike) or decide lane by lane
            // (a header nothing follows).
            var guardsPerLane = false
            if guarded && from >= 0 && guards[2 &* k] != 0 {
                var held = true
                for gi in 0..<2 where guards[2 &* k &+ gi] != 0 {
                    let g = guards[2 &* k &+ gi]
                    let at = Self.guardOffset(g, spans, lanes: lanes, lane: 0)
                    guard at < count0 else { return false }
                    let key = UInt64(at) | (g & 0xFF) << 32
                    var known = -1
                    for j in 0..<guardCount where guardChecks[j] & 0xFF_FFFF_FFFF == key { known = Int(truncatingIfNeeded: guardChecks[j] >> 40) }
                    if known < 0 && !followed { guardsPerLane = true; continue }
                    if known < 0 {
                        let holds = p0.load(fromByteOffset: at, as: UInt8.self) == UInt8(truncatingIfNeeded: g)
                        known = holds ? 1 : 0
                        guardChecks[guardCount] = key | UInt64(known) << 40
                        guardCount &+= 1
                        limit = Swift.max(limit, at &+ 1)
                    }
                    held = held && known == 1
                }
                if !held {
                    dead[k] = allLanes
                    spans[2 &* lanes &* k] = -1
                    spans[2 &* lanes &* k &+ 1] = -1
                    continue
                }
            }
            if from >= 0 && !followed && d >> 63 == 0 && (fixed == 0 || guardsPerLane) {
                // A header nothing follows, with a length field or guards of
                // its own: live or dead lane by lane; lanes live here must
                // hold `need` bytes.
                leafCount &+= 1
                checks[positions &- leafCount] = UInt64(from) | UInt64(k) << 48 | (guardsPerLane ? 1 << 47 : 0)
                spans[2 &* lanes &* k] = Int32(truncatingIfNeeded: from)
                spans[2 &* lanes &* k &+ 1] = 0
                continue
            }
            if from >= 0 {
                if fixed != 0 {
                    end = from &+ fixed
                } else if d >> 63 != 0 {
                    return false   // a length only `headers.end` reads
                } else {
                    let at = from &+ Int(truncatingIfNeeded: (d >> 16) & 0xFFFF)
                    if at >= count0 {
                        // Past lane 0's end: dead, as in every lane no longer.
                        ceiling = Swift.min(ceiling, at)
                    } else {
                        let mask = (d >> 32) & 0xFF, v = UInt64(p0.load(fromByteOffset: at, as: UInt8.self)) & mask
                        let len = Self.fieldLength(d, v)
                        end = len > 0 ? from &+ len : -1
                        checks[checkCount] = UInt64(at) | mask << 32 | v << 40
                        checkCount &+= 1
                        limit = Swift.max(limit, at &+ 1)
                    }
                }
            }
            if end >= 0 {
                guard count0 &- from >= need else { return false }
                limit = Swift.max(limit, from &+ need)
            } else {
                dead[k] = allLanes
            }
            spans[2 &* lanes &* k] = Int32(truncatingIfNeeded: end < 0 ? -1 : from)
            spans[2 &* lanes &* k &+ 1] = Int32(truncatingIfNeeded: end)
        }
        var shortest = Int.max, outside = false
        for l in 0..<lanes {
            let count = counts[l]
            outside = outside || count < limit || count > ceiling
            shortest = Swift.min(shortest, count)
        }
        if outside { return false }
        // The bytes every lane must hold as lane 0 does (length fields under
        // their masks, guards that held), eight at a time where every packet
        // is long enough: a window is an offset, a mask and a value. The
        // rest are compared byte by byte (kept at the front of their lists).
        let windows = checks + 4 &* positions
        var windowCount = 0, windowEnd = 0
        @inline(__always) func windowed(_ at: Int, _ mask: UInt8, _ v: UInt8) -> Bool {
            for j in 0..<windowCount {
                let w = Int(truncatingIfNeeded: windows[3 &* j])
                if at >= w && at < w &+ 8 {
                    let shift = UInt64(truncatingIfNeeded: (at &- w) &* 8)
                    windows[3 &* j &+ 1] |= UInt64(mask) << shift
                    windows[3 &* j &+ 2] |= UInt64(v & mask) << shift
                    return true
                }
            }
            let w = Swift.max(0, at &- 4)   // room for neighbours on both sides
            guard w &+ 8 <= shortest else { return false }
            let shift = UInt64(truncatingIfNeeded: (at &- w) &* 8)
            windows[3 &* windowCount] = UInt64(w)
            windows[3 &* windowCount &+ 1] = UInt64(mask) << shift
            windows[3 &* windowCount &+ 2] = UInt64(v & mask) << shift
            windowCount &+= 1
            windowEnd = Swift.max(windowEnd, w &+ 8)
            return true
        }
        var guardBytes = 0
        for i in 0..<guardCount {
            let c = guardChecks[i]
            let at = Int(truncatingIfNeeded: c & 0xFFFF_FFFF), v = UInt8(truncatingIfNeeded: c >> 32), held = c >> 40 != 0
            if held && windowed(at, 0xFF, v) { continue }
            // A guard that failed in lane 0 (or a byte too near the end): lane by lane.
            guardChecks[guardBytes] = c
            guardBytes &+= 1
        }
        var lengthBytes = 0
        for i in 0..<checkCount {
            let c = checks[i]
            let at = Int(truncatingIfNeeded: c & 0xFFFF_FFFF), mask = UInt8(truncatingIfNeeded: c >> 32), v = UInt8(truncatingIfNeeded: c >> 40)
            if windowed(at, mask, v) { continue }
            checks[lengthBytes] = c
            lengthBytes &+= 1
        }
        // The plan, for the next groups of the burst (`sameShapeAgain`).
        let plan = checks + 13 &* positions
        plan[0] = guarded ? 2 : 1
        plan[1] = UInt64(limit); plan[2] = UInt64(bitPattern: Int64(ceiling))
        plan[3] = UInt64(windowEnd); plan[4] = UInt64(windowCount)
        plan[5] = UInt64(lengthBytes); plan[6] = UInt64(guardBytes); plan[7] = UInt64(leafCount)
        if keysAsPlanned(lanes, base, counts, spans, checks, keys, shortest: shortest) { return true }
        plan[0] = 0
        return false
    }

    /// The same-shape path for a group after the first of its burst: when
    /// the plan an earlier group left (`keysOfSameShape`: lane 0's spans,
    /// the bytes every lane must hold as it did, which headers are dead)
    /// holds for every lane of this one, the keys without planning again.
    @inlinable @inline(__always)
    func sameShapeAgain(_ lanes: Int, _ base: UnsafeMutablePointer<UnsafeRawPointer?>, _ counts: UnsafeMutablePointer<Int>,
                        _ spans: UnsafeMutablePointer<Int32>, _ checks: UnsafeMutablePointer<UInt64>,
                        _ keys: UnsafeMutablePointer<UInt16>) -> Bool {
        let plan = checks + 13 &* headers.count
        let limit = Int(truncatingIfNeeded: plan[1]), ceiling = Int(truncatingIfNeeded: plan[2]), windowEnd = Int(truncatingIfNeeded: plan[3])
        var shortest = Int.max, outside = false
        for l in 0..<lanes {
            let count = counts[l]
            outside = outside || count < limit || count > ceiling
            shortest = Swift.min(shortest, count)
        }
        return !outside && shortest >= windowEnd && keysAsPlanned(lanes, base, counts, spans, checks, keys, shortest: shortest)
    }

    /// The second half of the same-shape path: every lane holds the bytes
    /// the plan names as lane 0 did (windows, then single bytes), headers
    /// nothing follows live or dead lane by lane, then the chunks at one
    /// offset per lane. `shortest`: the shortest lane (at least the plan's
    /// `windowEnd`).
    @inlinable @inline(__always)
    func keysAsPlanned(_ lanes: Int, _ base: UnsafeMutablePointer<UnsafeRawPointer?>, _ counts: UnsafeMutablePointer<Int>,
                       _ spans: UnsafeMutablePointer<Int32>, _ checks: UnsafeMutablePointer<UInt64>,
                       _ keys: UnsafeMutablePointer<UInt16>, shortest: Int) -> Bool {
        let words = positionWords.baseAddress.unsafelyUnwrapped
        let guards = positionGuards.baseAddress.unsafelyUnwrapped
        let positions = headers.count
        let dead = checks + positions, guardChecks = checks + 2 &* positions, windows = checks + 4 &* positions
        let plan = checks + 13 &* positions
        let windowCount = Int(truncatingIfNeeded: plan[4]), lengthBytes = Int(truncatingIfNeeded: plan[5])
        let guardBytes = Int(truncatingIfNeeded: plan[6]), leafCount = Int(truncatingIfNeeded: plan[7])
        for j in 0..<windowCount {
            let w = Int(truncatingIfNeeded: windows[3 &* j]), mask = windows[3 &* j &+ 1], v = windows[3 &* j &+ 2]
            var differ: UInt64 = 0
            for l in 0..<lanes { differ |= (base[l].unsafelyUnwrapped.loadUnaligned(fromByteOffset: w, as: UInt64.self) & mask) ^ v }
            if differ != 0 { return false }
        }
        for i in 0..<guardBytes {
            let c = guardChecks[i]
            let at = Int(truncatingIfNeeded: c & 0xFFFF_FFFF), v = UInt8(truncatingIfNeeded: c >> 32), held = c >> 40 != 0
            var differ = false
            for l in 0..<lanes { differ = differ || (base[l].unsafelyUnwrapped.load(fromByteOffset: at, as: UInt8.self) == v) != held }
            if differ { return false }
        }
        for i in 0..<lengthBytes {
            let c = checks[i]
            let at = Int(truncatingIfNeeded: c & 0xFFFF_FFFF), mask = UInt8(truncatingIfNeeded: c >> 32), v = UInt8(truncatingIfNeeded: c >> 40)
            var differ: UInt8 = 0
            for l in 0..<lanes { differ |= (base[l].unsafelyUnwrapped.load(fromByteOffset: at, as: UInt8.self) & mask) ^ v }
            if differ != 0 { return false }
        }
        for i in 0..<leafCount {
            // A header nothing follows: its guards and its length decide whether it is live, lane by lane.
            let c = checks[positions &- 1 &- i]
            let k = Int(truncatingIfNeeded: c >> 48), from = Int(truncatingIfNeeded: c & 0xFFFF_FFFF)
            let d = words[2 &* k &+ 1], need = Int(truncatingIfNeeded: (words[2 &* k] >> 32) & 0xFFFF)
            let computed = d & 0xFFFF == 0, guardsPerLane = c >> 47 & 1 != 0
            let at = from &+ Int(truncatingIfNeeded: (d >> 16) & 0xFFFF)
            // Guard bytes lie in ancestors, which start alike in every lane (lane 0's spans) and are held whole.
            let g0 = guardsPerLane ? guards[2 &* k] : 0, g1 = guardsPerLane ? guards[2 &* k &+ 1] : 0
            let at0 = g0 != 0 ? Self.guardOffset(g0, spans, lanes: lanes, lane: 0) : 0
            let at1 = g1 != 0 ? Self.guardOffset(g1, spans, lanes: lanes, lane: 0) : 0
            var deadLanes: UInt64 = 0, short = false
            for l in 0..<lanes {
                let p = base[l].unsafelyUnwrapped
                var live = (g0 == 0 || p.load(fromByteOffset: at0, as: UInt8.self) == UInt8(truncatingIfNeeded: g0))
                    && (g1 == 0 || p.load(fromByteOffset: at1, as: UInt8.self) == UInt8(truncatingIfNeeded: g1))
                if live && computed {
                    live = false
                    if at < counts[l] { live = Self.fieldLength(d, UInt64(p.load(fromByteOffset: at, as: UInt8.self))) > 0 }
                }
                if live { short = short || counts[l] &- from < need } else { deadLanes |= 1 << UInt64(l) }
            }
            if short { return false }
            dead[k] = deadLanes
        }
        // Every lane is regular, its headers where lane 0's are, and at least `shortest` bytes long.
        let chunks = self.chunks.baseAddress.unsafelyUnwrapped
        for r in 0..<self.chunks.count {
            let d = chunks[r]
            let pos = Int(truncatingIfNeeded: d & 0xFFFF)
            let b = Int(spans[2 &* lanes &* pos]), deadLanes = dead[pos]
            let at = Int(truncatingIfNeeded: d >> 48)
            let o = b &+ Int(truncatingIfNeeded: (d >> 16) & 0xFFFF)
            let width = Int(truncatingIfNeeded: (d >> 32) & 0xFFFF)
            let wide = o &+ 8 <= shortest
            if deadLanes == 0 && wide {
                for l in 0..<lanes { Self.storeChunk(keys + (l &* Self.keyStride &+ at), base[l].unsafelyUnwrapped, o) }
                continue
            }
            for l in 0..<lanes {
                let k = keys + (l &* Self.keyStride &+ at)
                if deadLanes >> UInt64(l) & 1 != 0 {
                    Self.storeAbsent(k)
                } else if wide {
                    Self.storeChunk(k, base[l].unsafelyUnwrapped, o)
                } else {
                    // Near a packet's end: the width rules read (inside every live lane's `need`).
                    let p = base[l].unsafelyUnwrapped
                    for j in 0..<width { k[j] = UInt16(p.load(fromByteOffset: o &+ j, as: UInt8.self)) }
                }
            }
        }
        let live = liveSlots.baseAddress.unsafelyUnwrapped
        for i in 0..<liveSlots.count {
            let d = live[i]
            let at = Int(truncatingIfNeeded: d & 0xFFFF), deadLanes = dead[Int(truncatingIfNeeded: (d >> 16) & 0xFFFF)]
            for l in 0..<lanes { keys[l &* Self.keyStride &+ at] = deadLanes >> UInt64(l) & 1 != 0 ? 0 : 1 }
        }
        return true
    }

    /// Whether the first sixteen of `packets` take `keysOfSameShape` (for tests).
    func takesSameShapePath(_ packets: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> Bool {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: scratchWords) { tmp in
            let t = tmp.baseAddress.unsafelyUnwrapped, lanes = Self.lanes
            let keys = UnsafeMutableRawPointer(t).assumingMemoryBound(to: UInt16.self), scratch = t + lanes * Self.keyStride / 4
            let base = UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: UnsafeRawPointer?.self)
            let counts = UnsafeMutableRawPointer(scratch + lanes).assumingMemoryBound(to: Int.self)
            setLanes(packets, 0, packets.count, base, counts, lanes: lanes)
            let spans = UnsafeMutableRawPointer(scratch + 2 * lanes).assumingMemoryBound(to: Int32.self)
            let checks = scratch + (lanes * (headers.count + 2) + 1)
            return keysOfSameShape(lanes, base, counts, spans, checks, keys, guarded: false)
                || (anyGuards && keysOfSameShape(lanes, base, counts, spans, checks, keys, guarded: true))
        }
    }

    /// One step from state `s` (a target: a node, or a leaf, which steps
    /// to itself) on the symbol its level reads: the node's run table, the
    /// symbol's run in it, the target of the run. `rows`: the rows' base.
    @inlinable @inline(__always)
    static func step(_ s: Int, _ symbol: UInt16, _ rows: UnsafeRawPointer) -> Int {
        let table = Int(rows.load(fromByteOffset: s, as: Int32.self))
        let run = Int(rows.load(fromByteOffset: table &+ Int(symbol), as: UInt8.self))
        return Int(rows.load(fromByteOffset: s &+ 4 &+ run &* 4, as: Int32.self))
    }

    /// The rows' base (targets and run tables are byte offsets from it).
    @inlinable @inline(__always)
    var rowsBase: UnsafeRawPointer { UnsafeRawPointer(rows.baseAddress.unsafelyUnwrapped + rowBase) }

    /// The rule index a leaf names (`demux.count`: none).
    @inlinable @inline(__always)
    func rule(_ leaf: Int) -> Int { (leaf >> 3) &+ demux.count &+ 1 }   // inverts `TrieClassifier.leafOffset`

    /// The best rule for one key: trees in priority order, the first leaf
    /// naming a rule wins. -1 for none.
    @inlinable @inline(__always)
    func walk(_ key: UnsafeMutablePointer<UInt16>) -> Int {
        var visited = 0   // unused here: folded away
        return walk(key, visited: &visited)
    }

    /// `walk`, counting the nodes it steps through (passing nodes too).
    @inlinable @inline(__always)
    func walk(_ key: UnsafeMutablePointer<UInt16>, visited: inout Int) -> Int {
        var best = demux.count
        let rows = rowsBase
        for t in 0..<treeRoot.count {
            guard best > treeFirstRule[t], holdsCommon(t, key) else { continue }
            var s = Int(treeRoot[t])
            var j = Int(levelStart[t])
            while s >= 0 {
                s = Self.step(s, key[Int(levels[j])], rows)
                visited &+= 1
                j &+= 1
            }
            best = Swift.min(best, rule(s))
        }
        return best < demux.count ? best : -1
    }

    /// Sixteen lanes of rule indices (`demux.count`: none).
    public typealias Leaves = (Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int)
    /// Lanes a burst walk advances together.
    public static let lanes = 16

    /// `walk` for sixteen keys at once, the lanes in registers, level by
    /// level: at a level every lane reads the same key entry, so its
    /// symbol's load waits for nothing, and the loads of one lane's step
    /// overlap the others'. Every lane steps at every level (one at a leaf
    /// steps in place: no test per level, no branch per lane); a tree no
    /// lane enters is not walked.
    @inlinable @inline(__always)
    func walkLanes(_ keys: UnsafeMutablePointer<UInt16>) -> Leaves {
        let none = demux.count
        let rows = rowsBase, stride = Self.keyStride
        var r0 = none, r1 = none, r2 = none, r3 = none, r4 = none, r5 = none, r6 = none, r7 = none, r8 = none, r9 = none, r10 = none, r11 = none, r12 = none, r13 = none, r14 = none, r15 = none
        let skip = TrieClassifier.leafOffset(none, rules: none)   // the leaf "no rule": where a lane that skips a tree waits
        for t in 0..<treeRoot.count {
            let root = Int(treeRoot[t]), first = treeFirstRule[t]
            // Lanes enter this tree if they hold no better rule yet and its
            // common tests hold; with a pair table, two levels down.
            let pair = Int(treePair[2 &* t]), rootTable = rows.assumingMemoryBound(to: UInt8.self) + Int(treePair[2 &* t &+ 1])
            let pairTable = pairs.baseAddress.unsafelyUnwrapped + Swift.max(0, pair)
            var level = Int(levelStart[t])
            let end = Int(levelStart[t &+ 1])
            // (A pair table means two levels at least.)
            let e0 = pair >= 0 ? Int(levels[level]) : 0, e1 = pair >= 0 ? Int(levels[level &+ 1]) : 0
            if pair >= 0 { level &+= 2 }
            @inline(__always) func enter(_ l: Int, _ r: Int) -> Int {
                let k = keys + l &* stride
                guard r > first && holdsCommon(t, k) else { return skip }
                guard pair >= 0 else { return root }
                return Int(pairTable[Int(rootTable[Int(k[e0])]) &* 257 &+ Int(k[e1])])
            }
            var s0 = enter(0, r0), s1 = enter(1, r1), s2 = enter(2, r2), s3 = enter(3, r3)
            var s4 = enter(4, r4), s5 = enter(5, r5), s6 = enter(6, r6), s7 = enter(7, r7)
            var s8 = enter(8, r8), s9 = enter(9, r9), s10 = enter(10, r10), s11 = enter(11, r11)
            var s12 = enter(12, r12), s13 = enter(13, r13), s14 = enter(14, r14), s15 = enter(15, r15)
            if (s0 & s1 & s2 & s3 & s4 & s5 & s6 & s7 & s8 & s9 & s10 & s11 & s12 & s13 & s14 & s15) < 0 { level = end }
            while level < end {
                let k = keys + Int(levels[level])
                s0 = Self.step(s0, k[0 &* stride], rows); s1 = Self.step(s1, k[1 &* stride], rows)
                s2 = Self.step(s2, k[2 &* stride], rows); s3 = Self.step(s3, k[3 &* stride], rows)
                s4 = Self.step(s4, k[4 &* stride], rows); s5 = Self.step(s5, k[5 &* stride], rows)
                s6 = Self.step(s6, k[6 &* stride], rows); s7 = Self.step(s7, k[7 &* stride], rows)
                s8 = Self.step(s8, k[8 &* stride], rows); s9 = Self.step(s9, k[9 &* stride], rows)
                s10 = Self.step(s10, k[10 &* stride], rows); s11 = Self.step(s11, k[11 &* stride], rows)
                s12 = Self.step(s12, k[12 &* stride], rows); s13 = Self.step(s13, k[13 &* stride], rows)
                s14 = Self.step(s14, k[14 &* stride], rows); s15 = Self.step(s15, k[15 &* stride], rows)
                level &+= 1
            }
            r0 = Swift.min(r0, rule(s0)); r1 = Swift.min(r1, rule(s1)); r2 = Swift.min(r2, rule(s2)); r3 = Swift.min(r3, rule(s3))
            r4 = Swift.min(r4, rule(s4)); r5 = Swift.min(r5, rule(s5)); r6 = Swift.min(r6, rule(s6)); r7 = Swift.min(r7, rule(s7))
            r8 = Swift.min(r8, rule(s8)); r9 = Swift.min(r9, rule(s9)); r10 = Swift.min(r10, rule(s10)); r11 = Swift.min(r11, rule(s11))
            r12 = Swift.min(r12, rule(s12)); r13 = Swift.min(r13, rule(s13)); r14 = Swift.min(r14, rule(s14)); r15 = Swift.min(r15, rule(s15))
        }
        return (r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13, r14, r15)
    }

    /// Benchmark aid: extracts the keys of a burst only (no walk), to tell
    /// the two halves of a lookup apart; returns a checksum.
    public func extractOnly(burst packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, scratch tmp: UnsafeMutablePointer<UInt64>) -> UInt64 {
        let keys = UnsafeMutableRawPointer(tmp).assumingMemoryBound(to: UInt16.self), scratch = tmp + Self.lanes * Self.keyStride / 4
        var sum: UInt64 = 0
        var first = 0
        while first < packets.count {
            let n = min(Self.lanes, packets.count - first)
            sum &+= UInt64(symbolsOfLanes(packets, first, n, scratch, keys, lanes: Self.lanes))
            if slots > 0 { sum &+= UInt64(keys[0]) &+ UInt64(keys[slots - 1]) }
            first += n
        }
        return sum
    }

    /// Whether the tree answers `p` (else the bit-vector tables do): every
    /// header position is dead or holds every byte rules read from it.
    public func isRegular(_ p: UnsafeRawBufferPointer) -> Bool {
        withKey(of: p) { _, regular in regular }
    }

    /// Nodes a lookup of `p` visits (for the benchmark's report).
    public func nodesVisited(_ p: UnsafeRawBufferPointer) -> Int {
        withKey(of: p) { key, regular in
            var visited = 0
            if regular { _ = walk(key, visited: &visited) }
            return visited
        }
    }

    /// The key holds tree t's common slot tests.
    @inlinable @inline(__always)
    func holdsCommon(_ t: Int, _ key: UnsafeMutablePointer<UInt16>) -> Bool {
        let words = Int(commonExact[2 &* t &+ 1])
        if words >= 0 {
            let w = commonWords.baseAddress.unsafelyUnwrapped + 3 &* Int(commonExact[2 &* t])
            var differ: UInt64 = 0
            for i in 0..<words {
                let v = UnsafeRawPointer(key + Int(w[3 &* i])).loadUnaligned(as: UInt64.self)
                differ |= (v & w[3 &* i &+ 1]) ^ w[3 &* i &+ 2]
            }
            return differ == 0
        }
        var ok: UInt64 = 1
        for i in Int(commonStart[t])..<Int(commonStart[t + 1]) {
            let sym = Int(key[Int(commonSlot[i])])
            ok &= commonSet[i * 5 + sym >> 6] >> UInt64(sym & 63)
        }
        return ok & 1 != 0
    }

}
