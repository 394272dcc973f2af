import Synchronization

/// IPv4 longest-prefix match in a few tens of megabytes: a 2^16-entry
/// root (256 KiB), then, for every /16 that holds longer prefixes, a node
/// for the next 8 bits, and below a /24 that holds longer prefixes still, a
/// node for the last 8 (DIR-16-8-8). A node is either direct, 256 entries
/// (one load a level), or mapped: a byte map (256 slot -> index bytes)
/// followed by the node's distinct entries, so the 256 /24s of a /16
/// announced whole cost one entry, not 256 (two dependent loads a level).
/// Nodes with more than `directAbove` distinct entries are direct; the
/// default, 0, makes every node direct: on the full Internet table
/// (901,899 prefixes) that is 27 MB against 11 MB all mapped, and 1.2–1.5 ×
/// faster in alternated passes (`lpm-bench --ab`), where a mix of the two
/// forms lost what it saved to the branch between them. A DIR-24-8 table
/// (rte_lpm, `StrideTable`) touches 64 MiB of root. A lookup is at most
/// three dependent loads.
///
/// An entry is one 32-bit word, as in `StrideTable`:
///
///     bit 31 = 0:  next hop + 1              (0: no route)
///     bit 31 = 1:  a node: bit 30 set for a direct node (256 entries),
///                  clear for a mapped one (byte map, then entries);
///                  bits 0-29 its word offset in the arena
///
/// Nodes are never changed once published. An update rebuilds the nodes of
/// the /16s it touches into fresh arena words, then publishes each with one
/// atomic store into the root; a lookup at the same time sees the /16
/// before or after, never in between. Replaced nodes are retired and reused
/// only after `recycleRetired()`, which the owner calls once every worker
/// has passed a quiescent point. An update that does not fit in the arena
/// is refused and changes nothing (all new nodes are built before the first
/// is published).
///
/// Lookups allocate nothing, take no lock and retain nothing.
public final class CompactTable: @unchecked Sendable {
    public static let maxNextHop = (1 << 23) - 2
    @usableFromInline static let node: UInt32 = 1 << 31
    @usableFromInline static let direct: UInt32 = 1 << 30
    @usableFromInline static let offsetMask: UInt32 = (1 << 30) - 1
    @usableFromInline static let mapWords = 64          // 256 index bytes
    /// Node sizes are multiples of this many words (one cache line).
    static let sizeUnit = 16

    @usableFromInline let root: UnsafeMutablePointer<Atomic<UInt32>>   // 2^16
    @usableFromInline let arena: UnsafeMutablePointer<UInt32>
    public let arenaWords: Int
    var bump = 0
    /// Free blocks by size in units of `sizeUnit` words.
    var free: [[Int]] = Array(repeating: [], count: 32)
    var retired: [(offset: Int, units: Int)] = []
    public private(set) var wordsInUse = 0
    public private(set) var nodeCount = 0
    /// Of `nodeCount`, the direct ones.
    public private(set) var directNodeCount = 0

