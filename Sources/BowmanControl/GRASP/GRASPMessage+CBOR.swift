import BowmanCBOR
import BowmanCore

extension GRASPObjective {
    var cbor: CBOR {
        var a: [CBOR] = [.text(name), .unsigned(flags.rawValue), .unsigned(UInt64(loopCount))]
        if let v = value { a.append(v) }
        return .array(a)
    }

    init(_ c: CBOR, in where_: String) throws(GRASPError) {
        guard case .array(let a) = c, a.count == 3 || a.count == 4 else {
            throw GRASPError("\(where_): objective must be [name, flags, loop-count, ?value]")
        }
        guard case .text(let n) = a[0] else { throw GRASPError("\(where_): objective name must be a text string") }
        guard case .unsigned(let f) = a[1], f <= 0xFF else { throw GRASPError("\(where_): objective '\(n)' flags must be an unsigned integer") }
        guard case .unsigned(let l) = a[2], l <= 255 else { throw GRASPError("\(where_): objective '\(n)' loop count must be 0 to 255") }
        self.init(name: n, flags: Flags(rawValue: f), loopCount: UInt8(l), value: a.count == 4 ? a[3] : nil)
    }
}

extension GRASPLocator {
    var cbor: CBOR {
        switch self {
        case .ipv6(let a, let t, let p):
            var b = [UInt8](repeating: 0, count: 16)
            b.withUnsafeMutableBytes { a.store(to: $0, at: 0) }
            return .array([.unsigned(GRASP.OptionType.ipv6Locator.rawValue), .bytes(b), .unsigned(UInt64(t)), .unsigned(UInt64(p))])
        case .ipv4(let a, let t, let p):
            let v = a.rawValue
            return .array([.unsigned(GRASP.OptionType.ipv4Locator.rawValue), .bytes([UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]),
                           .unsigned(UInt64(t)), .unsigned(UInt64(p))])
        case .fqdn(let n, let t, let p):
            return .array([.unsigned(GRASP.OptionType.fqdnLocator.rawValue), .text(n), .unsigned(UInt64(t)), .unsigned(UInt64(p))])
        case .uri(let u, let t, let p):
            return .array([.unsigned(GRASP.OptionType.uriLocator.rawValue), .text(u), t.map { .unsigned(UInt64($0)) } ?? .null,
                           p.map { .unsigned(UInt64($0)) } ?? .null])
        }
    }

    init(_ c: CBOR, in where_: String) throws(GRASPError) {
        guard case .array(let a) = c, a.count == 4, case .unsigned(let code) = a[0] else {
            throw GRASPError("\(where_): locator option must be [O_*_LOCATOR, address, transport, port]")
        }
        func small(_ x: CBOR, _ name: String, max: UInt64) throws(GRASPError) -> UInt64 {
            guard case .unsigned(let v) = x, v <= max else { throw GRASPError("\(where_): locator \(name) must be 0 to \(max)") }
            return v
        }
        switch GRASP.OptionType(rawValue: code) {
        case .ipv6Locator:
            guard case .bytes(let b) = a[1], b.count == 16 else { throw GRASPError("\(where_): O_IPv6_LOCATOR address must be 16 bytes") }
            let addr = b.withUnsafeBytes { IPv6Address(loadingFrom: $0, at: 0) }
            self = .ipv6(addr, transport: UInt8(try small(a[2], "transport", max: 255)), port: UInt16(try small(a[3], "port", max: 65535)))
        case .ipv4Locator:
            guard case .bytes(let b) = a[1], b.count == 4 else { throw GRASPError("\(where_): O_IPv4_LOCATOR address must be 4 bytes") }
            self = .ipv4(IPv4Address(b[0], b[1], b[2], b[3]), transport: UInt8(try small(a[2], "transport", max: 255)),
                         port: UInt16(try small(a[3], "port", max: 65535)))
        case .fqdnLocator:
            guard case .text(let n) = a[1] else { throw GRASPError("\(where_): O_FQDN_LOCATOR name must be text") }
            self = .fqdn(n, transport: UInt8(try small(a[2], "transport", max: 255)), port: UInt16(try small(a[3], "port", max: 65535)))
        case .uriLocator:
            guard case .text(let u) = a[1] else { throw GRASPError("\(where_): O_URI_LOCATOR URI must be text") }
            let t: UInt8? = a[2] == .null ? nil : UInt8(try small(a[2], "transport", max: 255))
            let p: UInt16? = a[3] == .null ? nil : UInt16(try small(a[3], "port", max: 65535))
            self = .uri(u, transport: t, port: p)
        default:
            throw GRASPError("\(where_): option \(code) is not a locator")
        }
    }
}

