import BowmanCore

/// A field value of up to 16 bytes, as a big-endian number.
@frozen public struct FieldValue: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64
    @inlinable public static func == (a: FieldValue, b: FieldValue) -> Bool { a.high == b.high && a.low == b.low }
    @inlinable public init(high: UInt64 = 0, low: UInt64) { self.high = high; self.low = low }
    @inlinable public static func & (a: FieldValue, b: FieldValue) -> FieldValue { FieldValue(high: a.high & b.high, low: a.low & b.low) }
    /// All ones over `bytes` bytes.
    public static func ones(bytes: Int) -> FieldValue {
        if bytes >= 16 { return FieldValue(high: .max, low: .max) }
        if bytes > 8 { return FieldValue(high: (1 << (8 * UInt64(bytes - 8))) - 1, low: .max) }
        return FieldValue(high: 0, low: bytes == 8 ? .max : (1 << (8 * UInt64(bytes))) - 1)
    }
    public var description: String { high == 0 ? "0x" + String(low, radix: 16) : "0x" + String(high, radix: 16) + String(repeating: "0", count: 16 - String(low, radix: 16).count) + String(low, radix: 16) }

    /// Reads `length` bytes at `offset` (the caller checked the bounds).
    @inlinable public init(loading p: UnsafeRawBufferPointer, at offset: Int, length: Int) {
        var hi: UInt64 = 0, lo: UInt64 = 0
        let base = p.baseAddress.unsafelyUnwrapped
        for i in 0..<length {
            hi = hi << 8 | lo >> 56
            lo = lo << 8 | UInt64(base.load(fromByteOffset: offset + i, as: UInt8.self))
        }
        high = hi; low = lo
    }
}

/// A filter of the filter language, compiled against a protocol registry:
/// the headers it walks and the predicates on each.
public struct Filter: Equatable, Sendable {
    public struct Predicate: Equatable, Sendable {
        /// Index of the header in `headers` the field belongs to.
        public var header: Int
        public var field: String
        public var offset: Int
        public var length: Int
        public enum Test: Equatable, Sendable {
            /// (field & mask) == value; a prefix is an equality under a mask.
            case equal(value: FieldValue, mask: FieldValue)
            /// lo ≤ field ≤ hi (fields up to 8 bytes).
            case range(lo: UInt64, hi: UInt64)
        }
        public var test: Test
    }

    public var headers: [ProtocolDefinition]
    public var predicates: [Predicate]
    public var text: String

    /// Parses `[ proto (pred) ... | proto (pred) ... | * ]`.
    ///
    /// Predicates: `(field = VALUE)`, `(field & MASK = VALUE)`,
    /// `(field = ADDRESS/LEN)` (IPv4 or IPv6 prefix), `(field in LO..HI)`.
    /// VALUE is a number (decimal or 0x), a defined name, or an IPv4/IPv6
    /// address. Each `|` skips the header before it.
    public init(parsing text: String, registry: ProtocolRegistry) throws(ClassifierError) {
        self.text = text
        var s = TokenStream(try tokenize(text), end: endLocation(text))
        try s.expect(.openBracket, "'[' starting the filter")
        var headers: [ProtocolDefinition] = []
        var predicates: [Predicate] = []
        while true {
            if s.accept(.star) { break }
            let (name, at) = try s.word("a protocol name or '*'")
            guard let proto = registry.protocols[name] else {
                throw ClassifierError("unknown protocol '\(name)'" + suggestion(name, registry.protocols.keys.sorted()), at: at)
            }
            headers.append(proto)
            while s.accept(.open) {
                predicates.append(try Filter.predicate(&s, proto, header: headers.count - 1, registry))
            }
            guard s.accept(.bar) else {
                throw ClassifierError("expected '|' after the predicates of '\(name)' (a filter ends with '| *')", at: s.location)
            }
        }
        try s.expect(.closeBracket, "']' closing the filter")
        if let extra = s.peek { throw ClassifierError("unexpected \(describe(extra)) after the filter", at: extra.location) }
        self.headers = headers
        self.predicates = predicates
    }

