import BowmanCore

// Build (cold): one levelled tree over a subset of the rules, and the run
// tables its nodes share. Runs on the management core; allocates.

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
