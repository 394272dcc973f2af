import BowmanCBOR
import BowmanControl
import BowmanCore
import BowmanTestSupport
import Foundation
import Testing

/// Python literals as graspy prints them: None, ints, 'strings', lists,
/// CBORTag(n, b'...').
struct PyLiteral {
    var s: [Character]
    var i = 0
    init(_ text: String) { s = Array(text) }

    mutating func parse() -> CBOR? {
        skip()
        if rest.hasPrefix("None") { i += 4; return .null }
        if rest.hasPrefix("True") { i += 4; return .bool(true) }
        if rest.hasPrefix("False") { i += 5; return .bool(false) }
        if rest.hasPrefix("CBORTag(") {
            i += 8
            guard let tag = number(), eat(","), let inner = parse(), eat(")"), case .unsigned(let t) = tag else { return nil }
            return .tagged(t, inner)
        }
        if rest.hasPrefix("b'") { i += 1; return quoted().map { .bytes($0) } }
        if s[i] == "'" { return quoted().map { .text(String(decoding: $0, as: UTF8.self)) } }
        if s[i] == "[" {
            i += 1
            var items: [CBOR] = []
            skip()
            if eat("]") { return .array(items) }
            while true {
                guard let v = parse() else { return nil }
                items.append(v)
                if eat("]") { return .array(items) }
                guard eat(",") else { return nil }
            }
        }
        return number()
    }

    var rest: String { String(s[i...]) }
    mutating func skip() { while i < s.count && s[i] == " " { i += 1 } }
    mutating func eat(_ c: Character) -> Bool { skip(); if i < s.count && s[i] == c { i += 1; return true }; return false }
    mutating func number() -> CBOR? {
        skip()
        var t = ""
        while i < s.count && (s[i].isNumber || s[i] == "-") { t.append(s[i]); i += 1 }
        guard let v = Int64(t) else { return nil }
        return .int(v)
    }
    /// A '...'-quoted literal with \\xNN, \\n, \\t, \\r, \\\\, \\' escapes, as bytes.
    mutating func quoted() -> [UInt8]? {
        guard s[i] == "'" else { return nil }
        i += 1
        var out: [UInt8] = []
        while i < s.count && s[i] != "'" {
            if s[i] == "\\" {
                i += 1
                switch s[i] {
                case "x": out.append(UInt8(String(s[(i + 1)...(i + 2)]), radix: 16)!); i += 3; continue
                case "n": out.append(10)
                case "t": out.append(9)
                case "r": out.append(13)
                default: out += Array(String(s[i]).utf8)
                }
                i += 1
            } else {
                out += Array(String(s[i]).utf8); i += 1
            }
        }
        i += 1
        return out
    }
}

/// Python's repr (str at the top level) of a value, as graspy prints it.
func py(_ v: CBOR, top: Bool = false) -> String {
    switch v {
    case .null: return "None"
    case .bool(let b): return b ? "True" : "False"
    case .unsigned, .negative: return "\(v)"
    case .text(let t): return top ? t : "'" + t + "'"
    case .bytes(let b):
        return "b'" + b.map { x -> String in
            switch x {
            case 0x5C: "\\\\"
            case 0x27: "\\'"
            case 0x0A: "\\n"
            case 0x09: "\\t"
            case 0x0D: "\\r"
            case 0x20...0x7E: String(UnicodeScalar(x))
            default: String(format: "\\x%02x", x)
            }
        }.joined() + "'"
    case .array(let a): return "[" + a.map { py($0) }.joined(separator: ", ") + "]"
    case .tagged(let t, let inner): return "CBORTag(\(t), \(py(inner)))"
    default: return "\(v)"
    }
}

/// Renders a message the way graspy's trace tool prints it.
func render(_ m: GRASPMessage) -> [String] {
    func flags(_ f: GRASPObjective.Flags) -> String {
        (f.contains(.discovery) ? "|Discoverable" : "") + (f.contains(.negotiation) ? "|Negotiable" : "")
            + (f.contains(.synchronization) ? "|Synchronizable" : "") + (f.contains(.dryRun) ? "|Dry Run" : "")
    }
    func objective(_ o: GRASPObjective, indent: String) -> [String] {
        ["\(indent)Objective: \(o.name)", "\(indent)    Flags: \(flags(o.flags))", "\(indent)    Loop count: \(o.loopCount)",
         "\(indent)    Value: \(py(o.value ?? .null, top: true))"]
    }
    func initiator(_ a: IPAddress) -> String {
        if case .v6(let v) = a { return "IPv6 Initiator: \(v)" }
        return "IPv4 Initiator: \(a)"
    }
    var out = ["Message type: \(m.type.rawValue) = \(m.type.name)"]
    switch m {
    case .noop: out.append("Session ID: 0")
    case .discovery(let s, let i, let o):
        out += ["Session ID: \(s)", initiator(i)] + objective(o, indent: "    ")
    case .response(let s, let i, let ttl, let opts, let o):
        out += ["Session ID: \(s)", initiator(i), "TTL: \(ttl)"]
        for opt in opts {
            if case .locator(.ipv6(let a, let t, let p)) = opt {
                out += ["    Option: 103 = O_IPv6_LOCATOR", "        Locator: \(a)", "            Protocol: \(t)", "            Port: \(p)"]
            }
        }
        if let o { out += objective(o, indent: "") }
    case .requestNegotiation(let s, let o), .requestSynchronization(let s, let o), .negotiate(let s, let o), .synch(let s, let o):
        out += ["Session ID: \(s)"] + objective(o, indent: "")
    case .end(let s, let opt):
        out.append("Session ID: \(s)")
        if case .decline(let r) = opt { out.append("    Option: 102 = O_DECLINE"); if let r { out.append("        Reason: \(r)") } }
        if case .accept = opt { out.append("    Option: 101 = O_ACCEPT") }
    case .wait(let s, let w): out += ["Session ID: \(s)", "TTL extension: \(w)"]
    case .flood(let s, let i, let ttl, let objs):
        out += ["Session ID: \(s)", initiator(i), "TTL: \(ttl)", "Flood list length: \(objs.count)"]
        for (o, _) in objs { out += objective(o, indent: "    ") }
    case .invalid(let s, _): out.append("Session ID: \(s)")
    }
    return out
}

