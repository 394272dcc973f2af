import BowmanCore
import BowmanPacket

/// ClassBench 5-tuple rule sets and traces (Taylor & Turner), as in
/// ../shared/testdata/classbench: one rule per line,
/// `@SRC/LEN DST/LEN SPORT_LO : SPORT_HI DPORT_LO : DPORT_HI PROTO/MASK FLAGS/MASK`,
/// highest priority first.
public enum ClassBench {
    /// One rule as read from its file.
    public struct Rule: Equatable, Sendable {
        /// 1-based line number: the rule's number and priority.
        public var line: Int
        public var source: IPPrefix
        public var destination: IPPrefix
        public var sourcePorts: ClosedRange<UInt16>
        public var destinationPorts: ClosedRange<UInt16>
        public var proto: UInt8
        public var protoMask: UInt8

        /// The rule in Bowman's filter language. Wildcards are left out, so
        /// the predicate count is the number of fields that constrain.
        /// Ports sit in the `ports` header (after `ip`), whatever the protocol,
        /// as ClassBench applies them.
        public var filterText: String {
            var ip = ""
            if source.length > 0 { ip += " (src = \(source))" }
            if destination.length > 0 { ip += " (dst = \(destination))" }
            if protoMask == 0xFF { ip += " (proto = \(proto))" } else if protoMask != 0 { ip += " (proto & \(protoMask) = \(proto & protoMask))" }
            var ports = ""
            if sourcePorts != 0...65535 { ports += " (sport in \(sourcePorts.lowerBound)..\(sourcePorts.upperBound))" }
            if destinationPorts != 0...65535 { ports += " (dport in \(destinationPorts.lowerBound)..\(destinationPorts.upperBound))" }
            return "[ ethernet (proto = ETHERTYPE_IP) | ip\(ip) |" + (ports.isEmpty ? " *" : " ports\(ports) | *") + " ]"
        }
    }

    /// The `ports` pseudo-header the filters use: the first four bytes after the IP header.
    public static let portsProtocol = "(protocol ports (field sport offset 0 length 2) (field dport offset 2 length 2) (hdr_len 4))"

