/// A capture file could not be opened, read or written.
public struct PcapError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable { case open, read, write }
    public var kind: Kind
    public var path: String
    public var message: String
    public init(_ kind: Kind, path: String, _ message: String) { self.kind = kind; self.path = path; self.message = message }
    public var description: String {
        switch kind {
        case .open: "\(path): cannot open capture: \(message)"
        case .read: "\(path): read error: \(message)"
        case .write: "\(path): write error: \(message)"
        }
    }
}

/// A capture timestamp with nanosecond resolution.
public struct PcapTimestamp: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var seconds: Int64
    public var nanoseconds: UInt32
    public init(seconds: Int64, nanoseconds: UInt32) { self.seconds = seconds; self.nanoseconds = nanoseconds }
    public static func < (a: Self, b: Self) -> Bool { (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds) }
    /// `seconds.nnnnnnnnn`, like `tcpdump -tt --nano`.
    public var description: String {
        let n = String(nanoseconds)
        return "\(seconds).\(String(repeating: "0", count: max(0, 9 - n.count)))\(n)"
    }
}

/// Resolution a capture file stores its timestamps in.
public enum TimestampPrecision: Sendable, Equatable { case microseconds, nanoseconds }

/// One packet of a capture, copied out (tests, tools).
public struct PcapPacket: Sendable, Equatable {
    public var timestamp: PcapTimestamp
    public var wireLength: Int
    public var bytes: [UInt8]
    public init(timestamp: PcapTimestamp, wireLength: Int, bytes: [UInt8]) {
        self.timestamp = timestamp; self.wireLength = wireLength; self.bytes = bytes
    }
}

/// A NUL-terminated C buffer as a String.
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

import BowmanSystem

extension SystemClock {
    /// Now, as a capture timestamp.
    public static var realtimeTimestamp: PcapTimestamp {
        let t = realtime
        return PcapTimestamp(seconds: t.seconds, nanoseconds: t.nanoseconds)
    }
}
