import BowmanCore

/// A port named on the command line: `af_xdp:IF:QUEUE`, `af_packet:IF`,
/// `pcap:FILE` (a capture replayed as input) or `pcap-out:FILE` (written
/// as output).
public enum PortSpec: Equatable, Sendable, CustomStringConvertible {
    case afXDP(interface: String, queue: UInt32)
    case afPacket(interface: String)
    case pcapIn(path: String)
    case pcapOut(path: String)

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
        case "pcap", "pcap-in":
            // A path may hold ':'; everything after the kind is the path.
            let path = parts.dropFirst().joined(separator: ":")
            guard !path.isEmpty else { throw bad("expected pcap:FILE") }
            self = .pcapIn(path: path)
        case "pcap-out":
            let path = parts.dropFirst().joined(separator: ":")
            guard !path.isEmpty else { throw bad("expected pcap-out:FILE") }
            self = .pcapOut(path: path)
        default:
            throw bad("unknown port kind '\(kind)' (af_xdp, af_packet, pcap, pcap-out)")
        }
    }

    /// The interface (a pcap port's file path).
    public var interface: String {
        switch self { case .afXDP(let i, _), .afPacket(let i): i; case .pcapIn(let p), .pcapOut(let p): p }
    }

    public var isPcap: Bool {
        switch self { case .pcapIn, .pcapOut: true; default: false }
    }

    public var description: String {
        switch self {
        case .afXDP(let i, let q): "af_xdp:\(i):\(q)"
        case .afPacket(let i): "af_packet:\(i)"
        case .pcapIn(let p): "pcap:\(p)"
        case .pcapOut(let p): "pcap-out:\(p)"
        }
    }
}
