import BowmanCore
import BowmanRouting

/// The plain reference: every rule in a list, a lookup scans them all and
/// keeps the longest that holds the address.
struct LinearLPM {
    var rules: [RouteKey: (length: Int, nextHop: Int)] = [:]
    struct Rule: Hashable { var key: RouteKey; var length: Int }
    var list: [Rule: Int] = [:]

    static func mask(_ k: RouteKey, _ l: Int) -> RouteKey {
        let mh: UInt64 = l <= 0 ? 0 : (l >= 64 ? ~0 : ~0 << UInt64(64 - l))
        let ml: UInt64 = l <= 64 ? 0 : (l >= 128 ? ~0 : ~0 << UInt64(128 - l))
        return RouteKey(high: k.high & mh, low: k.low & ml)
    }
    mutating func insert(_ k: RouteKey, _ l: Int, _ nh: Int) { list[Rule(key: Self.mask(k, l), length: l)] = nh }
    mutating func remove(_ k: RouteKey, _ l: Int) { list[Rule(key: Self.mask(k, l), length: l)] = nil }
    func lookup(_ k: RouteKey) -> Int {
        var best = -1, bestLen = -1
        for (r, nh) in list where r.length > bestLen && Self.mask(k, r.length) == r.key { best = nh; bestLen = r.length }
        return best
    }
}

/// A reference for the full tables (a scan per lookup over a million rules
/// is too slow): one exact-match dictionary per length, longest first.
struct ByLengthLPM {
    var byLength: [[RouteKey: Int]]
    init(width: Int) { byLength = Array(repeating: [:], count: width + 1) }
    mutating func insert(_ k: RouteKey, _ l: Int, _ nh: Int) { byLength[l][LinearLPM.mask(k, l)] = nh }
    mutating func remove(_ k: RouteKey, _ l: Int) { byLength[l][LinearLPM.mask(k, l)] = nil }
    func lookup(_ k: RouteKey) -> Int {
        for l in stride(from: byLength.count - 1, through: 0, by: -1) where !byLength[l].isEmpty {
            if let nh = byLength[l][LinearLPM.mask(k, l)] { return nh }
        }
        return -1
    }
}

extension RouteKey {
    /// Top 32 bits as an IPv4 address.
    var v4: UInt32 { UInt32(truncatingIfNeeded: high >> 32) }
}
