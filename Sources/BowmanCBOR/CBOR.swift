/// A CBOR data item (RFC 8949). Floats keep the width they were encoded
/// with, so an item re-encodes to the same bytes; map entries keep their
/// order (GRASP and most protocols care about arrays, and a decoder must not
/// reorder what a peer sent). Indefinite-length items are decoded into the
/// definite form.
public indirect enum CBOR: Hashable, Sendable {
    case unsigned(UInt64)
    /// The integer -1 - n.
    case negative(UInt64)
    case bytes([UInt8])
    case text(String)
    case array([CBOR])
    case map([MapEntry])
    case tagged(UInt64, CBOR)
    case bool(Bool)
    case null
    case undefined
    /// Simple values other than false, true, null, undefined (0–19, 32–255).
    case simple(UInt8)
    /// IEEE 754 half precision, as its 16 bits.
    case half(UInt16)
    case float(Float)
    case double(Double)

    public struct MapEntry: Hashable, Sendable {
        public var key: CBOR
        public var value: CBOR
        public init(_ key: CBOR, _ value: CBOR) { self.key = key; self.value = value }
    }

    /// An integer as the matching case.
    public static func int(_ v: Int64) -> CBOR { v >= 0 ? .unsigned(UInt64(v)) : .negative(UInt64(-1 - v)) }

    /// The integer value, when it fits an Int64.
    public var int64: Int64? {
        switch self {
        case .unsigned(let v): v <= UInt64(Int64.max) ? Int64(v) : nil
        case .negative(let n): n <= UInt64(Int64.max) ? -1 - Int64(n) : nil
        default: nil
        }
    }

    /// The value of any float case as a Double.
    public var doubleValue: Double? {
        switch self {
        case .half(let bits): Double(halfToFloat(bits))
        case .float(let f): Double(f)
        case .double(let d): d
        default: nil
        }
    }

    public var arrayValue: [CBOR]? { if case .array(let a) = self { a } else { nil } }
    public var textValue: String? { if case .text(let s) = self { s } else { nil } }
    public var bytesValue: [UInt8]? { if case .bytes(let b) = self { b } else { nil } }
}

/// IEEE 754 binary16 → binary32 (RFC 8949 Appendix D).
func halfToFloat(_ h: UInt16) -> Float {
    let sign: Float = h & 0x8000 != 0 ? -1 : 1
    let exp = Int(h >> 10 & 0x1F), mant = Float(h & 0x3FF)
    if exp == 0 { return sign * mant * Float(sign: .plus, exponent: -24, significand: 1) }
    if exp == 31 { return mant == 0 ? sign * .infinity : .nan }
    return sign * (1 + mant / 1024) * Float(sign: .plus, exponent: exp - 15, significand: 1)
}