    static func predicate(_ s: inout TokenStream, _ proto: ProtocolDefinition, header: Int,
                          _ registry: ProtocolRegistry) throws(ClassifierError) -> Predicate {
        let (f, fAt) = try s.word("a field name")
        guard let field = proto.field(named: f) else {
            throw ClassifierError("protocol '\(proto.name)' has no field '\(f)'" + suggestion(f, proto.fields.map(\.name)), at: fAt)
        }
        let full = FieldValue.ones(bytes: field.length)
        var mask = full
        if s.accept(.ampersand) {
            let (m, mAt) = try s.word("a mask")
            guard let mv = value(m, registry) else { throw ClassifierError("'\(m)' is not a number, address or defined name", at: mAt) }
            guard mv & full == mv else { throw ClassifierError("mask \(m) is wider than field '\(f)' (\(field.length) bytes)", at: mAt) }
            mask = mv
        }
        let test: Predicate.Test
        if s.accept(.equals) {
            let (v, vAt) = try s.word("a value")
            guard let val = value(v, registry) else { throw ClassifierError("'\(v)' is not a number, address or defined name", at: vAt) }
            guard val & full == val else { throw ClassifierError("value \(v) is wider than field '\(f)' (\(field.length) bytes)", at: vAt) }
            if s.accept(.slash) {
                let (l, lAt) = try s.word("a prefix length")
                guard let bits = parseNumber(l), bits <= UInt64(field.length * 8) else {
                    throw ClassifierError("prefix length '\(l)' does not fit field '\(f)' (\(field.length * 8) bits)", at: lAt)
                }
                guard mask == full else { throw ClassifierError("a prefix and a mask on one predicate", at: lAt) }
                mask = prefixMask(bits: Int(bits), bytes: field.length)
            }
            test = .equal(value: val & mask, mask: mask)
        } else {
            let (kw, kwAt) = try s.word("'=' or 'in'")
            guard kw == "in" else { throw ClassifierError("expected '=' or 'in', found '\(kw)'", at: kwAt) }
            guard field.length <= 8 else { throw ClassifierError("ranges need a field of at most 8 bytes; '\(f)' has \(field.length)", at: kwAt) }
            guard mask == full else { throw ClassifierError("a range and a mask on one predicate", at: kwAt) }
            let (lo, loAt) = try s.word("the low end of the range")
            try s.expect(.range, "'..'")
            let (hi, hiAt) = try s.word("the high end of the range")
            guard let l = value(lo, registry), l.high == 0 else { throw ClassifierError("'\(lo)' is not a number", at: loAt) }
            guard let h = value(hi, registry), h.high == 0 else { throw ClassifierError("'\(hi)' is not a number", at: hiAt) }
            guard h.low & full.low == h.low else { throw ClassifierError("value \(hi) is wider than field '\(f)' (\(field.length) bytes)", at: hiAt) }
            guard l.low <= h.low else { throw ClassifierError("empty range \(lo)..\(hi)", at: loAt) }
            test = .range(lo: l.low, hi: h.low)
        }
        try s.expect(.close, "')' closing the predicate")
        return Predicate(header: header, field: f, offset: field.offset, length: field.length, test: test)
    }

    static func value(_ w: String, _ r: ProtocolRegistry) -> FieldValue? {
        if let n = parseNumber(w) { return FieldValue(low: n) }
        if let d = r.defines[w] { return FieldValue(low: d) }
        if let a = IPv4Address(w) { return FieldValue(low: UInt64(a.rawValue)) }
        if w.contains(":"), let a = IPv6Address(w) { return FieldValue(high: a.high, low: a.low) }
        return nil
    }

    static func prefixMask(bits: Int, bytes: Int) -> FieldValue {
        let total = bytes * 8
        let ones = FieldValue.ones(bytes: bytes)
        let zeros = total - bits   // low bits to clear
        if zeros <= 0 { return ones }
        if zeros >= 128 { return FieldValue(low: 0) }
        if zeros >= 64 { return FieldValue(high: ones.high & (zeros == 64 ? .max : ~((1 << UInt64(zeros - 64)) - 1)), low: 0) }
        return FieldValue(high: ones.high, low: ones.low & ~((1 << UInt64(zeros)) - 1))
    }

    /// Evaluates every predicate on `p` (the reference semantics): true when
    /// all hold. Header offsets follow `hdr_len`, computed ones read from the packet.
    public func matches(_ p: UnsafeRawBufferPointer) -> Bool {
        var base = 0
        var k = 0
        for (h, proto) in headers.enumerated() {
            while k < predicates.count && predicates[k].header == h {
                let pr = predicates[k]
                let at = base + pr.offset
                guard at + pr.length <= p.count else { return false }
                let v = FieldValue(loading: p, at: at, length: pr.length)
                switch pr.test {
                case .equal(let value, let mask): if v & mask != value { return false }
                case .range(let lo, let hi): if v.low < lo || v.low > hi { return false }
                }
                k += 1
            }
            guard let len = Filter.headerLength(proto, p, base) else { return false }
            base += len
        }
        return true
    }

    static func headerLength(_ proto: ProtocolDefinition, _ p: UnsafeRawBufferPointer, _ base: Int) -> Int? {
        switch proto.headerLength {
        case .fixed(let n): return n
        case .computed(let f, let mask, let shift, let mult, let add):
            guard base + f.offset + f.length <= p.count else { return nil }
            let v = ((FieldValue(loading: p, at: base + f.offset, length: f.length).low & mask) &+ UInt64(add)) >> UInt64(shift)
            let n = Int(v) * mult
            return n > 0 ? n : nil
        }
    }
}

func suggestion(_ name: String, _ known: [String]) -> String {
    let lower = name.lowercased()
    if let m = known.first(where: { $0.lowercased() == lower }) { return " (did you mean '\(m)'?)" }
    return known.isEmpty ? "" : " (known: \(known.joined(separator: ", ")))"
}
