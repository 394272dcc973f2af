import BowmanCore

/// One named route table (Odyssey's Route Table Extension): entries map a
/// prefix to a channel (or next-hop) id; a lookup takes an address or a
/// packet and returns the channel of the longest matching prefix. IPv4 and
/// IPv6 live in one table: IPv4 in a `CompactTable` (256 KiB of root, about
/// 12 MB for a full Internet table), IPv6 in a `StrideTable` (64 MiB of
/// root), each made when the first route of that family arrives.
public final class RouteTable: @unchecked Sendable {
    public let name: String
    /// Odyssey's table type; `ip` is the one Bowman implements.
    public let type: String
    public private(set) var v4: CompactTable? { didSet { fast4 = v4.map { Unmanaged.passUnretained($0) } } }
    public private(set) var v6: StrideTable? { didSet { fast6 = v6.map { Unmanaged.passUnretained($0) } } }
    /// The same tables for the data path, used without a retain (the strong
    /// references above keep them alive as long as this table).
    @usableFromInline var fast4: Unmanaged<CompactTable>?
    @usableFromInline var fast6: Unmanaged<StrideTable>?
    let wordsV4: Int, groupsV6: Int

    /// A route refused; the table is as it was.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case lengthOutOfRange(Int, family: Int)
        case channelOutOfRange(Int)
        case full(String)
        public var description: String {
            switch self {
            case .lengthOutOfRange(let l, let f): "prefix length \(l) is not in 0...\(f == 4 ? 32 : 128)"
            case .channelOutOfRange(let c): "channel \(c) is not in 0...\(CompactTable.maxNextHop)"
            case .full(let why): why
            }
        }
    }

    /// `wordsV4`: arena words for IPv4 nodes (a full table needs about 6.7 M);
    /// `groupsV6`: groups of 256 entries for IPv6 prefixes longer than /24.
    public init(name: String, type: String = "ip", wordsV4: Int = 1 << 24, groupsV6: Int = 1 << 17) {
        self.name = name
        self.type = type
        self.wordsV4 = wordsV4
        self.groupsV6 = groupsV6
    }

    public var count: Int { (v4?.ruleCount ?? 0) + (v6?.ruleCount ?? 0) }

    static func key(_ a: IPAddress) -> RouteKey {
        switch a {
        case .v4(let x): return RouteKey(v4: x.rawValue)
        case .v6(let x): return RouteKey(high: x.high, low: x.low)
        }
    }

    /// Adds or replaces `prefix -> channel`; returns the channel it replaced.
    @discardableResult
    public func add(_ prefix: IPPrefix, channel: Int) throws(Failure) -> Int? {
        guard (0...CompactTable.maxNextHop).contains(channel) else { throw .channelOutOfRange(channel) }
        switch prefix.address {
        case .v4(let a):
            if v4 == nil { v4 = CompactTable(arenaWords: wordsV4) }
            do throws(CompactTable.Failure) { return try v4!.insert(a.rawValue, length: Int(prefix.length), nextHop: channel) } catch {
                throw Self.failure(error)
            }
        case .v6:
            if v6 == nil { v6 = StrideTable(width: 128, groupCapacity: groupsV6) }
            do throws(StrideTable.Failure) { return try v6!.insert(Self.key(prefix.address), length: Int(prefix.length), nextHop: channel) } catch {
                throw Self.failure(error)
            }
        }
    }

    /// Adds or replaces many routes at once: IPv4 ones rebuilt once per /16
    /// (what loading a full table wants). Refused whole for IPv4; IPv6 routes
    /// are added one by one and a refusal leaves the earlier ones in.
    public func add(contentsOf routes: [(prefix: IPPrefix, channel: Int)]) throws(Failure) {
        var four: [CompactTable.Change] = []
        for r in routes {
            guard (0...CompactTable.maxNextHop).contains(r.channel) else { throw .channelOutOfRange(r.channel) }
            if case .v4(let a) = r.prefix.address { four.append(.add(address: a.rawValue, length: Int(r.prefix.length), nextHop: r.channel)) }
        }
        if !four.isEmpty {
            if v4 == nil { v4 = CompactTable(arenaWords: wordsV4) }
            do throws(CompactTable.Failure) { try v4!.apply(four) } catch { throw Self.failure(error) }
        }
        for r in routes { if case .v6 = r.prefix.address { try add(r.prefix, channel: r.channel) } }
    }

    static func failure(_ e: CompactTable.Failure) -> Failure {
        switch e {
        case .lengthOutOfRange(let l): .lengthOutOfRange(l, family: 4)
        case .nextHopOutOfRange(let n): .channelOutOfRange(n)
        case .outOfMemory: .full(e.description)
        }
    }

    static func failure(_ e: StrideTable.Failure) -> Failure {
        switch e {
        case .lengthOutOfRange(let l, _): .lengthOutOfRange(l, family: 6)
        case .nextHopOutOfRange(let n): .channelOutOfRange(n)
        case .outOfGroups: .full(e.description)
        }
    }

    /// Deletes many entries at once (IPv4 ones rebuilt once per /16); those
    /// that are not there are skipped. Refused whole for IPv4 when the
    /// table's node memory is exhausted.
    public func delete(contentsOf prefixes: [IPPrefix]) throws(Failure) {
        var four: [CompactTable.Change] = []
        for p in prefixes {
            switch p.address {
            case .v4(let a): four.append(.delete(address: a.rawValue, length: Int(p.length)))
            case .v6: v6?.remove(Self.key(p.address), length: Int(p.length))
            }
        }
        guard !four.isEmpty, let v4 else { return }
        do throws(CompactTable.Failure) { try v4.apply(four) } catch { throw Self.failure(error) }
    }

    /// Deletes the entry for exactly `prefix`; returns its channel, nil if
    /// there was none. (An IPv4 delete rebuilds its /16 and is refused,
    /// changing nothing, when the table's node memory is exhausted.)
    @discardableResult
    public func delete(_ prefix: IPPrefix) throws(Failure) -> Int? {
        switch prefix.address {
        case .v4(let a):
            do throws(CompactTable.Failure) { return try v4?.remove(a.rawValue, length: Int(prefix.length)) } catch { throw Self.failure(error) }
        case .v6: return v6?.remove(Self.key(prefix.address), length: Int(prefix.length))
        }
    }

    /// The channel of the longest prefix holding `a`, or nil.
    public func lookup(_ a: IPAddress) -> Int? {
        let r: Int
        switch a {
        case .v4(let x): r = v4?.lookup(x.rawValue) ?? -1
        case .v6(let x): r = v6?.lookup(RouteKey(high: x.high, low: x.low)) ?? -1
        }
        return r < 0 ? nil : r
    }

    /// The channel for an Ethernet frame's destination address (IPv4 or
    /// IPv6, behind up to two VLAN tags), or -1: no route, or not an IP
    /// packet whole enough to hold its destination.
    @inlinable
    public func lookup(frame p: UnsafeRawBufferPointer) -> Int {
        guard let (family, at) = Self.destination(in: p) else { return -1 }
        return lookup(family: family, destinationAt: at, in: p)
    }

    /// The channel for the address at `at` in `p` (`family` 4 or 6, where
    /// `destination(in:)` found it), or -1: for callers that parsed the frame already.
    @inlinable
    public func lookup(family: Int, destinationAt at: Int, in p: UnsafeRawBufferPointer) -> Int {
        if family == 4 {
            guard let t = fast4 else { return -1 }
            let a = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: at, as: UInt32.self))
            return t._withUnsafeGuaranteedRef { $0.lookup(a) }
        }
        guard let t = fast6 else { return -1 }
        let hi = UInt64(bigEndian: p.loadUnaligned(fromByteOffset: at, as: UInt64.self))
        let lo = UInt64(bigEndian: p.loadUnaligned(fromByteOffset: at + 8, as: UInt64.self))
        return t._withUnsafeGuaranteedRef { $0.lookup(RouteKey(high: hi, low: lo)) }
    }

    /// Where the destination address of an Ethernet frame is: (4 or 6, byte offset).
    @inlinable
    public static func destination(in p: UnsafeRawBufferPointer) -> (Int, Int)? {
        var l3 = 14
        guard p.count >= l3 else { return nil }
        var type = UInt16(p[12]) << 8 | UInt16(p[13])
        var tags = 0
        while (type == 0x8100 || type == 0x88A8) && tags < 2 {
            guard p.count >= l3 + 4 else { return nil }
            type = UInt16(p[l3 + 2]) << 8 | UInt16(p[l3 + 3])
            l3 += 4; tags += 1
        }
        switch type {
        case 0x0800:
            guard p.count >= l3 + 20, p[l3] >> 4 == 4 else { return nil }
            return (4, l3 + 16)
        case 0x86DD:
            guard p.count >= l3 + 40, p[l3] >> 4 == 6 else { return nil }
            return (6, l3 + 24)
        default:
            return nil
        }
    }

    /// Every entry, IPv4 first, by length then address.
    public var entries: [(prefix: IPPrefix, channel: Int)] {
        let four = (v4?.routes ?? []).map { r in (prefix: IPPrefix(address: .v4(IPv4Address(rawValue: r.address)), length: r.length)!, channel: r.nextHop) }
        let six = (v6?.routes ?? []).map { r in
            (prefix: IPPrefix(address: .v6(IPv6Address(high: r.key.high, low: r.key.low)), length: r.length)!, channel: r.nextHop)
        }
        return four + six
    }

    /// Bytes of lookup entries in use (both families).
    public var tableBytes: Int { (v4?.tableBytes ?? 0) + (v6?.tableBytes ?? 0) }

    /// After a grace period (every worker quiescent since the last update):
    /// reuse the memory updates freed.
    public func recycleRetired() {
        v4?.recycleRetired()
        v6?.recycleRetiredGroups()
    }
}

