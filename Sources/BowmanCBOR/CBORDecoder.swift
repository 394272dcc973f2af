/// Decodes CBOR with limits, so hostile input (a GRASP packet from anyone
/// on the link) cannot make it allocate, recurse or loop without bound.
public struct CBORDecoder {
    public struct Options: Sendable {
        /// Deepest nesting of arrays, maps and tags.
        public var maxDepth = 64
        /// Largest declared length of a string, array or map.
        public var maxLength: UInt64 = 1 << 20
        /// Refuse heads that are not in their shortest form.
        public var requireShortest = false
        public init() {}
    }

    let bytes: [UInt8]
    var position = 0
    let options: Options

    public init(_ bytes: [UInt8], options: Options = .init()) { self.bytes = bytes; self.options = options }

    /// Decodes exactly one item spanning all the bytes.
    public static func decode(_ bytes: [UInt8], options: Options = .init()) throws(CBORError) -> CBOR {
        var d = CBORDecoder(bytes, options: options)
        let v = try d.decodeItem(depth: 0)
        if d.position != bytes.count { throw CBORError(.trailingBytes(count: bytes.count - d.position), at: d.position) }
        return v
    }

    /// Decodes the next item; `position` moves past it (for streams of items).
    public mutating func next() throws(CBORError) -> CBOR { try decodeItem(depth: 0) }
    public var isAtEnd: Bool { position >= bytes.count }
    /// Bytes consumed so far.
    public var offset: Int { position }

    mutating func byte() throws(CBORError) -> UInt8 {
        guard position < bytes.count else { throw CBORError(.truncated, at: position) }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func uint(_ n: Int) throws(CBORError) -> UInt64 {
        guard bytes.count - position >= n else { throw CBORError(.truncated, at: position) }
        var v: UInt64 = 0
        for _ in 0..<n { v = v << 8 | UInt64(bytes[position]); position += 1 }
        return v
    }

    /// The argument of a head; nil for indefinite length (31).
    mutating func argument(_ info: UInt8, at start: Int) throws(CBORError) -> UInt64? {
        let v: UInt64
        switch info {
        case 0..<24: return UInt64(info)
        case 24: v = try uint(1); if options.requireShortest && v < 24 { throw CBORError(.notShortest, at: start) }
        case 25: v = try uint(2); if options.requireShortest && v <= 0xFF { throw CBORError(.notShortest, at: start) }
        case 26: v = try uint(4); if options.requireShortest && v <= 0xFFFF { throw CBORError(.notShortest, at: start) }
        case 27: v = try uint(8); if options.requireShortest && v <= 0xFFFF_FFFF { throw CBORError(.notShortest, at: start) }
        case 31: return nil
        default: throw CBORError(.reservedAdditionalInfo(info), at: start)
        }
        return v
    }

    mutating func length(_ v: UInt64, at start: Int) throws(CBORError) -> Int {
        guard v <= options.maxLength else { throw CBORError(.tooLong(v), at: start) }
        return Int(v)
    }

    mutating func decodeItem(depth: Int) throws(CBORError) -> CBOR {
        let start = position
        guard depth <= options.maxDepth else { throw CBORError(.tooDeep(limit: options.maxDepth), at: start) }
        let b = try byte()
        let major = b >> 5, info = b & 0x1F
        switch major {
        case 0, 1:
            guard let v = try argument(info, at: start) else { throw CBORError(.badIndefinite, at: start) }
            return major == 0 ? .unsigned(v) : .negative(v)
        case 2, 3:
            var data: [UInt8] = []
            if let n = try argument(info, at: start) {
                let len = try length(n, at: start)
                guard bytes.count - position >= len else { throw CBORError(.truncated, at: position) }
                data = Array(bytes[position..<(position + len)])
                position += len
            } else {
                // Indefinite: definite chunks of the same major type until a break.
                while true {
                    let chunkAt = position
                    if try peekBreak() { break }
                    let c = try byte()
                    guard c >> 5 == major, let n = try argument(c & 0x1F, at: chunkAt) else { throw CBORError(.badChunk, at: chunkAt) }
                    let len = try length(n, at: chunkAt)
                    guard bytes.count - position >= len else { throw CBORError(.truncated, at: position) }
                    data += bytes[position..<(position + len)]
                    position += len
                    guard UInt64(data.count) <= options.maxLength else { throw CBORError(.tooLong(UInt64(data.count)), at: chunkAt) }
                }
            }
            if major == 2 { return .bytes(data) }
            guard let s = String(validating: data, as: UTF8.self) else { throw CBORError(.invalidUTF8, at: start) }
            return .text(s)
        case 4:
            var items: [CBOR] = []
            if let n = try argument(info, at: start) {
                let len = try length(n, at: start)
                // Each item takes at least a byte: a count beyond the input is truncation, not an allocation.
                guard bytes.count - position >= len else { throw CBORError(.truncated, at: position) }
                items.reserveCapacity(len)
                for _ in 0..<len { items.append(try decodeItem(depth: depth + 1)) }
            } else {
                while !(try peekBreak()) {
                    items.append(try decodeItem(depth: depth + 1))
                    guard UInt64(items.count) <= options.maxLength else { throw CBORError(.tooLong(UInt64(items.count)), at: start) }
                }
            }
            return .array(items)
        case 5:
            var entries: [CBOR.MapEntry] = []
            if let n = try argument(info, at: start) {
                let len = try length(n, at: start)
                guard (bytes.count - position) / 2 >= len else { throw CBORError(.truncated, at: position) }
                for _ in 0..<len {
                    let k = try decodeItem(depth: depth + 1)
                    entries.append(CBOR.MapEntry(k, try decodeItem(depth: depth + 1)))
                }
            } else {
                while !(try peekBreak()) {
                    let k = try decodeItem(depth: depth + 1)
                    entries.append(CBOR.MapEntry(k, try decodeItem(depth: depth + 1)))
                }
            }
            return .map(entries)
        case 6:
            guard let tag = try argument(info, at: start) else { throw CBORError(.badIndefinite, at: start) }
            return .tagged(tag, try decodeItem(depth: depth + 1))
        default:
            switch info {
            case 20: return .bool(false)
            case 21: return .bool(true)
            case 22: return .null
            case 23: return .undefined
            case 0..<20: return .simple(info)
            case 24:
                let v = try byte()
                guard v >= 32 else { throw CBORError(.badSimpleValue(v), at: start) }
                return .simple(v)
            case 25: return .half(UInt16(try uint(2)))
            case 26: return .float(Float(bitPattern: UInt32(try uint(4))))
            case 27: return .double(Double(bitPattern: try uint(8)))
            case 31: throw CBORError(.unexpectedBreak, at: start)
            default: throw CBORError(.reservedAdditionalInfo(info), at: start)
            }
        }
    }

    /// Consumes a break (0xff) if one is next.
    mutating func peekBreak() throws(CBORError) -> Bool {
        guard position < bytes.count else { throw CBORError(.truncated, at: position) }
        if bytes[position] == 0xFF { position += 1; return true }
        return false
    }
}