    /// Routes of /0 to /16 by length (masked address -> next hop), and the
    /// longer ones by the /16 they lie in (length << 32 | address -> next hop).
    var short: [[UInt32: Int]] = Array(repeating: [:], count: 17)
    /// Per /16: the entry of the longest route of /16 or shorter covering it.
    var cover = [UInt32](repeating: 0, count: 1 << 16)
    var deep: [UInt16: [UInt64: Int]] = [:]
    public private(set) var ruleCount = 0

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case lengthOutOfRange(Int)
        case nextHopOutOfRange(Int)
        case outOfMemory(words: Int)
        public var description: String {
            switch self {
            case .lengthOutOfRange(let l): "prefix length \(l) is not in 0...32"
            case .nextHopOutOfRange(let n): "next hop \(n) is not in 0...\(CompactTable.maxNextHop)"
            case .outOfMemory(let w): "the table's \(w) words of nodes are all in use (make it with more)"
            }
        }
    }

    /// One change of a batch.
    public enum Change: Sendable, Equatable {
        case add(address: UInt32, length: Int, nextHop: Int)
        case delete(address: UInt32, length: Int)
    }

    /// Nodes with more distinct entries than this are direct: 0 (the
    /// default) every node, 192 where a direct node is no larger than the
    /// mapped one (64 + 192 words = 256), 256 none.
    public let directAbove: Int

    /// `arenaWords`: room for nodes (address space; pages are touched when
    /// first used). The full Internet table needs about 6.7 M words (2.8 M
    /// all mapped).
    public init(arenaWords: Int = 1 << 24, directAbove: Int = 0) {
        self.arenaWords = arenaWords
        self.directAbove = directAbove
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 4 << 16, alignment: 64)
        raw.initializeMemory(as: UInt32.self, repeating: 0, count: 1 << 16)
        root = raw.bindMemory(to: Atomic<UInt32>.self, capacity: 1 << 16)
        arena = UnsafeMutableRawPointer.allocate(byteCount: arenaWords * 4, alignment: 64)
            .bindMemory(to: UInt32.self, capacity: arenaWords)
    }

    deinit {
        root.deallocate()
        arena.deallocate()
    }

    /// Bytes of entries in use: the root and the live nodes.
    public var tableBytes: Int { (4 << 16) + wordsInUse * 4 }

    // MARK: Lookup (hot)

    @inlinable static func value(_ e: UInt32) -> Int { Int(e) &- 1 }

    /// The entry node `n` holds for slot `i`.
    @inlinable func step(_ e: UInt32, _ i: UInt32) -> UInt32 {
        let base = arena + Int(e & Self.offsetMask)
        if e & Self.direct != 0 { return base[Int(i & 0xFF)] }
        let index = UnsafeRawPointer(base).load(fromByteOffset: Int(i & 0xFF), as: UInt8.self)
        return base[Self.mapWords &+ Int(index)]
    }

    /// The next hop of the longest prefix holding `a` (host order), or -1.
    @inlinable public func lookup(_ a: UInt32) -> Int {
        var e = root[Int(a >> 16)].load(ordering: .acquiring)
        if e & Self.node != 0 {
            e = step(e, a >> 8)
            if e & Self.node != 0 { e = step(e, a) }
        }
        return Self.value(e)
    }

    /// A burst of addresses (host order): `out[i]` is the next hop or -1.
    /// The root entries of the whole burst are loaded first (independent
    /// loads the CPU overlaps), then each lane's nodes.
    @inlinable public func lookup(_ addresses: UnsafeBufferPointer<UInt32>, into out: UnsafeMutablePointer<Int>) {
        let n = addresses.count
        var i = 0
        while i < n {
            out[i] = Int(root[Int(addresses[i] >> 16)].load(ordering: .acquiring))
            i &+= 1
        }
        i = 0
        while i < n {
            var e = UInt32(truncatingIfNeeded: out[i])
            if e & Self.node != 0 {
                let a = addresses[i]
                e = step(e, a >> 8)
                if e & Self.node != 0 { e = step(e, a) }
            }
            out[i] = Self.value(e)
            i &+= 1
        }
    }

    // MARK: Updates (management core)

    static func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : ~0 << UInt32(32 - length) }

    /// Adds (or replaces) `address/length -> nextHop`; returns the next hop it replaced.
    @discardableResult
    public func insert(_ address: UInt32, length: Int, nextHop: Int) throws(Failure) -> Int? {
        let old = route(address, length: length)
        try apply([.add(address: address, length: length, nextHop: nextHop)])
        return old
    }

    /// Removes `address/length`; its addresses fall back to the covering
    /// route. Returns the next hop it had (nil: there was no such route). A
    /// delete rebuilds the /16's nodes too, so it can be refused when the
    /// arena is full (the nodes it replaces are only retired).
    @discardableResult
    public func remove(_ address: UInt32, length: Int) throws(Failure) -> Int? {
        guard let old = route(address, length: length) else { return nil }
        try apply([.delete(address: address, length: length)])
        return old
    }

    /// The next hop of exactly `address/length`, if that route exists.
    public func route(_ address: UInt32, length: Int) -> Int? {
        guard (0...32).contains(length) else { return nil }
        let a = address & Self.mask(length)
        if length <= 16 { return short[length][a] }
        return deep[UInt16(a >> 16)]?[UInt64(length) << 32 | UInt64(a)]
    }

    /// Every route, by length then address.
    public var routes: [(address: UInt32, length: Int, nextHop: Int)] {
        var out: [(address: UInt32, length: Int, nextHop: Int)] = []
        for (l, m) in short.enumerated() { for (a, nh) in m { out.append((a, l, nh)) } }
        for (_, m) in deep { for (k, nh) in m { out.append((UInt32(truncatingIfNeeded: k), Int(k >> 32), nh)) } }
        return out.sorted { ($0.length, $0.address) < ($1.length, $1.address) }
    }

    /// Applies a batch: every rule first, then each /16 it touches rebuilt
    /// once, then published. Refused whole (nothing changed) when a length
    /// or next hop is out of range or the new nodes do not fit.
    public func apply(_ changes: [Change]) throws(Failure) {
        for c in changes {
            if case .add(_, let l, let nh) = c {
                guard (0...32).contains(l) else { throw .lengthOutOfRange(l) }
                guard (0...Self.maxNextHop).contains(nh) else { throw .nextHopOutOfRange(nh) }
            } else if case .delete(_, let l) = c, !(0...32).contains(l) {
                throw .lengthOutOfRange(l)
            }
        }
        // Rules, remembering what each change replaced so a refusal can undo it.
        var undo: [(address: UInt32, length: Int, old: Int?)] = []
        var dirty = Set<Int>()
        for c in changes {
            switch c {
            case .add(let address, let length, let nh):
                let a = address & Self.mask(length)
                undo.append((a, length, setRule(a, length, nh)))
                markDirty(a, length, &dirty)
            case .delete(let address, let length):
                let a = address & Self.mask(length)
                if let old = setRule(a, length, nil) {
                    undo.append((a, length, old))
                    markDirty(a, length, &dirty)
                }
            }
        }
        // Build every new /16 before publishing any.
        var built: [(slot: Int, entry: UInt32)] = []
        var made: [(offset: Int, units: Int)] = []
        var failed = false
        let directBefore = directNodeCount
        for s in dirty.sorted() {
            guard let e = build(slot: s, made: &made) else { failed = true; break }
            built.append((s, e))
        }
        if failed {
            for m in made { release(m.offset, m.units) }
            directNodeCount = directBefore
            for u in undo.reversed() {
                _ = setRule(u.address, u.length, u.old)
                if u.length <= 16 { repaint(u.address, u.length) }
            }
            throw .outOfMemory(words: arenaWords)
        }
        for (s, e) in built {
            let old = root[s].exchange(e, ordering: .acquiringAndReleasing)
            if old != e { retire(old) }
        }
    }

    /// Sets (nil: removes) one rule; returns what it held.
    func setRule(_ a: UInt32, _ length: Int, _ nh: Int?) -> Int? {
        let old: Int?
        if length <= 16 {
            old = nh.map { short[length].updateValue($0, forKey: a) } ?? short[length].removeValue(forKey: a)
        } else {
            let s = UInt16(a >> 16), k = UInt64(length) << 32 | UInt64(a)
            if let nh {
                old = deep[s, default: [:]].updateValue(nh, forKey: k)
            } else {
                old = deep[s]?.removeValue(forKey: k)
                if deep[s]?.isEmpty == true { deep[s] = nil }
            }
        }
        if old == nil, nh != nil { ruleCount += 1 }
        if old != nil, nh == nil { ruleCount -= 1 }
        return old
    }

    func markDirty(_ a: UInt32, _ length: Int, _ dirty: inout Set<Int>) {
        if length <= 16 { repaint(a, length) }
        let first = Int(a >> 16)
        let count = length >= 16 ? 1 : 1 << (16 - length)
        for s in first..<(first + count) { dirty.insert(s) }
    }

    /// Recomputes `cover` over the /16s a route of `length` <= 16 at `a`
    /// spans: the longest shorter route covering all of them, then the
    /// routes of `length` to /16 inside, shortest first (2^(17 - length)
    /// lookups at most).
    func repaint(_ a: UInt32, _ length: Int) {
        let first = Int(a >> 16), count = 1 << (16 - length)
        var base: UInt32 = 0
        for l in stride(from: length - 1, through: 0, by: -1) {
            if let nh = short[l][a & Self.mask(l)] { base = UInt32(nh + 1); break }
        }
        for s in first..<(first + count) { cover[s] = base }
        for l in length...16 {
            let n = 1 << (l - length), span = 1 << (16 - l)
            for i in 0..<n {
                let p = a | UInt32(i) << UInt32(32 - l)
                guard l > 0 || i == 0, let nh = short[l][p] else { continue }
                let start = Int(p >> 16)
                for s in start..<(start + span) { cover[s] = UInt32(nh + 1) }
            }
        }
    }

    /// The longest route of /16 or shorter that covers /16 number `s`, as an entry.
    func covering(_ s: Int) -> UInt32 { cover[s] }

    /// The root entry /16 number `s` should hold, its nodes written into
    /// fresh arena words (noted in `made`); nil when they do not fit.
    func build(slot s: Int, made: inout [(offset: Int, units: Int)]) -> UInt32? {
        let c = covering(s)
        guard let bucket = deep[UInt16(s)] else { return c }
        // Rules by length, shortest first, so longer ones overwrite.
        let rules = bucket.map { (length: Int($0.key >> 32), address: UInt32(truncatingIfNeeded: $0.key), entry: UInt32($0.value + 1)) }
            .sorted { ($0.length, $0.address) < ($1.length, $1.address) }
        var slots = [UInt32](repeating: c, count: 256)
        var below: [Int: [(length: Int, address: UInt32, entry: UInt32)]] = [:]
        for r in rules {
            if r.length <= 24 {
                let first = Int(r.address >> 8 & 0xFF), count = 1 << (24 - r.length)
                for j in first..<(first + count) { slots[j] = r.entry }
            } else {
                below[Int(r.address >> 8 & 0xFF), default: []].append(r)
            }
        }
        for (j, rs) in below {
            var last = [UInt32](repeating: slots[j], count: 256)
            for r in rs {
                let first = Int(r.address & 0xFF), count = 1 << (32 - r.length)
                for k in first..<(first + count) { last[k] = r.entry }
            }
            guard let e = node(last, made: &made) else { return nil }
            slots[j] = e
        }
        return node(slots, made: &made)
    }

    /// A node for 256 slot entries (or the one entry, if they are all the
    /// same next hop); nil when it does not fit.
    func node(_ slots: [UInt32], made: inout [(offset: Int, units: Int)]) -> UInt32? {
        if slots[0] & Self.node == 0, slots.allSatisfy({ $0 == slots[0] }) { return slots[0] }
        var distinct: [UInt32] = []
        var index: [UInt32: UInt8] = [:]
        var map = [UInt8](repeating: 0, count: 256)
        for (j, e) in slots.enumerated() {
            if let i = index[e] { map[j] = i; continue }
            let i = UInt8(distinct.count)
            index[e] = i
            distinct.append(e)
            map[j] = i
        }
        if distinct.count > directAbove {
            let units = 256 / Self.sizeUnit
            guard let offset = allocate(units) else { return nil }
            made.append((offset, units))
            directNodeCount += 1
            for (j, e) in slots.enumerated() { arena[offset + j] = e }
            return Self.node | Self.direct | UInt32(offset)
        }
        let words = Self.mapWords + distinct.count
        let units = (words + Self.sizeUnit - 1) / Self.sizeUnit
        guard let offset = allocate(units) else { return nil }
        made.append((offset, units))
        let base = arena + offset
        map.withUnsafeBytes { UnsafeMutableRawPointer(base).copyMemory(from: $0.baseAddress!, byteCount: 256) }
        for (i, e) in distinct.enumerated() { base[Self.mapWords + i] = e }
        return Self.node | UInt32(offset)
    }

    func allocate(_ units: Int) -> Int? {
        let offset: Int
        if let o = free[units].popLast() {
            offset = o
        } else {
            guard bump + units * Self.sizeUnit <= arenaWords, bump + units * Self.sizeUnit <= Int(Self.offsetMask) else { return nil }
            offset = bump
            bump += units * Self.sizeUnit
        }
        wordsInUse += units * Self.sizeUnit
        nodeCount += 1
        return offset
    }

    /// Gives back a block that was never published.
    func release(_ offset: Int, _ units: Int) {
        free[units].append(offset)
        wordsInUse -= units * Self.sizeUnit
        nodeCount -= 1
    }

    /// Retires the node an entry names, and the nodes below it.
    func retire(_ e: UInt32) {
        guard e & Self.node != 0 else { return }
        let offset = Int(e & Self.offsetMask)
        let base = arena + offset
        if e & Self.direct != 0 {
            for i in 0..<256 { retire(base[i]) }
            let units = 256 / Self.sizeUnit
            retired.append((offset, units))
            wordsInUse -= units * Self.sizeUnit
            nodeCount -= 1
            directNodeCount -= 1
            return
        }
        var n = 0
        for i in 0..<256 { n = max(n, Int(UnsafeRawPointer(base).load(fromByteOffset: i, as: UInt8.self)) + 1) }
        for i in 0..<n { retire(base[Self.mapWords + i]) }
        let units = (Self.mapWords + n + Self.sizeUnit - 1) / Self.sizeUnit
        retired.append((offset, units))
        wordsInUse -= units * Self.sizeUnit
        nodeCount -= 1
    }

    /// Management core, once every worker has passed a quiescent point since
    /// the last update: retired nodes may be reused.
    public func recycleRetired() {
        for r in retired { free[r.units].append(r.offset) }
        retired = []
    }
}
