/// An IPv4 or IPv6 address.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// Parses either family's text form.
    public init?(_ text: some StringProtocol) {
        if let a = IPv4Address(text) { self = .v4(a) } else if let a = IPv6Address(text) { self = .v6(a) } else { return nil }
    }

    public var description: String {
        switch self { case .v4(let a): a.description; case .v6(let a): a.description }
    }
}

/// An IPv4 or IPv6 prefix (`198.18.0.0/15`, `fd00::/8`). Host bits are cleared.
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let length: UInt8

    /// Creates a prefix, clearing host bits. Returns nil if `length` exceeds the family's width.
    public init?(address: IPAddress, length: Int) {
        switch address {
        case .v4(let a):
            guard (0...32).contains(length) else { return nil }
            let mask: UInt32 = length == 0 ? 0 : ~0 << (32 - length)
            self.address = .v4(IPv4Address(rawValue: a.rawValue & mask))
        case .v6(let a):
            guard (0...128).contains(length) else { return nil }
            let mh: UInt64 = length == 0 ? 0 : (length >= 64 ? ~0 : ~0 << (64 - length))
            let ml: UInt64 = length <= 64 ? 0 : (length == 128 ? ~0 : ~0 << (128 - length))
            self.address = .v6(IPv6Address(high: a.high & mh, low: a.low & ml))
        }
        self.length = UInt8(length)
    }

    /// Parses `ADDRESS/LEN`; a bare address is a host prefix.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let a = IPAddress(parts[0]) else { return nil }
        let full: Int = if case .v4 = a { 32 } else { 128 }
        var len = full
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let l = Int(parts[1]) else { return nil }
            len = l
        }
        self.init(address: a, length: len)
    }

    /// Whether `other` lies inside this prefix.
    public func contains(_ other: IPAddress) -> Bool {
        switch (address, other) {
        case (.v4, .v4), (.v6, .v6):
            return IPPrefix(address: other, length: Int(length))?.address == address
        default: return false
        }
    }

    public var description: String { "\(address)/\(length)" }
}
