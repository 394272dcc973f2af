extension CBOR: CustomStringConvertible {
    /// RFC 8949 §8 diagnostic notation (indefinite-length items appear as
    /// their definite form, which is how they decode).
    public var description: String {
        switch self {
        case .unsigned(let v): return String(v)
        case .negative(let n): return n == .max ? "-18446744073709551616" : "-\(n + 1)"
        case .bytes(let b): return "h'" + b.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() + "'"
        case .text(let s): return "\"" + s.unicodeScalars.map { c -> String in
                switch c { case "\"": "\\\""; case "\\": "\\\\"; default: c.value < 0x20 ? "\\u" + String(format4(c.value)) : String(c) }
            }.joined() + "\""
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .map(let m): return "{" + m.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        case .tagged(let t, let v): return "\(t)(\(v))"
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .undefined: return "undefined"
        case .simple(let v): return "simple(\(v))"
        case .half, .float, .double:
            let d = doubleValue!
            if d.isNaN { return "NaN" }
            if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
            return "\(d)"
        }
    }
}

func format4(_ v: UInt32) -> String {
    let h = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 4 - h.count)) + h
}