extension GRASPOption {
    var cbor: CBOR {
        switch self {
        case .divert(let l): .array([.unsigned(GRASP.OptionType.divert.rawValue)] + l.map(\.cbor))
        case .accept: .array([.unsigned(GRASP.OptionType.accept.rawValue)])
        case .decline(let r): .array([.unsigned(GRASP.OptionType.decline.rawValue)] + (r.map { [.text($0)] } ?? []))
        case .locator(let l): l.cbor
        }
    }

    init(_ c: CBOR, in where_: String) throws(GRASPError) {
        guard case .array(let a) = c, let first = a.first, case .unsigned(let code) = first else {
            throw GRASPError("\(where_): option must be an array starting with its code")
        }
        switch GRASP.OptionType(rawValue: code) {
        case .divert:
            var l: [GRASPLocator] = []
            for x in a.dropFirst() { l.append(try GRASPLocator(x, in: where_ + " O_DIVERT")) }
            guard !l.isEmpty else { throw GRASPError("\(where_): O_DIVERT needs a locator") }
            self = .divert(l)
        case .accept:
            guard a.count == 1 else { throw GRASPError("\(where_): O_ACCEPT takes no value") }
            self = .accept
        case .decline:
            guard a.count <= 2 else { throw GRASPError("\(where_): O_DECLINE takes at most a reason") }
            if a.count == 2 {
                guard case .text(let r) = a[1] else { throw GRASPError("\(where_): O_DECLINE reason must be text") }
                self = .decline(reason: r)
            } else { self = .decline(reason: nil) }
        case .ipv6Locator, .ipv4Locator, .fqdnLocator, .uriLocator:
            self = .locator(try GRASPLocator(c, in: where_))
        default:
            throw GRASPError("\(where_): unknown option \(code)")
        }
    }
}

extension GRASPMessage {
    /// The message as a CBOR item.
    public var cbor: CBOR {
        func initiator(_ a: IPAddress) -> CBOR {
            switch a {
            case .v6(let v):
                var b = [UInt8](repeating: 0, count: 16)
                b.withUnsafeMutableBytes { v.store(to: $0, at: 0) }
                return .bytes(b)
            case .v4(let v):
                let r = v.rawValue
                return .bytes([UInt8(r >> 24), UInt8(r >> 16 & 0xFF), UInt8(r >> 8 & 0xFF), UInt8(r & 0xFF)])
            }
        }
        let t = CBOR.unsigned(type.rawValue)
        func s(_ v: UInt32) -> CBOR { .unsigned(UInt64(v)) }
        switch self {
        case .noop: return .array([t])
        case .discovery(let id, let i, let o): return .array([t, s(id), initiator(i), o.cbor])
        case .response(let id, let i, let ttl, let opts, let o):
            return .array([t, s(id), initiator(i), s(ttl)] + opts.map(\.cbor) + (o.map { [$0.cbor] } ?? []))
        case .requestNegotiation(let id, let o), .requestSynchronization(let id, let o), .negotiate(let id, let o), .synch(let id, let o):
            return .array([t, s(id), o.cbor])
        case .end(let id, let opt): return .array([t, s(id), opt.cbor])
        case .wait(let id, let w): return .array([t, s(id), s(w)])
        case .flood(let id, let i, let ttl, let objs):
            return .array([t, s(id), initiator(i), s(ttl)] + objs.map { .array([$0.0.cbor, $0.1?.cbor ?? .array([])]) })
        case .invalid(let id, let d): return .array([t, s(id)] + (d.map { [$0] } ?? []))
        }
    }

    /// The message's wire bytes.
    public var encoded: [UInt8] { cbor.encoded() }

    /// Decodes a message from its wire bytes; refuses malformed CBOR and
    /// messages that do not follow RFC 8990 §2.8, naming the field.
    public init(decoding bytes: [UInt8]) throws(GRASPError) {
        let c: CBOR
        do throws(CBORError) { c = try CBORDecoder.decode(bytes) } catch { throw GRASPError("\(error)") }
        try self.init(c)
    }

