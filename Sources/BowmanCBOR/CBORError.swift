/// Why bytes are not a CBOR item Bowman accepts; `offset` is where.
public struct CBORError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        /// The item needs more bytes than there are.
        case truncated
        /// Additional information 28–30 (reserved).
        case reservedAdditionalInfo(UInt8)
        /// A head not in its shortest form (strict decoding only).
        case notShortest
        /// Nested deeper than the decoder allows.
        case tooDeep(limit: Int)
        case invalidUTF8
        /// A break (0xff) outside an indefinite-length item.
        case unexpectedBreak
        /// An indefinite-length string holding something else than chunks of its own type.
        case badChunk
        /// Indefinite length where it is not allowed (major types 0, 1, 6).
        case badIndefinite
        /// Simple values 24–31 encoded with one extra byte below 32.
        case badSimpleValue(UInt8)
        /// Bytes after the item.
        case trailingBytes(count: Int)
        /// A declared length beyond the decoder's limit.
        case tooLong(UInt64)
    }
    public var reason: Reason
    public var offset: Int
    public init(_ reason: Reason, at offset: Int) { self.reason = reason; self.offset = offset }

    public var description: String {
        let what: String = switch reason {
        case .truncated: "truncated item"
        case .reservedAdditionalInfo(let a): "reserved additional information \(a)"
        case .notShortest: "length or value not in its shortest form"
        case .tooDeep(let l): "nested deeper than \(l) levels"
        case .invalidUTF8: "text string is not valid UTF-8"
        case .unexpectedBreak: "break outside an indefinite-length item"
        case .badChunk: "indefinite-length string with a chunk of another type"
        case .badIndefinite: "indefinite length on a type that cannot have it"
        case .badSimpleValue(let v): "simple value \(v) in two bytes"
        case .trailingBytes(let n): "\(n) bytes after the item"
        case .tooLong(let n): "declared length \(n) exceeds the limit"
        }
        return "CBOR: \(what) at byte \(offset)"
    }
}
