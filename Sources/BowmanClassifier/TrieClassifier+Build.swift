import BowmanCore

// Build (cold): runs on the management core when rules change; allocates.
// Lays the rules out on the key (KeyLayout), builds the trees (TreeBuilder),
// and packs every table into one TableStorage the View points into.

extension TrieClassifier {
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
}
