/// An IPv6 address as two 64-bit halves in host order (`high` holds the
/// first eight octets).
public struct IPv6Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    @inlinable public init(high: UInt64, low: UInt64) { self.high = high; self.low = low }

    /// Reads sixteen octets (network order) at `offset`. The caller guarantees the bounds.
    @inlinable public init(loadingFrom bytes: UnsafeRawBufferPointer, at offset: Int) {
        high = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        low = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
    }

    @inlinable public func store(to bytes: UnsafeMutableRawBufferPointer, at offset: Int) {
        bytes.storeBytes(of: high.bigEndian, toByteOffset: offset, as: UInt64.self)
        bytes.storeBytes(of: low.bigEndian, toByteOffset: offset + 8, as: UInt64.self)
    }

    /// The eight 16-bit groups.
    public var groups: [UInt16] {
        (0..<4).map { UInt16(truncatingIfNeeded: high >> (48 - 16 * $0)) }
            + (0..<4).map { UInt16(truncatingIfNeeded: low >> (48 - 16 * $0)) }
    }

    public init(groups g: [UInt16]) {
        precondition(g.count == 8)
        high = g[0..<4].reduce(0) { $0 << 16 | UInt64($1) }
        low = g[4..<8].reduce(0) { $0 << 16 | UInt64($1) }
    }

    /// Parses RFC 4291 text: hex groups, one `::`, optional trailing dotted quad.
    public init?(_ text: some StringProtocol) {
        let s = String(text)
        guard !s.isEmpty, s.count <= 45 else { return nil }
        let halves = s.components(separatedByDoubleColon: ())
        guard halves.count <= 2 else { return nil }
        func parseSide(_ side: Substring, allowV4Tail: Bool) -> [UInt16]? {
            if side.isEmpty { return [] }
            var out: [UInt16] = []
            let parts = side.split(separator: ":", omittingEmptySubsequences: false)
            for (i, p) in parts.enumerated() {
                if i == parts.count - 1, allowV4Tail, p.contains(".") {
                    guard let v4 = IPv4Address(p) else { return nil }
                    out.append(UInt16(v4.rawValue >> 16)); out.append(UInt16(v4.rawValue & 0xFFFF))
                    continue
                }
                guard !p.isEmpty, p.count <= 4, let g = UInt16(p, radix: 16) else { return nil }
                out.append(g)
            }
            return out
        }
        if halves.count == 1 {
            guard let g = parseSide(halves[0], allowV4Tail: true), g.count == 8 else { return nil }
            self.init(groups: g)
        } else {
            guard let a = parseSide(halves[0], allowV4Tail: false),
                  let b = parseSide(halves[1], allowV4Tail: true), a.count + b.count <= 7 else { return nil }
            self.init(groups: a + Array(repeating: 0, count: 8 - a.count - b.count) + b)
        }
    }

    public var isMulticast: Bool { high >> 56 == 0xFF }
    public var isLinkLocal: Bool { high >> 54 == 0x3FA }          // fe80::/10
    public var isLoopback: Bool { high == 0 && low == 1 }
    public var isUnspecified: Bool { high == 0 && low == 0 }

    /// RFC 5952 text: lower case, longest run (≥ 2) of zero groups as `::`.
    public var description: String {
        let g = groups
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if g[i] == 0 {
                var j = i
                while j < 8 && g[j] == 0 { j += 1 }
                if j - i > bestLen { bestStart = i; bestLen = j - i }
                i = j
            } else { i += 1 }
        }
        if bestLen < 2 { bestStart = -1 }
        func hex(_ v: UInt16) -> String { String(v, radix: 16) }
        if bestStart < 0 { return g.map(hex).joined(separator: ":") }
        let head = g[0..<bestStart].map(hex).joined(separator: ":")
        let tail = g[(bestStart + bestLen)...].map(hex).joined(separator: ":")
        return head + "::" + tail
    }

    public static func < (a: IPv6Address, b: IPv6Address) -> Bool { (a.high, a.low) < (b.high, b.low) }
}

extension String {
    /// Splits at the first "::" (at most two parts; a second "::" yields three).
    fileprivate func components(separatedByDoubleColon _: Void) -> [Substring] {
        var parts: [Substring] = []
        var start = startIndex
        var i = startIndex
        while i < endIndex {
            let next = index(after: i)
            if self[i] == ":", next < endIndex, self[next] == ":" {
                parts.append(self[start..<i])
                start = index(after: next)
                i = start
                continue
            }
            i = next
        }
        parts.append(self[start..<endIndex])
        return parts
    }
}
