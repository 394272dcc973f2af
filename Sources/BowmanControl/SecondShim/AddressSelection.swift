import BowmanCore

/// Default address selection (RFC 6724): the policy table of §2.1, scopes
/// of §3.1, source selection (§5) and destination ordering (§6), for IPv6
/// and IPv4 (as IPv4-mapped addresses). Rules about deprecated, home,
/// temporary addresses and interfaces are not modelled (no such state here).
public enum AddressSelection {
    struct Policy { var prefix: IPv6Address; var length: Int; var precedence: Int; var label: Int }

    /// RFC 6724 §2.1 default policy table.
    static let table: [Policy] = [
        Policy(prefix: IPv6Address("::1")!, length: 128, precedence: 50, label: 0),
        Policy(prefix: IPv6Address("::")!, length: 0, precedence: 40, label: 1),
        Policy(prefix: IPv6Address("::ffff:0:0")!, length: 96, precedence: 35, label: 4),
        Policy(prefix: IPv6Address("2002::")!, length: 16, precedence: 30, label: 2),
        Policy(prefix: IPv6Address("2001::")!, length: 32, precedence: 5, label: 5),
        Policy(prefix: IPv6Address("fc00::")!, length: 7, precedence: 3, label: 13),
        Policy(prefix: IPv6Address("::")!, length: 96, precedence: 1, label: 3),
        Policy(prefix: IPv6Address("fec0::")!, length: 10, precedence: 1, label: 11),
        Policy(prefix: IPv6Address("3ffe::")!, length: 16, precedence: 1, label: 12),
    ]

    static func v6(_ a: IPAddress) -> IPv6Address {
        switch a {
        case .v6(let x): x
        case .v4(let x): IPv6Address(high: 0, low: 0xFFFF_0000_0000 | UInt64(x.rawValue))
        }
    }

    static func commonPrefix(_ a: IPv6Address, _ b: IPv6Address) -> Int {
        let h = a.high ^ b.high
        if h != 0 { return h.leadingZeroBitCount }
        return 64 + (a.low ^ b.low).leadingZeroBitCount
    }

    static func policy(_ a: IPAddress) -> Policy {
        let x = v6(a)
        return table.filter { commonPrefix(x, $0.prefix) >= $0.length }.max { $0.length < $1.length }!
    }

    public static func precedence(_ a: IPAddress) -> Int { policy(a).precedence }
    public static func label(_ a: IPAddress) -> Int { policy(a).label }

    /// Scope (RFC 6724 §3.1; RFC 4291 for multicast): 2 link-local, 5 site-local, 14 global.
    public static func scope(_ a: IPAddress) -> Int {
        switch a {
        case .v4(let x):
            // 127/8 and 169.254/16 are link-local; everything else global.
            return x.rawValue >> 24 == 127 || x.rawValue >> 16 == 0xA9FE ? 2 : 14
        case .v6(let x):
            if x.isMulticast { return Int(x.high >> 48 & 0xF) }
            if x.isLoopback || x.isLinkLocal { return 2 }
            if x.high >> 54 == 0x3FB { return 5 }   // fec0::/10
            return 14
        }
    }

    static func sameFamily(_ a: IPAddress, _ b: IPAddress) -> Bool {
        switch (a, b) { case (.v4, .v4), (.v6, .v6): true; default: false }
    }

    /// The preferred source for `destination` among `candidates` (§5, rules
    /// 1, 2, 6, 8), or nil when no candidate has its family.
    public static func source(for destination: IPAddress, from candidates: [IPAddress]) -> IPAddress? {
        let usable = candidates.filter { sameFamily($0, destination) }
        return usable.enumerated().min { x, y in sourceBefore(x.element, y.element, destination) ?? (x.offset < y.offset) }?.element
    }

    /// True if SA is preferred to SB for D, false if SB is, nil if no rule decides.
    static func sourceBefore(_ sa: IPAddress, _ sb: IPAddress, _ d: IPAddress) -> Bool? {
        if sa == d { return true }                                   // Rule 1: same address
        if sb == d { return false }
        let (s1, s2, sd) = (scope(sa), scope(sb), scope(d))          // Rule 2: appropriate scope
        if s1 < s2 { return s1 < sd ? false : true }
        if s2 < s1 { return s2 < sd ? true : false }
        let ld = label(d)                                            // Rule 6: matching label
        if label(sa) == ld && label(sb) != ld { return true }
        if label(sb) == ld && label(sa) != ld { return false }
        let (c1, c2) = (commonPrefix(v6(sa), v6(d)), commonPrefix(v6(sb), v6(d)))   // Rule 8: longest matching prefix
        if sameFamily(sa, d) && c1 != c2 { return c1 > c2 }
        return nil
    }

    /// Destinations in preference order (§6, rules 1, 2, 5, 6, 8, 9, 10),
    /// each with its chosen source (nil: unusable, sorted last).
    public static func order(destinations: [IPAddress], sources: [IPAddress]) -> [(destination: IPAddress, source: IPAddress?)] {
        let withSource = destinations.enumerated().map { ($0.offset, $0.element, source(for: $0.element, from: sources)) }
        return withSource.sorted { a, b in
            destinationBefore(a.1, a.2, b.1, b.2) ?? (a.0 < b.0)     // Rule 10: keep the original order
        }.map { ($0.1, $0.2) }
    }

    static func destinationBefore(_ da: IPAddress, _ sa: IPAddress?, _ db: IPAddress, _ sb: IPAddress?) -> Bool? {
        guard let sa else { return sb == nil ? nil : false }        // Rule 1: avoid unusable destinations
        guard let sb else { return true }
        let ma = scope(da) == scope(sa), mb = scope(db) == scope(sb) // Rule 2: prefer matching scope
        if ma != mb { return ma }
        let la = label(sa) == label(da), lb = label(sb) == label(db) // Rule 5: prefer matching label
        if la != lb { return la }
        let (pa, pb) = (precedence(da), precedence(db))              // Rule 6: higher precedence
        if pa != pb { return pa > pb }
        let (ca, cb) = (scope(da), scope(db))                        // Rule 8: smaller scope
        if ca != cb { return ca < cb }
        if case .v6 = da, case .v6 = db {                            // Rule 9: longest matching prefix (IPv6)
            let (ka, kb) = (commonPrefix(v6(da), v6(sa)), commonPrefix(v6(db), v6(sb)))
            if ka != kb { return ka > kb }
        }
        return nil
    }
}
