import BowmanCore

/// A token of either little language, with where it starts.
struct Token: Equatable {
    enum Kind: Equatable {
        case open, close, openBracket, closeBracket, bar, star, equals, ampersand, slash, range, shiftLeft, shiftRight, plus
        case word(String)   // identifiers, numbers, addresses, prefixes
    }
    var kind: Kind
    var location: SourceLocation
}

/// Splits text into tokens. `;` starts a comment to the end of the line
/// (the protocol-info file uses it, as Odyssey's did).
func tokenize(_ text: String) throws(ClassifierError) -> [Token] {
    var out: [Token] = []
    var line = 1, column = 1
    let chars = Array(text.unicodeScalars)
    var i = 0
    func isWordChar(_ c: Unicode.Scalar) -> Bool {
        (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" || c == ":" || c == "." || c == "-")
            && c.isASCII
    }
    while i < chars.count {
        let c = chars[i]
        let here = SourceLocation(line: line, column: column)
        func single(_ k: Token.Kind) { out.append(Token(kind: k, location: here)); i += 1; column += 1 }
        switch c {
        case "\n": i += 1; line += 1; column = 1
        case " ", "\t", "\r": i += 1; column += 1
        case ";":
            while i < chars.count && chars[i] != "\n" { i += 1 }
        case "(": single(.open)
        case ")": single(.close)
        case "[": single(.openBracket)
        case "]": single(.closeBracket)
        case "|": single(.bar)
        case "*": single(.star)
        case "=":
            // "==" is accepted as "=".
            if i + 1 < chars.count && chars[i + 1] == "=" { out.append(Token(kind: .equals, location: here)); i += 2; column += 2 } else { single(.equals) }
        case "&": single(.ampersand)
        case "+": single(.plus)
        case "/": single(.slash)
        case ">":
            guard i + 1 < chars.count && chars[i + 1] == ">" else { throw ClassifierError("unexpected '>' (did you mean '>>'?)", at: here) }
            out.append(Token(kind: .shiftRight, location: here)); i += 2; column += 2
        case "<":
            guard i + 1 < chars.count && chars[i + 1] == "<" else { throw ClassifierError("unexpected '<' (did you mean '<<'?)", at: here) }
            out.append(Token(kind: .shiftLeft, location: here)); i += 2; column += 2
        default:
            guard isWordChar(c) else { throw ClassifierError("unexpected character '\(c)'", at: here) }
            var w = ""
            while i < chars.count && isWordChar(chars[i]) {
                // "a..b" is a range: stop the word before "..".
                if chars[i] == "." && i + 1 < chars.count && chars[i + 1] == "." { break }
                w.unicodeScalars.append(chars[i]); i += 1; column += 1
            }
            out.append(Token(kind: .word(w), location: here))
            if i + 1 < chars.count && chars[i] == "." && chars[i + 1] == "." {
                out.append(Token(kind: .range, location: SourceLocation(line: line, column: column)))
                i += 2; column += 2
            }
        }
    }
    return out
}

/// Reads tokens in order, with errors that name where.
struct TokenStream {
    let tokens: [Token]
    var position = 0
    let end: SourceLocation

    init(_ tokens: [Token], end: SourceLocation) { self.tokens = tokens; self.end = end }

    var atEnd: Bool { position >= tokens.count }
    var peek: Token? { atEnd ? nil : tokens[position] }
    var location: SourceLocation { peek?.location ?? end }

    mutating func next(_ what: String) throws(ClassifierError) -> Token {
        guard let t = peek else { throw ClassifierError("expected \(what), found the end of the text", at: end) }
        position += 1
        return t
    }

    mutating func expect(_ k: Token.Kind, _ what: String) throws(ClassifierError) {
        let t = try next(what)
        guard t.kind == k else { throw ClassifierError("expected \(what), found \(describe(t))", at: t.location) }
    }

    mutating func word(_ what: String) throws(ClassifierError) -> (String, SourceLocation) {
        let t = try next(what)
        guard case .word(let w) = t.kind else { throw ClassifierError("expected \(what), found \(describe(t))", at: t.location) }
        return (w, t.location)
    }

    mutating func accept(_ k: Token.Kind) -> Bool {
        if peek?.kind == k { position += 1; return true }
        return false
    }
}

func describe(_ t: Token) -> String {
    switch t.kind {
    case .open: "'('"
    case .close: "')'"
    case .openBracket: "'['"
    case .closeBracket: "']'"
    case .bar: "'|'"
    case .star: "'*'"
    case .equals: "'='"
    case .ampersand: "'&'"
    case .slash: "'/'"
    case .range: "'..'"
    case .shiftLeft: "'<<'"
    case .shiftRight: "'>>'"
    case .plus: "'+'"
    case .word(let w): "'\(w)'"
    }
}

func endLocation(_ text: String) -> SourceLocation {
    var line = 1, column = 1
    for c in text.unicodeScalars { if c == "\n" { line += 1; column = 1 } else { column += 1 } }
    return SourceLocation(line: line, column: column)
}

/// Parses a decimal or 0x-hex unsigned number.
func parseNumber(_ w: String) -> UInt64? {
    let lower = w.lowercased()
    if lower.hasPrefix("0x") { return UInt64(lower.dropFirst(2), radix: 16) }
    guard !w.isEmpty, w.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
    return UInt64(w)
}
