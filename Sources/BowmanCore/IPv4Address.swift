/// An IPv4 address in host byte order (`rawValue` 0xC6120001 is 198.18.0.1).
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: UInt32

    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Reads four octets (network order) at `offset`. The caller guarantees the bounds.
    @inlinable public init(loadingFrom bytes: UnsafeRawBufferPointer, at offset: Int) {
        rawValue = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inlinable public func store(to bytes: UnsafeMutableRawBufferPointer, at offset: Int) {
        bytes.storeBytes(of: rawValue.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    /// Parses dotted-quad text (`198.18.0.1`); exactly four decimal octets.
    public init?(_ text: some StringProtocol) {
        var value: UInt32 = 0
        var count = 0
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let octet = UInt8(part) else { return nil }
            value = value << 8 | UInt32(octet)
            count += 1
        }
        guard count == 4 else { return nil }
        rawValue = value
    }

    public var isMulticast: Bool { rawValue >> 28 == 0xE }
    public var isLoopback: Bool { rawValue >> 24 == 127 }
    public var isLinkLocal: Bool { rawValue >> 16 == 0xA9FE }
    public var isUnspecified: Bool { rawValue == 0 }

    public var description: String {
        "\(rawValue >> 24).\(rawValue >> 16 & 0xFF).\(rawValue >> 8 & 0xFF).\(rawValue & 0xFF)"
    }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.rawValue < b.rawValue }
}
