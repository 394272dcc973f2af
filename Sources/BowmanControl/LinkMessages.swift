/// The text messages of Odyssey's node administration (the seed's "Abstract
/// Link Manager", "Abstract Topology manager" and "Routing Table manager"):
/// ALP (UDP 9998) creates and destroys abstract links, ATP (UDP 9999) names
/// topologies made of links, and routing control (UDP 9990) declares
/// multi-homed hosts and asks for a route table to be computed. All three
/// are parenthesised lists of words (ALP groups a link's fields in braces);
/// this file parses them exactly in the seed's syntax and refuses anything
/// else with the line and column of the first wrong token.
public struct ControlMessageError: Error, Equatable, Sendable, CustomStringConvertible {
    public var line: Int, column: Int, reason: String
    public init(line: Int, column: Int, reason: String) { self.line = line; self.column = column; self.reason = reason }
    public var description: String { "line \(line), column \(column): \(reason)" }
}

/// A parenthesised message as a tree of words and lists.
public indirect enum SExpression: Sendable, Equatable {
    case word(String, line: Int, column: Int)
    /// `braces`: `{ ... }` rather than `( ... )`.
    case list([SExpression], braces: Bool, line: Int, column: Int)

    public var position: (Int, Int) {
        switch self {
        case .word(_, let l, let c), .list(_, _, let l, let c): (l, c)
        }
    }
    public var word: String? { if case .word(let w, _, _) = self { w } else { nil } }

    /// Every top-level expression of `text`.
    public static func parse(_ text: String) throws(ControlMessageError) -> [SExpression] {
        var tokens: [(String, Int, Int)] = []
        var line = 1, column = 1
        var current = "", start = (1, 1)
        func flush() { if !current.isEmpty { tokens.append((current, start.0, start.1)); current = "" } }
        for ch in text {
            if ch == "(" || ch == ")" || ch == "{" || ch == "}" {
                flush()
                tokens.append((String(ch), line, column))
            } else if ch.isWhitespace {
                flush()
            } else {
                if current.isEmpty { start = (line, column) }
                current.append(ch)
            }
            if ch == "\n" || ch == "\r\n" { line += 1; column = 1 } else { column += 1 }
        }
        flush()
        var i = 0
        var out: [SExpression] = []
        func parseOne() throws(ControlMessageError) -> SExpression {
            let (t, l, c) = tokens[i]
            i += 1
            switch t {
            case "(", "{":
                let close = t == "(" ? ")" : "}"
                var items: [SExpression] = []
                while true {
                    guard i < tokens.count else {
                        throw ControlMessageError(line: l, column: c, reason: "'\(t)' is never closed")
                    }
                    let (n, nl, nc) = tokens[i]
                    if n == close { i += 1; return .list(items, braces: t == "{", line: l, column: c) }
                    if n == ")" || n == "}" {
                        throw ControlMessageError(line: nl, column: nc, reason: "'\(n)' closes the '\(t)' at line \(l), column \(c)")
                    }
                    items.append(try parseOne())
                }
            case ")", "}":
                throw ControlMessageError(line: l, column: c, reason: "'\(t)' closes nothing")
            default:
                return .word(t, line: l, column: c)
            }
        }
        while i < tokens.count { out.append(try parseOne()) }
        return out
    }
}

// MARK: ALP

/// One abstract link description of an ALP message.
public struct AbstractLink: Sendable, Equatable {
    public enum Proto: String, Sendable { case ether, udp }
    public enum Direction: String, Sendable { case bi, uniIncoming = "uni-incoming", uniOutgoing = "uni-outgoing" }
    public enum Access: String, Sendable { case regular, privileged }
    public struct Host: Sendable, Equatable {
        public var address: String
        /// UDP links: the port; ether links: the device.
        public var port: UInt16?
        public var device: String?
        public init(address: String, port: UInt16? = nil, device: String? = nil) { self.address = address; self.port = port; self.device = device }
    }
    public var name: String
    public var proto: Proto
    public var hosts: [Host]
    public var up: Bool
    public var direction: Direction
    /// `point-to-point`, `multi-point`, `broadcast`, `absolute`, `relative`, `raw` (several may be given).
    public var types: [String]
    public var access: Access
    public var attributes: [String]
    public init(name: String, proto: Proto, hosts: [Host], up: Bool = true, direction: Direction = .bi,
                types: [String] = [], access: Access = .regular, attributes: [String] = []) {
        self.name = name; self.proto = proto; self.hosts = hosts; self.up = up; self.direction = direction
        self.types = types; self.access = access; self.attributes = attributes
    }
}

public enum ALPCommand: Sendable, Equatable {
    case create(AbstractLink)
    /// `destroy` needs only the link's name (other fields, if given, are checked and ignored).
    case destroy(name: String)
}

