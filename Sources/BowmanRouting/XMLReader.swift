/// A small XML reader for the documents Bowman reads (GraphML topologies):
/// elements, attributes, text, the five named entities and character
/// references, comments, CDATA, processing instructions and a DOCTYPE
/// without an internal subset. No namespaces are resolved (names keep their
/// prefix) and no DTD is read. A document that is not well formed is refused
/// with the line and column where reading stopped.
public enum XML {
    public struct Element: Sendable {
        public var name: String
        public var attributes: [(name: String, value: String)]
        public var children: [Element] = []
        /// The character data directly inside this element, concatenated.
        public var text: String = ""
        public var line: Int, column: Int
        public func attribute(_ n: String) -> String? { attributes.first { $0.name == n }?.value }
        public func children(named n: String) -> [Element] { children.filter { $0.name == n } }
    }

    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public var line: Int, column: Int, reason: String
        public var description: String { "line \(line), column \(column): \(reason)" }
    }

    /// Parses a whole document and returns its root element.
    public static func parse(_ text: String) throws(Failure) -> Element {
        var r = Reader(bytes: Array(text.utf8))
        return try r.document()
    }

    struct Reader {
        let bytes: [UInt8]
        var i = 0, line = 1, lineStart = 0
        init(bytes: [UInt8]) { self.bytes = bytes }

        var column: Int { i - lineStart + 1 }
        func fail(_ why: String) -> Failure { Failure(line: line, column: column, reason: why) }
        var atEnd: Bool { i >= bytes.count }
        func peek(_ k: Int = 0) -> UInt8? { i + k < bytes.count ? bytes[i + k] : nil }
        mutating func advance() {
            if bytes[i] == 0x0A { line += 1; lineStart = i + 1 }
            i += 1
        }
        func starts(_ s: String) -> Bool {
            var k = i
            for b in s.utf8 { guard k < bytes.count, bytes[k] == b else { return false }; k += 1 }
            return true
        }
        mutating func skip(_ s: String) { for _ in s.utf8 { advance() } }
        static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
        mutating func skipSpace() { while let b = peek(), Self.isSpace(b) { advance() } }
        /// Skips up to and past `end`; refuses a document that ends first.
        mutating func skipPast(_ end: String, what: String) throws(Failure) {
            let l = line, c = column
            while !atEnd { if starts(end) { skip(end); return }; advance() }
            throw Failure(line: l, column: c, reason: "\(what) is not closed by '\(end)'")
        }

        static func isNameByte(_ b: UInt8) -> Bool {
            (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)
                || b == 0x5F || b == 0x3A || b == 0x2D || b == 0x2E || b >= 0x80
        }
        mutating func name() throws(Failure) -> String {
            let s = i
            guard let b = peek(), Self.isNameByte(b), !(b >= 0x30 && b <= 0x39), b != 0x2D, b != 0x2E else { throw fail("a name is expected here") }
            while let b = peek(), Self.isNameByte(b) { advance() }
            return String(decoding: bytes[s..<i], as: UTF8.self)
        }

        /// Skips the prolog, comments, PIs and a DOCTYPE between markup.
        mutating func misc() throws(Failure) {
            while true {
                skipSpace()
                if starts("<?") { try skipPast("?>", what: "a processing instruction") }
                else if starts("<!--") { try skipPast("-->", what: "a comment") }
                else if starts("<!DOCTYPE") {
                    while let b = peek(), b != 0x3E { if b == 0x5B { throw fail("a DOCTYPE with an internal subset is not read") }; advance() }
                    guard !atEnd else { throw fail("the DOCTYPE is not closed") }
                    advance()
                } else { return }
            }
        }

        mutating func document() throws(Failure) -> Element {
            if starts("\u{FEFF}") { skip("\u{FEFF}") }
            try misc()
            guard starts("<") else { throw fail(atEnd ? "the document has no element" : "an element is expected here") }
            let root = try element()
            try misc()
            guard atEnd else { throw fail("content after the root element") }
            return root
        }

        /// Decodes `&...;` at the cursor.
        mutating func reference(into out: inout [UInt8]) throws(Failure) {
            let l = line, c = column
            advance()
            let s = i
            while let b = peek(), b != 0x3B { guard i - s < 12 else { break }; advance() }
            guard peek() == 0x3B else { throw Failure(line: l, column: c, reason: "an '&' that does not start an entity (write &amp;)") }
            let body = String(decoding: bytes[s..<i], as: UTF8.self)
            advance()
            let named: [String: UInt8] = ["amp": 0x26, "lt": 0x3C, "gt": 0x3E, "quot": 0x22, "apos": 0x27]
            if let b = named[body] { out.append(b); return }
            var scalar: UInt32?
            if body.hasPrefix("#x") { scalar = UInt32(body.dropFirst(2), radix: 16) }
            else if body.hasPrefix("#") { scalar = UInt32(body.dropFirst(), radix: 10) }
            guard let v = scalar, let u = Unicode.Scalar(v) else {
                throw Failure(line: l, column: c, reason: "unknown entity '&\(body);'")
            }
            out.append(contentsOf: Array(String(Character(u)).utf8))
        }

        mutating func element() throws(Failure) -> Element {
            let l = line, c = column
            advance()  // <
            var e = Element(name: try name(), attributes: [], line: l, column: c)
            while true {
                let hadSpace = peek().map(Self.isSpace) ?? false
                skipSpace()
                guard let b = peek() else { throw fail("the document ends inside the tag <\(e.name)>") }
                if b == 0x2F {  // />
                    advance()
                    guard peek() == 0x3E else { throw fail("'>' is expected after '/'") }
                    advance()
                    return e
                }
                if b == 0x3E { advance(); break }
                guard hadSpace else { throw fail("a space is expected before an attribute") }
                let n = try name()
                guard !e.attributes.contains(where: { $0.name == n }) else { throw fail("attribute '\(n)' given twice") }
                skipSpace()
                guard peek() == 0x3D else { throw fail("'=' is expected after attribute '\(n)'") }
                advance(); skipSpace()
                guard let q = peek(), q == 0x22 || q == 0x27 else { throw fail("a quoted value is expected for attribute '\(n)'") }
                advance()
                var v: [UInt8] = []
                while true {
                    guard let b = peek() else { throw fail("the value of attribute '\(n)' is not closed") }
                    if b == q { advance(); break }
                    if b == 0x3C { throw fail("'<' inside the value of attribute '\(n)'") }
                    if b == 0x26 { try reference(into: &v) } else { v.append(b); advance() }
                }
                e.attributes.append((n, String(decoding: v, as: UTF8.self)))
            }
            var text: [UInt8] = []
            while true {
                guard let b = peek() else { throw Failure(line: l, column: c, reason: "element <\(e.name)> is not closed") }
                if b == 0x3C {
                    if starts("</") {
                        skip("</")
                        let n = try name()
                        guard n == e.name else { throw fail("</\(n)> closes <\(e.name)> (opened at line \(l), column \(c))") }
                        skipSpace()
                        guard peek() == 0x3E else { throw fail("'>' is expected to end </\(n)") }
                        advance()
                        e.text = String(decoding: text, as: UTF8.self)
                        return e
                    } else if starts("<!--") { try skipPast("-->", what: "a comment") }
                    else if starts("<![CDATA[") {
                        skip("<![CDATA[")
                        let s = i
                        while !atEnd, !starts("]]>") { advance() }
                        guard !atEnd else { throw fail("a CDATA section is not closed") }
                        text.append(contentsOf: bytes[s..<i])
                        skip("]]>")
                    } else if starts("<?") { try skipPast("?>", what: "a processing instruction") }
                    else { e.children.append(try element()) }
                } else if b == 0x26 {
                    try reference(into: &text)
                } else { text.append(b); advance() }
            }
        }
    }
}
