import Synchronization

/// A 128-bit routing key, most significant bit first: an IPv6 address, or
/// an IPv4 address in the top 32 bits.
public struct RouteKey: Hashable, Sendable, Comparable {
    public var high: UInt64
    public var low: UInt64
    @inlinable public init(high: UInt64, low: UInt64) { self.high = high; self.low = low }
    @inlinable public init(v4 a: UInt32) { high = UInt64(a) << 32; low = 0 }

    /// `count` bits (1...32) starting at bit `start` (0 = most significant).
    @inlinable func bits(_ start: Int, _ count: Int) -> Int {
        let end = start + count
        let word: UInt64
        if end <= 64 { word = high >> (64 - end) } else if start >= 64 { word = low >> (128 - end) } else {
            word = high << (end - 64) | low >> (128 - end)
        }
        return Int(truncatingIfNeeded: word & ((1 << UInt64(count)) - 1))
    }

    /// The key with every bit from `length` on cleared.
    @inlinable public func masked(_ length: Int) -> RouteKey {
        let mh: UInt64 = length <= 0 ? 0 : (length >= 64 ? ~0 : ~0 << UInt64(64 - length))
        let ml: UInt64 = length <= 64 ? 0 : (length >= 128 ? ~0 : ~0 << UInt64(128 - length))
        return RouteKey(high: high & mh, low: low & ml)
    }

    public static func < (a: RouteKey, b: RouteKey) -> Bool { (a.high, a.low) < (b.high, b.low) }
}

/// Longest-prefix match in multibit stride tables, DIR-24-8 generalised:
/// the first 24 bits index one flat table of 2^24 entries, every further
/// 8 bits a group of 256 entries (IPv4: at most one more step; IPv6: at
/// most thirteen). An entry is one 32-bit word:
///
///     bit 31 = 0:  depth << 23 | (next hop + 1)     (next hop field 0: no route)
///     bit 31 = 1:  group index                      (the next 8 bits choose in it)
///
/// Updates run on the management core, in place, as rte_lpm's do: every
/// entry a worker may read is written whole with one atomic store, and a
/// new group is filled before the entry naming it is published, so a
/// lookup running at the same time sees the table before or after each
/// store, never a torn entry. A group that an update empties back into
/// one value is retired, and reused only after `recycleRetiredGroups()`,
/// which the owner calls once every worker has passed a quiescent point
/// (TablePublisher's grace period). Rules are kept per length (the
/// control-plane copy) so a delete finds what the covering route was.
///
/// Lookups allocate nothing, take no lock and retain nothing: relaxed
/// loads through two raw pointers.
public final class StrideTable: @unchecked Sendable {
    public static let noRoute = -1
    /// Largest next hop a table can hold.
    public static let maxNextHop = (1 << 23) - 2
    @usableFromInline static let extended: UInt32 = 1 << 31
    @usableFromInline static let nextHopMask: UInt32 = (1 << 23) - 1

