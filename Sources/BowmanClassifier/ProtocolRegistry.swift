import BowmanCore

/// One header a filter can name: its fields and how long it is.
public struct ProtocolDefinition: Equatable, Sendable {
    public struct Field: Equatable, Sendable {
        public var name: String
        /// Bytes from the start of the header.
        public var offset: Int
        /// Bytes, 1 to 16.
        public var length: Int
        public init(name: String, offset: Int, length: Int) { self.name = name; self.offset = offset; self.length = length }
    }

    /// How far `|` skips past this header.
    public enum HeaderLength: Equatable, Sendable {
        case fixed(Int)
        /// (((field & mask) + addend) >> shift) * multiplier bytes, read
        /// from the packet: IPv4 is `(hdr_len (vhl & 0x0f) * 4)`, TCP
        /// `(hdr_len (off & 0xf0) >> 2 * 1)`, an IPv6 extension header
        /// `(hdr_len (len + 1) * 8)`.
        case computed(field: Field, mask: UInt64, shiftRight: Int, multiplier: Int, addend: Int = 0)
    }

    public var name: String
    public var fields: [Field]
    public var headerLength: HeaderLength

    public func field(named n: String) -> Field? { fields.first { $0.name == n } }
}

/// The protocols and named constants the filter language knows: Odyssey's
/// protocol-definition language, `(protocol NAME (field F offset O length L)
/// ... (hdr_len N))` and `(define NAME VALUE)`, with `;` comments.
///
/// Beyond Odyssey: a computed header length, `(hdr_len (FIELD & MASK) * N)`
/// or `(hdr_len (FIELD & MASK) >> S * N)`, for IPv4 IHL and TCP data offset.
public struct ProtocolRegistry: Sendable, Equatable {
    public private(set) var protocols: [String: ProtocolDefinition] = [:]
    public private(set) var defines: [String: UInt64] = [:]

    public init() {}

    /// The bundled protocol-info (ethernet, vlan, arp, ip, ipv6, icmp,
    /// icmpv6, igmp, udp, tcp and the usual constants).
    public static func standard() -> ProtocolRegistry {
        var r = ProtocolRegistry()
        do throws(ClassifierError) { try r.add(StandardProtocols.text) } catch {
            preconditionFailure("bundled protocol-info does not parse: \(error)")
        }
        return r
    }

    /// Odyssey's `add_pf_protocol`: learns the protocols and defines of
    /// `text`. All or nothing: on any error the registry is unchanged.
    public mutating func add(_ text: String) throws(ClassifierError) {
        var s = TokenStream(try tokenize(text), end: endLocation(text))
        var next = self
        while !s.atEnd {
            try s.expect(.open, "'(' starting a protocol or define")
            let (keyword, at) = try s.word("'protocol' or 'define'")
            switch keyword {
            case "define":
                let (name, nameAt) = try s.word("a name to define")
                guard isIdentifier(name) else { throw ClassifierError("'\(name)' is not a valid name", at: nameAt) }
                let (v, vAt) = try s.word("a value")
                guard let value = parseNumber(v) ?? next.defines[v] else {
                    throw ClassifierError("'\(v)' is not a number or a defined name", at: vAt)
                }
                next.defines[name] = value
                try s.expect(.close, "')' closing the define")
            case "protocol":
                let p = try parseProtocol(&s, registry: next)
                next.protocols[p.name] = p
            default:
                throw ClassifierError("expected 'protocol' or 'define', found '\(keyword)'", at: at)
            }
        }
        self = next
    }

    private func parseProtocol(_ s: inout TokenStream, registry: ProtocolRegistry) throws(ClassifierError) -> ProtocolDefinition {
        let (name, nameAt) = try s.word("a protocol name")
        guard isIdentifier(name) else { throw ClassifierError("'\(name)' is not a valid protocol name", at: nameAt) }
        var fields: [ProtocolDefinition.Field] = []
        var length: ProtocolDefinition.HeaderLength?
        var lengthAt = nameAt
        while !s.accept(.close) {
            try s.expect(.open, "'(' starting a field or hdr_len")
            let (kw, kwAt) = try s.word("'field' or 'hdr_len'")
            switch kw {
            case "field":
                let (f, fAt) = try s.word("a field name")
                guard isIdentifier(f) else { throw ClassifierError("'\(f)' is not a valid field name", at: fAt) }
                guard !fields.contains(where: { $0.name == f }) else { throw ClassifierError("field '\(f)' is defined twice in '\(name)'", at: fAt) }
                let offset = try keywordNumber(&s, "offset", registry)
                let len = try keywordNumber(&s, "length", registry)
                guard (1...16).contains(len.0) else { throw ClassifierError("field '\(f)' has length \(len.0); lengths are 1 to 16 bytes", at: len.1) }
                fields.append(.init(name: f, offset: offset.0, length: len.0))
                try s.expect(.close, "')' closing the field")
            case "hdr_len":
                lengthAt = kwAt
                if s.accept(.open) {
                    let (f, fAt) = try s.word("a field name")
                    guard let field = fields.first(where: { $0.name == f }) else {
                        throw ClassifierError("hdr_len uses field '\(f)', not (yet) defined in '\(name)'", at: fAt)
                    }
                    guard field.length <= 8 else { throw ClassifierError("hdr_len field '\(f)' is wider than 8 bytes", at: fAt) }
                    var mask = UInt64.max
                    if s.accept(.ampersand) { mask = UInt64(try number(&s, registry).0) }
                    var add = 0
                    if s.accept(.plus) { add = try number(&s, registry).0 }
                    try s.expect(.close, "')' closing the hdr_len field expression")
                    var shift = 0, mult = 1
                    if s.accept(.shiftRight) { shift = try number(&s, registry).0 }
                    if s.accept(.star) { mult = try number(&s, registry).0 }
                    length = .computed(field: field, mask: mask, shiftRight: shift, multiplier: mult, addend: add)
                } else {
                    length = .fixed(try number(&s, registry).0)
                }
                try s.expect(.close, "')' closing hdr_len")
            default:
                throw ClassifierError("expected 'field' or 'hdr_len', found '\(kw)'", at: kwAt)
            }
        }
        guard let hl = length else { throw ClassifierError("protocol '\(name)' has no hdr_len", at: nameAt) }
        if case .fixed(let n) = hl {
            for f in fields where f.offset + f.length > n {
                throw ClassifierError("field '\(f.name)' (offset \(f.offset), length \(f.length)) ends beyond hdr_len \(n) of '\(name)'", at: lengthAt)
            }
        }
        return ProtocolDefinition(name: name, fields: fields, headerLength: hl)
    }

    private func keywordNumber(_ s: inout TokenStream, _ kw: String, _ r: ProtocolRegistry) throws(ClassifierError) -> (Int, SourceLocation) {
        let (w, at) = try s.word("'\(kw)'")
        guard w == kw else { throw ClassifierError("expected '\(kw)', found '\(w)'", at: at) }
        return try number(&s, r)
    }

    private func number(_ s: inout TokenStream, _ r: ProtocolRegistry) throws(ClassifierError) -> (Int, SourceLocation) {
        let (w, at) = try s.word("a number")
        guard let v = parseNumber(w) ?? r.defines[w], v <= 65535 else { throw ClassifierError("'\(w)' is not a number up to 65535", at: at) }
        return (Int(v), at)
    }
}

func isIdentifier(_ s: String) -> Bool {
    guard let f = s.unicodeScalars.first, f.properties.isAlphabetic || f == "_" else { return false }
    return s.unicodeScalars.allSatisfy { ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") && $0.isASCII }
}