/// Parses one trace block (without its "src ==> dst" line) into a message.
func parseBlock(_ lines: [String]) -> GRASPMessage? {
    func value(_ key: String) -> String? {
        lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(key + ": ") }
            .map { String($0.trimmingCharacters(in: .whitespaces).dropFirst(key.count + 2)) }
    }
    guard let typeText = value("Message type"), let code = UInt64(typeText.split(separator: " ")[0]),
          let type = GRASP.MessageType(rawValue: code) else { return nil }
    let session = UInt32(value("Session ID") ?? "0") ?? 0
    let initiator = value("IPv6 Initiator").flatMap { IPv6Address($0) }.map { IPAddress.v6($0) }
    func objectives() -> [GRASPObjective] {
        var out: [GRASPObjective] = []
        for (k, l) in lines.enumerated() where l.trimmingCharacters(in: .whitespaces).hasPrefix("Objective: ") {
            let name = String(l.trimmingCharacters(in: .whitespaces).dropFirst(11))
            let f = lines[k + 1].components(separatedBy: "Flags: ")[1]
            var flags: GRASPObjective.Flags = []
            if f.contains("Discoverable") { flags.insert(.discovery) }
            if f.contains("Negotiable") { flags.insert(.negotiation) }
            if f.contains("Synchronizable") { flags.insert(.synchronization) }
            if f.contains("Dry Run") { flags.insert(.dryRun) }
            let loop = UInt8(lines[k + 2].components(separatedBy: "Loop count: ")[1])!
            let raw = lines[k + 3].components(separatedBy: "Value: ")[1]
            var lit = PyLiteral(raw)
            let first = raw.first
            let v: CBOR = (first == "[" || first == "'" || raw == "None" || raw.hasPrefix("CBORTag(") || Int64(raw) != nil)
                ? (lit.parse() ?? .text(raw)) : .text(raw)
            out.append(GRASPObjective(name: name, flags: flags, loopCount: loop, value: v))
        }
        return out
    }
    switch type {
    case .noop: return .noop
    case .discovery: return .discovery(session: session, initiator: initiator!, objective: objectives()[0])
    case .response:
        var opts: [GRASPOption] = []
        for (k, l) in lines.enumerated() where l.contains("O_IPv6_LOCATOR") {
            let a = IPv6Address(lines[k + 1].components(separatedBy: "Locator: ")[1])!
            let t = UInt8(lines[k + 2].components(separatedBy: "Protocol: ")[1])!
            let p = UInt16(lines[k + 3].components(separatedBy: "Port: ")[1])!
            opts.append(.locator(.ipv6(a, transport: t, port: p)))
        }
        return .response(session: session, initiator: initiator!, ttl: UInt32(value("TTL")!)!, options: opts, objective: objectives().first)
    case .requestNegotiation: return .requestNegotiation(session: session, objective: objectives()[0])
    case .requestSynchronization: return .requestSynchronization(session: session, objective: objectives()[0])
    case .negotiate: return .negotiate(session: session, objective: objectives()[0])
    case .synch: return .synch(session: session, objective: objectives()[0])
    case .end:
        if lines.contains(where: { $0.contains("O_ACCEPT") }) { return .end(session: session, option: .accept) }
        return .end(session: session, option: .decline(reason: value("Reason")))
    case .wait: return .wait(session: session, waitingTime: UInt32(value("TTL extension")!)!)
    case .flood:
        return .flood(session: session, initiator: initiator!, ttl: UInt32(value("TTL")!)!, objectives: objectives().map { ($0, nil) })
    case .invalid: return .invalid(session: session, diagnostic: nil)
    }
}