    /// Key width: 32 (IPv4) or 128 (IPv6).
    public let width: Int
    @usableFromInline let root: UnsafeMutablePointer<Atomic<UInt32>>     // 2^24 entries
    @usableFromInline let groups: UnsafeMutablePointer<Atomic<UInt32>>   // groupCapacity × 256
    public let groupCapacity: Int
    var groupsUsed = 0
    var freeGroups: [Int] = []
    var retiredGroups: [Int] = []
    /// Rules by length: the prefix (masked) -> next hop.
    var rules: [[RouteKey: Int]]
    public private(set) var ruleCount = 0

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case lengthOutOfRange(Int, width: Int)
        case nextHopOutOfRange(Int)
        case outOfGroups(capacity: Int)
        public var description: String {
            switch self {
            case .lengthOutOfRange(let l, let w): return "prefix length \(l) is not in 0...\(w)"
            case .nextHopOutOfRange(let n): return "next hop \(n) is not in 0...\(StrideTable.maxNextHop)"
            case .outOfGroups(let c): return "the table's \(c) groups of 256 entries are all in use (make it with more)"
            }
        }
    }

    /// `groupCapacity`: groups of 256 entries for prefixes longer than /24
    /// (address space only: pages are touched when a group is first used).
    public init(width: Int, groupCapacity: Int) {
        precondition(width == 32 || width == 128)
        self.width = width
        self.groupCapacity = groupCapacity
        // Zeroed in one pass (memset) as plain words, then used as atomics of the same layout.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 4 << 24, alignment: 64)
        raw.initializeMemory(as: UInt32.self, repeating: 0, count: 1 << 24)
        root = raw.bindMemory(to: Atomic<UInt32>.self, capacity: 1 << 24)
        groups = UnsafeMutableRawPointer.allocate(byteCount: groupCapacity << 10, alignment: 64)
            .bindMemory(to: Atomic<UInt32>.self, capacity: groupCapacity << 8)
        rules = Array(repeating: [:], count: width + 1)
    }

    deinit {
        root.deallocate()
        groups.deallocate()
    }

    /// Groups of 256 entries in use, and bytes of entries (root + groups in use).
    public var groupsInUse: Int { groupsUsed - freeGroups.count - retiredGroups.count }
    public var tableBytes: Int { (1 << 24) * 4 + groupsInUse * 1024 }

    // MARK: Lookup (hot)

    @inlinable static func value(_ e: UInt32) -> Int { Int(e & nextHopMask) &- 1 }

    /// The next hop of the longest prefix holding `a`, or -1 (IPv4 tables).
    @inlinable public func lookup(v4 a: UInt32) -> Int {
        var e = root[Int(a >> 8)].load(ordering: .acquiring)
        if e & Self.extended != 0 {
            e = groups[Int(e & ~Self.extended) << 8 | Int(a & 0xFF)].load(ordering: .acquiring)
        }
        return Self.value(e)
    }

    /// The next hop of the longest prefix holding `k`, or -1 (IPv6 tables).
    @inlinable public func lookup(_ k: RouteKey) -> Int {
        var e = root[Int(truncatingIfNeeded: k.high >> 40)].load(ordering: .acquiring)
        var shift: UInt64 = 32      // the next byte of `high`, then of `low`
        var word = k.high
        while e & Self.extended != 0 {
            let byte = Int(truncatingIfNeeded: (word >> shift) & 0xFF)
            e = groups[Int(e & ~Self.extended) << 8 | byte].load(ordering: .acquiring)
            if shift == 0 { word = k.low; shift = 56 } else { shift &-= 8 }
        }
        return Self.value(e)
    }

    /// Looks up a burst of IPv4 addresses (host order): `out[i]` is the next hop or -1.
    @inlinable public func lookup(v4 addresses: UnsafeBufferPointer<UInt32>, into out: UnsafeMutablePointer<Int>) {
        var i = 0
        let n = addresses.count
        // Root entries first for the whole burst (independent loads the CPU
        // overlaps), then the groups of those that need one.
        while i < n {
            out[i] = Int(root[Int(addresses[i] >> 8)].load(ordering: .acquiring))
            i &+= 1
        }
        i = 0
        while i < n {
            var e = UInt32(truncatingIfNeeded: out[i])
            if e & Self.extended != 0 {
                e = groups[Int(e & ~Self.extended) << 8 | Int(addresses[i] & 0xFF)].load(ordering: .acquiring)
            }
            out[i] = Self.value(e)
            i &+= 1
        }
    }

    /// Looks up a burst of IPv6 keys: `out[i]` is the next hop or -1.
    @inlinable public func lookup(_ keys: UnsafeBufferPointer<RouteKey>, into out: UnsafeMutablePointer<Int>) {
        for i in 0..<keys.count { out[i] = lookup(keys[i]) }
    }

    // MARK: Updates (management core)

    /// The level whose entries a prefix of `length` bits sets: 0 for /0–/24,
    /// then one per 8 bits.
    static func level(ofLength length: Int) -> Int { length <= 24 ? 0 : (length - 17) / 8 }
    /// First key bit a level's index reads, and its width.
    static func span(_ level: Int) -> (start: Int, bits: Int) { level == 0 ? (0, 24) : (24 + 8 * (level - 1), 8) }

    @inline(__always) func slot(_ group: Int, _ i: Int) -> UnsafeMutablePointer<Atomic<UInt32>> {
        group < 0 ? root + i : groups + (group << 8 | i)
    }
    @inline(__always) static func entry(depth: Int, value: Int) -> UInt32 { UInt32(depth) << 23 | UInt32(value + 1) }
    @inline(__always) static func depth(_ e: UInt32) -> Int { Int(e >> 23 & 0xFF) }

    /// Adds (or replaces) the route `key/length -> nextHop`. Returns the next
    /// hop it replaced, if any. An insert that would need more groups than
    /// are free is refused and changes nothing.
    @discardableResult
    public func insert(_ key: RouteKey, length: Int, nextHop: Int) throws(Failure) -> Int? {
        guard (0...width).contains(length) else { throw .lengthOutOfRange(length, width: width) }
        guard (0...Self.maxNextHop).contains(nextHop) else { throw .nextHopOutOfRange(nextHop) }
        let k = key.masked(length)
        guard groupsNeeded(k, length) <= freeGroups.count + (groupCapacity - groupsUsed) else {
            throw .outOfGroups(capacity: groupCapacity)
        }
        let old = rules[length].updateValue(nextHop, forKey: k)
        if old == nil { ruleCount += 1 }
        write(k, length, Self.entry(depth: length, value: nextHop), insert: true)
        return old
    }

    /// Removes the route `key/length`; its addresses fall back to the
    /// longest shorter route that covers them. Returns the next hop it had.
    @discardableResult
    public func remove(_ key: RouteKey, length: Int) -> Int? {
        guard (0...width).contains(length) else { return nil }
        let k = key.masked(length)
        guard let old = rules[length].removeValue(forKey: k) else { return nil }
        ruleCount -= 1
        var replacement: UInt32 = 0
        for l in stride(from: length - 1, through: 0, by: -1) {
            if let nh = rules[l][k.masked(l)] { replacement = Self.entry(depth: l, value: nh); break }
        }
        write(k, length, replacement, insert: false)
        return old
    }

    /// The next hop of exactly `key/length`, if that route exists.
    public func route(_ key: RouteKey, length: Int) -> Int? {
        guard (0...width).contains(length) else { return nil }
        return rules[length][key.masked(length)]
    }

    /// Every route, by length then key.
    public var routes: [(key: RouteKey, length: Int, nextHop: Int)] {
        rules.enumerated().flatMap { l, m in m.sorted { $0.key < $1.key }.map { ($0.key, l, $0.value) } }
    }

    /// Groups an insert of `k/length` would have to create.
    func groupsNeeded(_ k: RouteKey, _ length: Int) -> Int {
        let target = Self.level(ofLength: length)
        var group = -1
        for level in 0..<target {
            let (s, b) = Self.span(level)
            let e = slot(group, k.bits(s, b)).pointee.load(ordering: .relaxed)
            if e & Self.extended == 0 { return target - level }
            group = Int(e & ~Self.extended)
        }
        return 0
    }

    /// Walks to the level `length` ends in (an insert creates groups on the
    /// way), sets that level's range of entries and the entries below them
    /// an insert overrides (depth <= length) or a delete took (depth ==
    /// length), then folds groups that became uniform into their parent.
    func write(_ k: RouteKey, _ length: Int, _ value: UInt32, insert: Bool) {
        let target = Self.level(ofLength: length)
        var path: [(group: Int, index: Int)] = []
        var group = -1
        for level in 0..<target {
            let (s, b) = Self.span(level)
            let i = k.bits(s, b)
            let p = slot(group, i)
            var e = p.pointee.load(ordering: .relaxed)
            if e & Self.extended == 0 {
                // What a delete looks for was never below a plain entry.
                guard insert else { return }
                let g = allocateGroup()
                for j in 0..<256 { (groups + (g << 8 | j)).pointee.store(e, ordering: .relaxed) }
                e = Self.extended | UInt32(g)
                p.pointee.store(e, ordering: .releasing)      // published after its contents
            }
            path.append((group, i))
            group = Int(e & ~Self.extended)
        }
        let (s, b) = Self.span(target)
        let fixed = length - s                  // bits of this level's index the prefix fixes (may be <= 0 at level 0)
        let first = fixed <= 0 ? 0 : k.bits(s, fixed) << (b - fixed)
        let count = 1 << (b - max(0, fixed))
        let covered = s + b
        for i in first..<(first + count) { set(slot(group, i), covered: covered, value, length, insert) }
        // Fold uniform groups into their parent entry, deepest first: a
        // group's value may stand in the parent when its depth is within
        // the bits the parent's index covers.
        var child = group
        while let (parent, index) = path.popLast() {
            guard let u = uniform(child), Self.depth(u) <= 24 + 8 * path.count else { break }
            slot(parent, index).pointee.store(u, ordering: .releasing)
            retiredGroups.append(child)
            child = parent
        }
    }

    /// Sets one entry (an index covering `covered` key bits) if the update
    /// owns it, or descends into the group it names.
    func set(_ p: UnsafeMutablePointer<Atomic<UInt32>>, covered: Int, _ value: UInt32, _ length: Int, _ insert: Bool) {
        let e = p.pointee.load(ordering: .relaxed)
        if e & Self.extended != 0 {
            let g = Int(e & ~Self.extended)
            for j in 0..<256 { set(groups + (g << 8 | j), covered: covered + 8, value, length, insert) }
            if let u = uniform(g), Self.depth(u) <= covered {
                p.pointee.store(u, ordering: .releasing)
                retiredGroups.append(g)
            }
        } else if insert ? Self.depth(e) <= length : (Self.depth(e) == length && e & Self.nextHopMask != 0) {
            p.pointee.store(value, ordering: .releasing)
        }
    }

    /// The one value every entry of group `g` holds, if they are all the same and none is extended.
    func uniform(_ g: Int) -> UInt32? {
        let e0 = (groups + (g << 8)).pointee.load(ordering: .relaxed)
        guard e0 & Self.extended == 0 else { return nil }
        for j in 1..<256 where (groups + (g << 8 | j)).pointee.load(ordering: .relaxed) != e0 { return nil }
        return e0
    }

    func allocateGroup() -> Int {
        if let g = freeGroups.popLast() { return g }
        precondition(groupsUsed < groupCapacity, "groupsNeeded checked the capacity")
        groupsUsed += 1
        return groupsUsed - 1
    }

    /// Management core, after every worker has passed a quiescent point
    /// since the last update: retired groups may be reused.
    public func recycleRetiredGroups() {
        freeGroups += retiredGroups
        retiredGroups = []
    }
}
