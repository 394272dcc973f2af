import BowmanCore

/// A line of text input refused, with where: the file, the line and the
/// column (1-based) of the first character that is wrong.
public struct TextInputError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var reason: String
    public init(file: String, line: Int, column: Int, reason: String) {
        self.file = file; self.line = line; self.column = column; self.reason = reason
    }
    public var description: String { "\(file):\(line):\(column): \(reason)" }
}

/// The text formats of `bowman lpm`: a routes file of `PREFIX NEXT-HOP`
/// lines (IPv4 and IPv6 mixed, the next hop any word; a bare address is a
/// host route) and a lookups file of one address a line. Blank lines and
/// `#` comments are skipped; anything else that is not one of those is
/// refused with its line and column, and nothing of the file is used.
public enum RouteFile {
    /// Splits a line into its words and the 1-based column each starts at, a `#` ending it.
    static func words(_ line: Substring) -> [(Substring, Int)] {
        var out: [(Substring, Int)] = []
        var i = line.startIndex, col = 1
        while i < line.endIndex {
            let c = line[i]
            if c == "#" { break }
            if c == " " || c == "\t" || c == "\r" { i = line.index(after: i); col += 1; continue }
            let start = i, startCol = col
            while i < line.endIndex, line[i] != " ", line[i] != "\t", line[i] != "\r", line[i] != "#" { i = line.index(after: i); col += 1 }
            out.append((line[start..<i], startCol))
        }
        return out
    }

    public static func routes(_ text: String, file: String) throws(TextInputError) -> [(prefix: IPPrefix, nextHop: String)] {
        try routeLines(text, file: file).map { ($0.prefix, $0.nextHop) }
    }

    /// The same, with the line and column of each next hop (for callers
    /// that give the next-hop word a meaning and refuse some).
    public static func routeLines(_ text: String, file: String) throws(TextInputError)
        -> [(prefix: IPPrefix, nextHop: String, line: Int, column: Int)] {
        var out: [(prefix: IPPrefix, nextHop: String, line: Int, column: Int)] = []
        for (n, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let w = words(line)
            if w.isEmpty { continue }
            func fail(_ col: Int, _ why: String) -> TextInputError { TextInputError(file: file, line: n + 1, column: col, reason: why) }
            guard let p = IPPrefix(w[0].0) else { throw fail(w[0].1, "'\(w[0].0)' is not an IPv4 or IPv6 prefix") }
            guard w.count >= 2 else { throw fail(w[0].1 + w[0].0.count, "a next hop must follow the prefix") }
            guard w.count == 2 else { throw fail(w[2].1, "unexpected '\(w[2].0)' after the next hop") }
            out.append((p, String(w[1].0), n + 1, w[1].1))
        }
        return out
    }

    public static func addresses(_ text: String, file: String) throws(TextInputError) -> [IPAddress] {
        var out: [IPAddress] = []
        for (n, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let w = words(line)
            if w.isEmpty { continue }
            func fail(_ col: Int, _ why: String) -> TextInputError { TextInputError(file: file, line: n + 1, column: col, reason: why) }
            guard let a = IPAddress(w[0].0) else { throw fail(w[0].1, "'\(w[0].0)' is not an IPv4 or IPv6 address") }
            guard w.count == 1 else { throw fail(w[1].1, "unexpected '\(w[1].0)' after the address") }
            out.append(a)
        }
        return out
    }
}

/// Next hops named by words, interned to the small integers a table holds.
public struct NextHopNames: Sendable {
    public private(set) var names: [String] = []
    var ids: [String: Int] = [:]
    public init() {}
    public mutating func id(_ name: String) -> Int {
        if let i = ids[name] { return i }
        ids[name] = names.count
        names.append(name)
        return names.count - 1
    }
    public subscript(id: Int) -> String { names[id] }
}