    public init(_ c: CBOR) throws(GRASPError) {
        guard case .array(let a) = c, let first = a.first, case .unsigned(let code) = first else {
            throw GRASPError("a message must be an array starting with its type")
        }
        guard let type = GRASP.MessageType(rawValue: code) else { throw GRASPError("unknown message type \(code)") }
        let name = type.name
        if type == .noop {
            guard a.count == 1 else { throw GRASPError("M_NOOP takes no fields") }
            self = .noop
            return
        }
        guard a.count >= 2, case .unsigned(let sid) = a[1], sid <= UInt64(UInt32.max) else {
            throw GRASPError("\(name): field 1 (session id) must be an unsigned 32-bit integer")
        }
        let id = UInt32(sid)
        func need(_ n: ClosedRange<Int>) throws(GRASPError) {
            guard n.contains(a.count) else { throw GRASPError("\(name): \(a.count) fields, expected \(n.lowerBound)…\(n.upperBound)") }
        }
        func addr(_ i: Int) throws(GRASPError) -> IPAddress {
            guard case .bytes(let b) = a[i] else { throw GRASPError("\(name): field \(i) (initiator) must be an address") }
            if b.count == 16 { return .v6(b.withUnsafeBytes { IPv6Address(loadingFrom: $0, at: 0) }) }
            if b.count == 4 { return .v4(IPv4Address(b[0], b[1], b[2], b[3])) }
            throw GRASPError("\(name): field \(i) (initiator) must be 4 or 16 bytes, not \(b.count)")
        }
        func u32(_ i: Int, _ field: String) throws(GRASPError) -> UInt32 {
            guard case .unsigned(let v) = a[i], v <= UInt64(UInt32.max) else { throw GRASPError("\(name): field \(i) (\(field)) must be an unsigned 32-bit integer") }
            return UInt32(v)
        }
        switch type {
        case .discovery:
            try need(4...4)
            self = .discovery(session: id, initiator: try addr(2), objective: try GRASPObjective(a[3], in: name))
        case .response:
            try need(4...64)
            var options: [GRASPOption] = []
            var objective: GRASPObjective?
            for (k, x) in a.dropFirst(4).enumerated() {
                if case .array(let inner) = x, case .text = inner.first {
                    guard k == a.count - 5 else { throw GRASPError("\(name): the objective must come last") }
                    objective = try GRASPObjective(x, in: name)
                } else {
                    options.append(try GRASPOption(x, in: name))
                }
            }
            self = .response(session: id, initiator: try addr(2), ttl: try u32(3, "ttl"), options: options, objective: objective)
        case .requestNegotiation, .requestSynchronization, .negotiate, .synch:
            try need(3...3)
            let o = try GRASPObjective(a[2], in: name)
            switch type {
            case .requestNegotiation: self = .requestNegotiation(session: id, objective: o)
            case .requestSynchronization: self = .requestSynchronization(session: id, objective: o)
            case .negotiate: self = .negotiate(session: id, objective: o)
            default: self = .synch(session: id, objective: o)
            }
        case .end:
            try need(3...3)
            let o = try GRASPOption(a[2], in: name)
            switch o {
            case .accept, .decline: self = .end(session: id, option: o)
            default: throw GRASPError("\(name): field 2 must be O_ACCEPT or O_DECLINE")
            }
        case .wait:
            try need(3...3)
            self = .wait(session: id, waitingTime: try u32(2, "waiting time"))
        case .flood:
            try need(5...1024)
            var objs: [(GRASPObjective, GRASPLocator?)] = []
            for x in a.dropFirst(4) {
                guard case .array(let pair) = x, pair.count == 2 else { throw GRASPError("\(name): each flood entry must be [objective, locator or []]") }
                let o = try GRASPObjective(pair[0], in: name)
                let l: GRASPLocator? = pair[1] == .array([]) ? nil : try GRASPLocator(pair[1], in: name)
                objs.append((o, l))
            }
            self = .flood(session: id, initiator: try addr(2), ttl: try u32(3, "ttl"), objectives: objs)
        case .invalid:
            try need(2...3)
            self = .invalid(session: id, diagnostic: a.count == 3 ? a[2] : nil)
        case .noop:
            self = .noop
        }
    }
}