/// The named route tables of a node (Odyssey's `o_rt_create`, `o_rt_get_id`,
/// `o_rt_get_rt`, `o_rt_destroy`): several at once, one per topology.
public struct RouteTables: Sendable {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case exists(String)
        case unknownType(String)
        case badName(String)
        public var description: String {
            switch self {
            case .exists(let n): return "route table '\(n)' exists already"
            case .unknownType(let t): return "route table type '\(t)' is not supported (ip)"
            case .badName(let n): return "'\(n)' is not a route table name (letters, digits, '-', '_', '.')"
            }
        }
    }

    var tables: [RouteTable?] = []
    var ids: [String: Int] = [:]

    public init() {}

    /// Creates a table; returns its id.
    public mutating func create(name: String, type: String = "ip") throws(Failure) -> Int {
        guard !name.isEmpty, name.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0) }) else {
            throw .badName(name)
        }
        guard type == "ip" else { throw .unknownType(type) }
        guard ids[name] == nil else { throw .exists(name) }
        let id = tables.firstIndex { $0 == nil } ?? tables.count
        if id == tables.count { tables.append(nil) }
        tables[id] = RouteTable(name: name, type: type)
        ids[name] = id
        return id
    }

    /// The id of the table named `name`, or nil (Odyssey: -1).
    public func id(named name: String) -> Int? { ids[name] }

    public func table(_ id: Int) -> RouteTable? { id >= 0 && id < tables.count ? tables[id] : nil }
    public subscript(name: String) -> RouteTable? { ids[name].flatMap { table($0) } }

    /// Destroys table `id`; false if there is none.
    @discardableResult
    public mutating func destroy(_ id: Int) -> Bool {
        guard let t = table(id) else { return false }
        ids[t.name] = nil
        tables[id] = nil
        return true
    }

    public var names: [String] { ids.keys.sorted() }
}
