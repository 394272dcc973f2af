import BowmanCore

/// A port named on the command line: `af_xdp:IF:QUEUE` or `af_packet:IF`.
public enum PortSpec: Equatable, Sendable, CustomStringConvertible {
    case afXDP(interface: String, queue: UInt32)
    case afPacket(interface: String)

    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(parsing text: String) throws(ParseError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func bad(_ why: String) -> ParseError { ParseError(description: "port '\(text)': \(why)") }
        guard let kind = parts.first else { throw bad("empty") }
        switch kind {
        case "af_xdp", "afxdp", "xdp":
            guard parts.count == 3, !parts[1].isEmpty else { throw bad("expected af_xdp:INTERFACE:QUEUE") }
            guard let q = UInt32(parts[2]) else { throw bad("queue '\(parts[2])' is not a number") }
            self = .afXDP(interface: parts[1], queue: q)
        case "af_packet", "afpacket", "packet":
            guard parts.count == 2, !parts[1].isEmpty else { throw bad("expected af_packet:INTERFACE") }
            self = .afPacket(interface: parts[1])
        default:
            throw bad("unknown port kind '\(kind)' (af_xdp, af_packet)")
        }
    }

    public var interface: String {
        switch self { case .afXDP(let i, _), .afPacket(let i): i }
    }

    public var description: String {
        switch self {
        case .afXDP(let i, let q): "af_xdp:\(i):\(q)"
        case .afPacket(let i): "af_packet:\(i)"
        }
    }
}
