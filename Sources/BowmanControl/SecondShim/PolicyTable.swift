/// The administrator's second-shim policy per application, from text:
///
///     # comment
///     default        all-pairs
///     echo-app       off
///     video.*        sources-only      # a trailing * matches any suffix
///
/// One `NAME POLICY` per line. The most specific entry wins: an exact name,
/// then the longest matching `prefix*`, then `default` (which is `off` when
/// the table does not say: the application's own choice, untouched).
/// A malformed table is refused as a whole with the line and column of the
/// first problem, so the running table stays as it was.
extension SecondShim {
    public struct PolicyTable: Equatable, Sendable {
        public private(set) var fallback: Policy = .off
        public private(set) var exact: [String: Policy] = [:]
        /// (prefix, policy), longest prefix first.
        public private(set) var prefixes: [(String, Policy)] = []

        public init() {}

        public static func == (a: PolicyTable, b: PolicyTable) -> Bool {
            a.fallback == b.fallback && a.exact == b.exact && a.prefixes.map(\.0) == b.prefixes.map(\.0)
                && a.prefixes.map(\.1) == b.prefixes.map(\.1)
        }

        public struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
            public var line: Int
            public var column: Int
            public var message: String
            public var description: String { "line \(line), column \(column): \(message)" }
        }

        public init(parsing text: String) throws(ParseError) {
            var seen: [String: Int] = [:]
            for (n, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
                let line = n + 1
                let content = raw.firstIndex(of: "#").map { raw[..<$0] } ?? raw[...]
                // Fields with their 1-based columns.
                var fields: [(Substring, Int)] = []
                var i = content.startIndex
                while i < content.endIndex {
                    if content[i] == " " || content[i] == "\t" || content[i] == "\r" { i = content.index(after: i); continue }
                    let start = i
                    while i < content.endIndex, !(content[i] == " " || content[i] == "\t" || content[i] == "\r") { i = content.index(after: i) }
                    fields.append((content[start..<i], content.distance(from: content.startIndex, to: start) + 1))
                }
                if fields.isEmpty { continue }
                guard fields.count == 2 else {
                    let col = fields.count > 2 ? fields[2].1 : fields[0].1 + fields[0].0.count
                    throw ParseError(line: line, column: col,
                                     message: fields.count > 2 ? "expected NAME POLICY, found more after the policy" : "expected a policy after '\(fields[0].0)'")
                }
                let (name, nameCol) = fields[0], (word, wordCol) = fields[1]
                guard let policy = Policy(rawValue: String(word)) else {
                    throw ParseError(line: line, column: wordCol,
                                     message: "unknown policy '\(word)' (one of \(Policy.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                let star = name.firstIndex(of: "*")
                if let s = star, s != name.index(before: name.endIndex) {
                    throw ParseError(line: line, column: nameCol + name.distance(from: name.startIndex, to: s),
                                     message: "'*' may only end a name")
                }
                guard name.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F }), name.utf8.count <= 255 else {
                    throw ParseError(line: line, column: nameCol, message: "an application name is 1-255 printable bytes")
                }
                let key = String(name)
                if let first = seen[key] {
                    throw ParseError(line: line, column: nameCol, message: "'\(key)' already set on line \(first)")
                }
                seen[key] = line
                if key == "default" {
                    fallback = policy
                } else if star != nil {
                    prefixes.append((String(name.dropLast()), policy))
                } else {
                    exact[key] = policy
                }
            }
            prefixes.sort { $0.0.count > $1.0.count }
        }

        /// The policy for `application`.
        public func policy(for application: String) -> Policy {
            if let p = exact[application] { return p }
            for (prefix, p) in prefixes where application.hasPrefix(prefix) { return p }
            return fallback
        }
    }
}
