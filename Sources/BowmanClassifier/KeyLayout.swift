import BowmanCore

// Build (cold): where each rule's bytes sit on the key and the symbol sets
// it places on them. Runs on the management core; allocates.

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