    /// Parses a whole rule file; an error names the line and column.
    public static func parseRules(_ text: String) throws(ClassifierError) -> [Rule] {
        var out: [Rule] = []
        var lineNumber = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            out.append(try parseRule(String(line), line: lineNumber))
        }
        return out
    }

    static func parseRule(_ text: String, line: Int) throws(ClassifierError) -> Rule {
        // Tokens with their columns; ":" separates range ends.
        var tokens: [(String, Int)] = []
        var current = "", start = 0, column = 0
        for c in text {
            column += 1
            if c == " " || c == "\t" {
                if !current.isEmpty { tokens.append((current, start)); current = "" }
            } else if c == ":" {
                if !current.isEmpty { tokens.append((current, start)); current = "" }
                tokens.append((":", column))
            } else {
                if current.isEmpty { start = column }
                current.append(c)
            }
        }
        if !current.isEmpty { tokens.append((current, start)) }
        func fail(_ msg: String, _ col: Int) -> ClassifierError { ClassifierError(msg, at: SourceLocation(line: line, column: col)) }
        guard tokens.count >= 9 else { throw fail("expected '@SRC/LEN DST/LEN SP : SP DP : DP PROTO/MASK [FLAGS/MASK]', found \(tokens.count) fields", 1) }
        var (first, firstCol) = tokens[0]
        guard first.hasPrefix("@") else { throw fail("a rule starts with '@'", firstCol) }
        first.removeFirst(); firstCol += 1
        func prefix(_ s: String, _ col: Int) throws(ClassifierError) -> IPPrefix {
            guard s.contains("/"), let p = IPPrefix(s), case .v4 = p.address else { throw fail("'\(s)' is not an IPv4 prefix", col) }
            return p
        }
        func port(_ s: String, _ col: Int) throws(ClassifierError) -> UInt16 {
            guard let v = UInt16(s) else { throw fail("'\(s)' is not a port (0 to 65535)", col) }
            return v
        }
        let src = try prefix(first, firstCol)
        let dst = try prefix(tokens[1].0, tokens[1].1)
        guard tokens[3].0 == ":", tokens[6].0 == ":" else { throw fail("expected 'LO : HI' port ranges", tokens[2].1) }
        let sLo = try port(tokens[2].0, tokens[2].1), sHi = try port(tokens[4].0, tokens[4].1)
        let dLo = try port(tokens[5].0, tokens[5].1), dHi = try port(tokens[7].0, tokens[7].1)
        guard sLo <= sHi else { throw fail("empty port range \(sLo) : \(sHi)", tokens[2].1) }
        guard dLo <= dHi else { throw fail("empty port range \(dLo) : \(dHi)", tokens[5].1) }
        let pm = tokens[8].0.split(separator: "/")
        guard pm.count == 2, let p = parseNumber(String(pm[0])), let m = parseNumber(String(pm[1])), p <= 255, m <= 255 else {
            throw fail("'\(tokens[8].0)' is not PROTO/MASK", tokens[8].1)
        }
        return Rule(line: line, source: src, destination: dst, sourcePorts: sLo...sHi, destinationPorts: dLo...dHi,
                    proto: UInt8(p), protoMask: UInt8(m))
    }

    /// Loads a rule set into a first-match classifier: priority and demux id = line number.
    public static func classifier(_ rules: [Rule], policy: MatchPolicy = .firstMatch) throws(ClassifierError) -> Classifier {
        var c = Classifier(policy: policy)
        try c.addProtocol(portsProtocol)
        for r in rules {
            do throws(ClassifierError) {
                try c.addFilter(r.filterText, demuxID: r.line, priority: r.line)
            } catch {
                throw ClassifierError("rule on line \(r.line): \(error.message)", at: SourceLocation(line: r.line, column: 1))
            }
        }
        return c
    }

    /// One trace entry: `SIP DIP SPORT DPORT PROTO ...` with addresses as
    /// decimal 32-bit integers.
    public struct TraceEntry: Equatable, Sendable {
        public var source: IPv4Address, destination: IPv4Address
        public var sourcePort: UInt16, destinationPort: UInt16
        public var proto: UInt8
        public init(source: IPv4Address, destination: IPv4Address, sourcePort: UInt16, destinationPort: UInt16, proto: UInt8) {
            self.source = source; self.destination = destination
            self.sourcePort = sourcePort; self.destinationPort = destinationPort; self.proto = proto
        }
    }

    /// A header inside `rule` (as ClassBench's trace generator makes them):
    /// addresses inside its prefixes, ports inside its ranges, its protocol
    /// (TCP, UDP or ICMP when it has none).
    public static func header(inside rule: Rule, using rng: inout some RandomNumberGenerator) -> TraceEntry {
        func inside(_ p: IPPrefix) -> IPv4Address {
            guard case .v4(let a) = p.address else { return IPv4Address(rawValue: 0) }
            let host: UInt32 = p.length == 32 ? 0 : UInt32.random(in: 0...UInt32.max, using: &rng) & (UInt32.max >> UInt32(p.length))
            return IPv4Address(rawValue: a.rawValue | host)
        }
        return TraceEntry(source: inside(rule.source), destination: inside(rule.destination),
                          sourcePort: UInt16.random(in: rule.sourcePorts, using: &rng),
                          destinationPort: UInt16.random(in: rule.destinationPorts, using: &rng),
                          proto: rule.protoMask == 0 ? [6, 17, 1][Int.random(in: 0...2, using: &rng)] : rule.proto)
    }

    public static func parseTrace(_ line: String, number: Int) throws(ClassifierError) -> TraceEntry {
        let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard f.count >= 5, let s = UInt32(f[0]), let d = UInt32(f[1]), let sp = UInt16(f[2]), let dp = UInt16(f[3]), let p = UInt8(f[4]) else {
            throw ClassifierError("expected 'SIP DIP SPORT DPORT PROTO' (decimal)", at: SourceLocation(line: number, column: 1))
        }
        return TraceEntry(source: IPv4Address(rawValue: s), destination: IPv4Address(rawValue: d), sourcePort: sp, destinationPort: dp, proto: p)
    }
}

extension ClassBench.TraceEntry {
    /// An Ethernet/IPv4 frame carrying this 5-tuple: a TCP or UDP header,
    /// or for other protocols the two ports as the first payload bytes (where
    /// ClassBench rules look for them).
    public func frame() -> [UInt8] {
        let ip = FrameSpec.IPv4Spec(source: source, destination: destination)
        let t: FrameSpec.Transport
        var payload: [UInt8] = []
        switch proto {
        case 6: t = .tcp(source: sourcePort, destination: destinationPort, sequence: 0, acknowledgment: 0, flags: 0x10, window: 1)
        case 17: t = .udp(source: sourcePort, destination: destinationPort)
        default:
            t = .none(protocol: proto)
            payload = [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), UInt8(destinationPort >> 8), UInt8(destinationPort & 0xFF), 0, 0, 0, 0]
        }
        return (try? PacketBuilder.bytes(FrameSpec(network: .ipv4(ip), transport: t, payload: payload))) ?? []
    }
}
