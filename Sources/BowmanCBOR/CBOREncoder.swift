extension CBOR {
    /// The item's encoding: heads in their shortest form (RFC 8949 §4.2.1),
    /// floats at the width the case says, definite lengths, map order kept.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    public func encode(into out: inout [UInt8]) {
        switch self {
        case .unsigned(let v): Self.head(0, v, &out)
        case .negative(let n): Self.head(1, n, &out)
        case .bytes(let b): Self.head(2, UInt64(b.count), &out); out += b
        case .text(let s): let u = Array(s.utf8); Self.head(3, UInt64(u.count), &out); out += u
        case .array(let a): Self.head(4, UInt64(a.count), &out); for e in a { e.encode(into: &out) }
        case .map(let m): Self.head(5, UInt64(m.count), &out); for e in m { e.key.encode(into: &out); e.value.encode(into: &out) }
        case .tagged(let t, let v): Self.head(6, t, &out); v.encode(into: &out)
        case .bool(let b): out.append(b ? 0xF5 : 0xF4)
        case .null: out.append(0xF6)
        case .undefined: out.append(0xF7)
        case .simple(let v): if v < 24 { out.append(0xE0 | v) } else { out += [0xF8, v] }
        case .half(let bits): out += [0xF9, UInt8(bits >> 8), UInt8(bits & 0xFF)]
        case .float(let f): out.append(0xFA); Self.bigEndian(UInt64(f.bitPattern), bytes: 4, &out)
        case .double(let d): out.append(0xFB); Self.bigEndian(d.bitPattern, bytes: 8, &out)
        }
    }

    static func head(_ major: UInt8, _ v: UInt64, _ out: inout [UInt8]) {
        let m = major << 5
        switch v {
        case 0..<24: out.append(m | UInt8(v))
        case 24...0xFF: out += [m | 24, UInt8(v)]
        case 0x100...0xFFFF: out.append(m | 25); bigEndian(v, bytes: 2, &out)
        case 0x1_0000...0xFFFF_FFFF: out.append(m | 26); bigEndian(v, bytes: 4, &out)
        default: out.append(m | 27); bigEndian(v, bytes: 8, &out)
        }
    }

    static func bigEndian(_ v: UInt64, bytes: Int, _ out: inout [UInt8]) {
        for i in stride(from: bytes - 1, through: 0, by: -1) { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }
}