@Suite struct GRASPTraceTests {
    /// Every message of graspy's trace is built, encoded to CBOR, decoded
    /// from the bytes, and printed back exactly as the trace shows it.
    @Test func traceMessagesRoundTrip() throws {
        let text = try String(contentsOfFile: TestData.path("grasp/graspy-example-grasp-trace.txt"), encoding: .utf8)
        let body = text.components(separatedBy: "GRASP Trace:")[1]
        let blocks = body.components(separatedBy: "\n\n").map { $0.split(separator: "\n").map(String.init) }.filter { $0.count > 1 }
        var checked = 0
        var types = Set<GRASP.MessageType>()
        for block in blocks {
            let lines = Array(block.dropFirst())   // "src ==> dst"
            guard let m = parseBlock(lines) else { Issue.record("cannot read block: \(block)"); continue }
            let bytes = m.encoded
            let back = try GRASPMessage(decoding: bytes)
            #expect(back == m)
            #expect(render(back) == lines, "\(lines.joined(separator: "\n"))\n--- rendered ---\n\(render(back).joined(separator: "\n"))")
            types.insert(m.type)
            checked += 1
        }
        #expect(checked == 83)
        #expect(types == [.noop, .discovery, .response, .requestNegotiation, .negotiate, .end, .wait, .flood])
    }

    @Test func everyMessageTypeRoundTrips() throws {
        let o = GRASPObjective(name: "bowman.alm", flags: [.discovery, .synchronization], loopCount: 6, value: .text("198.18.0.1:9998"))
        let me = IPAddress.v6(IPv6Address("fd00:18::1")!)
        let messages: [GRASPMessage] = [
            .noop, .discovery(session: 1, initiator: me, objective: o),
            .response(session: 2, initiator: me, ttl: 60_000, options: [.locator(.ipv6(IPv6Address("fe80::1")!, transport: 6, port: 7017))], objective: o),
            .response(session: 3, initiator: .v4(IPv4Address(198, 18, 0, 1)), ttl: 1, options: [.divert([.fqdn("peer.example", transport: 17, port: 9998)])], objective: nil),
            .requestNegotiation(session: 4, objective: o), .requestSynchronization(session: 5, objective: o), .negotiate(session: 6, objective: o),
            .end(session: 7, option: .accept), .end(session: 8, option: .decline(reason: nil)), .wait(session: 9, waitingTime: 500),
            .synch(session: 10, objective: o),
            .flood(session: 11, initiator: me, ttl: 59_000, objectives: [(o, .uri("https://x", transport: nil, port: nil)), (o, nil)]),
            .invalid(session: 12, diagnostic: .text("bad")),
        ]
        for m in messages {
            #expect(try GRASPMessage(decoding: m.encoded) == m)
            let cut = m.encoded.dropLast()
            #expect(throws: GRASPError.self) { _ = try GRASPMessage(decoding: Array(cut)) }
        }
    }

    /// Malformed messages are refused with the field named (RFC 8990 §2.8:
    /// an invalid message is answered with M_INVALID or dropped, never fatal).
    @Test(arguments: [
        ("[]", "a message must be an array starting with its type"),
        ("[42, 1]", "unknown message type 42"),
        ("[1, -1, h'00', [\"x\", 0, 1]]", "M_DISCOVERY: field 1 (session id) must be an unsigned 32-bit integer"),
        ("[1, 5, h'0011', [\"x\", 0, 1]]", "M_DISCOVERY: field 2 (initiator) must be 4 or 16 bytes, not 2"),
        ("[1, 5, h'00000000', [1, 0, 1]]", "M_DISCOVERY: objective name must be a text string"),
        ("[1, 5, h'00000000', [\"x\", 0, 300]]", "M_DISCOVERY: objective 'x' loop count must be 0 to 255"),
        ("[6, 5, [103, h'00', 6, 7017]]", "M_END: O_IPv6_LOCATOR address must be 16 bytes"),
        ("[7, 5]", "M_WAIT: 2 fields, expected 3…3"),
        ("[0, 1]", "M_NOOP takes no fields"),
    ])
    func malformed(_ diagnostic: String, _ expected: String) throws {
        let item = try #require(fromDiagnostic(diagnostic))
        #expect(throws: GRASPError(expected)) { _ = try GRASPMessage(item) }
    }
}

/// A tiny reader for the diagnostic forms the malformed cases use.
func fromDiagnostic(_ s: String) -> CBOR? {
    var p = PyLiteral(s.replacingOccurrences(of: "\"", with: "'").replacingOccurrences(of: "h'", with: "H'"))
    return p.parseDiag()
}

extension PyLiteral {
    mutating func parseDiag() -> CBOR? {
        skip()
        if rest.hasPrefix("H'") {
            i += 2
            var hex = ""
            while s[i] != "'" { hex.append(s[i]); i += 1 }
            i += 1
            var b: [UInt8] = []
            var k = hex.startIndex
            while k < hex.endIndex { let j = hex.index(k, offsetBy: 2); b.append(UInt8(hex[k..<j], radix: 16)!); k = j }
            return .bytes(b)
        }
        if s[i] == "[" {
            i += 1
            var items: [CBOR] = []
            if eat("]") { return .array(items) }
            while true {
                guard let v = parseDiag() else { return nil }
                items.append(v)
                if eat("]") { return .array(items) }
                guard eat(",") else { return nil }
            }
        }
        return parse()
    }
}
