/// A 48-bit IEEE 802 MAC address, stored in the low 48 bits of a `UInt64`
/// in network (transmission) order: the first octet is bits 47...40.
public struct MACAddress: Hashable, Sendable, Comparable, CustomStringConvertible, BitwiseCopyable {
    /// The address in the low 48 bits, first octet most significant.
    public var rawValue: UInt64

    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue & 0xFFFF_FFFF_FFFF }

    @inlinable public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ e: UInt8, _ f: UInt8) {
        rawValue = UInt64(a) << 40 | UInt64(b) << 32 | UInt64(c) << 24 | UInt64(d) << 16 | UInt64(e) << 8 | UInt64(f)
    }

    /// Reads six octets at `offset` of `bytes`. The caller guarantees the bounds.
    @inlinable public init(loadingFrom bytes: UnsafeRawBufferPointer, at offset: Int) {
        let hi = UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        let lo = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 2, as: UInt32.self))
        rawValue = UInt64(hi) << 32 | UInt64(lo)
    }

    /// Writes the six octets at `offset` of `bytes`.
    @inlinable public func store(to bytes: UnsafeMutableRawBufferPointer, at offset: Int) {
        bytes.storeBytes(of: UInt16(truncatingIfNeeded: rawValue >> 32).bigEndian, toByteOffset: offset, as: UInt16.self)
        bytes.storeBytes(of: UInt32(truncatingIfNeeded: rawValue).bigEndian, toByteOffset: offset + 2, as: UInt32.self)
    }

    /// Parses `aa:bb:cc:dd:ee:ff` (or with `-`). Returns nil when malformed.
    public init?(_ text: String) {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var v: UInt64 = 0
        for p in parts {
            guard p.count <= 2, let b = UInt8(p, radix: 16) else { return nil }
            v = v << 8 | UInt64(b)
        }
        rawValue = v
    }

    public static let broadcast = MACAddress(rawValue: 0xFFFF_FFFF_FFFF)
    public static let zero = MACAddress(rawValue: 0)

    /// The group bit (I/G) of the first octet.
    @inlinable public var isMulticast: Bool { rawValue & (1 << 40) != 0 }
    @inlinable public var isBroadcast: Bool { rawValue == 0xFFFF_FFFF_FFFF }

    /// The octets, first transmitted first.
    public var octets: [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: rawValue >> (40 - 8 * $0)) } }

    public var description: String { octets.map { hex2($0) }.joined(separator: ":") }

    public static func < (a: MACAddress, b: MACAddress) -> Bool { a.rawValue < b.rawValue }
}

@usableFromInline func hex2(_ b: UInt8) -> String {
    let digits: [Character] = ["0","1","2","3","4","5","6","7","8","9","a","b","c","d","e","f"]
    return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
}