public enum ALP {
    public static let port: UInt16 = 9998
    static let linkTypes: Set<String> = ["point-to-point", "multi-point", "broadcast", "absolute", "relative", "raw"]

    static func fail(_ e: SExpression, _ why: String) -> ControlMessageError {
        let (l, c) = e.position
        return ControlMessageError(line: l, column: c, reason: why)
    }

    /// `(keyword value)`: the keyword and the values after it.
    static func field(_ e: SExpression) throws(ControlMessageError) -> (String, [SExpression]) {
        guard case .list(let items, false, _, _) = e, let k = items.first?.word else {
            throw fail(e, "a field is expected here: (keyword value)")
        }
        return (k, Array(items.dropFirst()))
    }

    static func oneWord(_ e: SExpression, _ key: String, _ values: [SExpression]) throws(ControlMessageError) -> String {
        guard values.count == 1, let w = values[0].word else { throw fail(e, "(\(key) ...) takes one word") }
        return w
    }

    /// Parses a whole ALP message: one or more `(create { ... })` / `(destroy { ... })`.
    public static func parse(_ text: String) throws(ControlMessageError) -> [ALPCommand] {
        let top = try SExpression.parse(text)
        guard !top.isEmpty else { throw ControlMessageError(line: 1, column: 1, reason: "the message is empty") }
        var out: [ALPCommand] = []
        for e in top {
            guard case .list(let items, false, _, _) = e, let verb = items.first?.word else {
                throw fail(e, "expected (create { ... }) or (destroy { ... })")
            }
            guard verb == "create" || verb == "destroy" else { throw fail(items[0], "unknown command '\(verb)' (create, destroy)") }
            guard items.count == 2, case .list(let fields, true, _, _) = items[1] else {
                throw fail(items.count > 1 ? items[1] : e, "\(verb) takes one link description in braces: (\(verb) { ... })")
            }
            let link = try description(fields, at: items[1], creating: verb == "create")
            out.append(verb == "create" ? .create(link!) : .destroy(name: try name(fields, at: items[1])))
        }
        return out
    }

    static func name(_ fields: [SExpression], at e: SExpression) throws(ControlMessageError) -> String {
        for f in fields { if case .list(let i, false, _, _) = f, i.first?.word == "name", i.count == 2, let n = i[1].word { return n } }
        throw fail(e, "the link has no (name LinkName)")
    }

    static func description(_ fields: [SExpression], at where_: SExpression, creating: Bool) throws(ControlMessageError) -> AbstractLink? {
        var name: String?, proto: AbstractLink.Proto?, hosts: [AbstractLink.Host] = []
        var up = true, dir = AbstractLink.Direction.bi, types: [String] = [], access = AbstractLink.Access.regular, attrs: [String] = []
        var seen: Set<String> = []
        for f in fields {
            guard case .list(let items, false, _, _) = f, let first = items.first else { throw fail(f, "a field is expected here: (keyword value)") }
            // The proto group is `( proto udp (host ...) (host ...) )`: its first word is `proto`.
            let key: String
            if let w = first.word { key = w } else { throw fail(first, "a keyword is expected here") }
            let values = Array(items.dropFirst())
            if key != "type" && key != "attribute" {
                guard !seen.contains(key) else { throw fail(f, "(\(key) ...) is given twice") }
                seen.insert(key)
            }
            switch key {
            case "name": name = try oneWord(f, key, values)
            case "proto":
                guard let p = values.first?.word else { throw fail(f, "proto needs ether or udp") }
                guard let pp = AbstractLink.Proto(rawValue: p) else { throw fail(values[0], "unknown proto '\(p)' (ether, udp)") }
                proto = pp
                for h in values.dropFirst() { hosts.append(try host(h, proto: pp)) }
                guard hosts.count == 2 else {
                    throw fail(f, hosts.count < 2 ? "a link needs two (host ...), this one has \(hosts.count)" : "a link has two hosts, not \(hosts.count)")
                }
            case "status":
                let s = try oneWord(f, key, values)
                guard s == "up" || s == "down" else { throw fail(values[0], "status is up or down, not '\(s)'") }
                up = s == "up"
            case "dir":
                let d = try oneWord(f, key, values)
                guard let dd = AbstractLink.Direction(rawValue: d) else { throw fail(values[0], "dir is bi, uni-incoming or uni-outgoing, not '\(d)'") }
                dir = dd
            case "type":
                let t = try oneWord(f, key, values)
                guard linkTypes.contains(t) else { throw fail(values[0], "unknown link type '\(t)' (\(linkTypes.sorted().joined(separator: ", ")))") }
                types.append(t)
            case "access":
                let a = try oneWord(f, key, values)
                guard let aa = AbstractLink.Access(rawValue: a) else { throw fail(values[0], "access is regular or privileged, not '\(a)'") }
                access = aa
            case "attribute": attrs.append(try oneWord(f, key, values))
            default: throw fail(first, "unknown keyword '\(key)' (name, proto, status, dir, type, access, attribute)")
            }
        }
        guard let name else { throw fail(where_, "the link has no (name LinkName)") }
        guard creating else { return nil }
        guard let proto else { throw fail(where_, "link '\(name)' has no ( proto ether|udp (host ...) (host ...) )") }
        return AbstractLink(name: name, proto: proto, hosts: hosts, up: up, direction: dir, types: types, access: access, attributes: attrs)
    }

    /// `(host (addr HostName) (port N))` or `(host (addr HostName) (dev-name D))`.
    static func host(_ e: SExpression, proto: AbstractLink.Proto) throws(ControlMessageError) -> AbstractLink.Host {
        guard case .list(let items, false, _, _) = e, items.first?.word == "host" else { throw fail(e, "expected (host (addr HostName) (port N|dev-name D))") }
        var h = AbstractLink.Host(address: "")
        for f in items.dropFirst() {
            let (k, v) = try field(f)
            switch k {
            case "addr": h.address = try oneWord(f, k, v)
            case "port":
                let p = try oneWord(f, k, v)
                guard let n = UInt16(p), n > 0 else { throw fail(v[0], "port '\(p)' is not a number from 1 to 65535") }
                h.port = n
            case "dev-name":
                // "Device Name" may be more than one word in the seed's grammar.
                guard !v.isEmpty, v.allSatisfy({ $0.word != nil }) else { throw fail(f, "(dev-name Device) takes a device name") }
                h.device = v.compactMap(\.word).joined(separator: " ")
            default: throw fail(f, "unknown host field '\(k)' (addr, port, dev-name)")
            }
        }
        guard !h.address.isEmpty else { throw fail(e, "the host has no (addr HostName)") }
        switch proto {
        case .udp:
            guard h.port != nil, h.device == nil else { throw fail(e, "a udp link's host needs (port N) and no dev-name") }
        case .ether:
            guard h.device != nil, h.port == nil else { throw fail(e, "an ether link's host needs (dev-name D) and no port") }
        }
        return h
    }
}

// MARK: ATP

/// An ATP message: a topology's name and the links to add to it or delete from it, in order.
public struct ATPMessage: Sendable, Equatable {
    public enum Change: Sendable, Equatable { case add(String), delete(String) }
    public var name: String
    public var changes: [Change]
    public init(name: String, changes: [Change]) { self.name = name; self.changes = changes }
}

public enum ATP {
    public static let port: UInt16 = 9999

    public static func parse(_ text: String) throws(ControlMessageError) -> ATPMessage {
        let top = try SExpression.parse(text)
        guard let first = top.first else { throw ControlMessageError(line: 1, column: 1, reason: "the message is empty") }
        let (k, v) = try ALP.field(first)
        guard k == "name" else { throw ALP.fail(first, "an ATP message starts with (name TopologyName), not (\(k) ...)") }
        var m = ATPMessage(name: try ALP.oneWord(first, k, v), changes: [])
        for e in top.dropFirst() {
            let (k, v) = try ALP.field(e)
            let link = try ALP.oneWord(e, k, v)
            switch k {
            case "add": m.changes.append(.add(link))
            case "delete": m.changes.append(.delete(link))
            case "name": throw ALP.fail(e, "one topology a message: (name ...) is given twice")
            default: throw ALP.fail(e, "unknown keyword '\(k)' (add, delete)")
            }
        }
        return m
    }
}

// MARK: Routing control

public enum RoutingCommand: Sendable, Equatable {
    case multiHome([String])
    case calculate(topology: String, table: String)
}

public enum RoutingControl {
    public static let port: UInt16 = 9990

    public static func parse(_ text: String) throws(ControlMessageError) -> [RoutingCommand] {
        let top = try SExpression.parse(text)
        guard !top.isEmpty else { throw ControlMessageError(line: 1, column: 1, reason: "the message is empty") }
        var out: [RoutingCommand] = []
        for e in top {
            let (k, v) = try ALP.field(e)
            switch k {
            case "multi_home":
                let hosts = v.compactMap(\.word)
                guard hosts.count == v.count else { throw ALP.fail(e, "(multi_home ...) takes host names") }
                guard hosts.count >= 2 else { throw ALP.fail(e, "(multi_home ...) names at least two hosts") }
                out.append(.multiHome(hosts))
            case "calculate":
                guard v.count == 2, let t = v[0].word, let r = v[1].word else { throw ALP.fail(e, "(calculate Topology RouteTable) takes two names") }
                out.append(.calculate(topology: t, table: r))
            default: throw ALP.fail(e, "unknown command '\(k)' (multi_home, calculate)")
            }
        }
        return out
    }
}
