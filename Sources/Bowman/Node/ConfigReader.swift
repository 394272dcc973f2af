import Yams

/// A config file refused: the file, the line and column of the offending
/// key or value, the key's path (`ports[1]`, `console.listen`) and why.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    /// The key path, empty for the file as a whole.
    public var key: String
    public var reason: String
    public init(file: String, line: Int, column: Int, key: String, reason: String) {
        self.file = file; self.line = line; self.column = column; self.key = key; self.reason = reason
    }
    public var description: String {
        "\(file):\(line):\(column): " + (key.isEmpty ? "" : "\(key): ") + reason
    }
}

/// One YAML node on its way into a config: where it is (file, line,
/// column, key path), and typed readers that refuse what does not fit
/// with that position. Mappings are read through `fields`, which refuses
/// unknown and repeated keys, so a misspelt option never passes silently.
struct ConfigValue {
    let node: Yams.Node
    let file: String
    let path: String

    var line: Int { node.mark?.line ?? 0 }
    var column: Int { node.mark?.column ?? 0 }

    func error(_ reason: String) -> ConfigError {
        ConfigError(file: file, line: line, column: column, key: path, reason: reason)
    }

    /// Parses `text`; a YAML syntax error is reported at its line and column.
    static func parse(_ text: String, file: String) throws(ConfigError) -> ConfigValue? {
        do {
            guard let n = try Yams.compose(yaml: text) else { return nil }
            return ConfigValue(node: n, file: file, path: "")
        } catch let e as YamlError {
            switch e {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                 .composer(let context, let problem, let mark, _):
                let why = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
                throw ConfigError(file: file, line: mark.line, column: mark.column, key: "", reason: "not valid YAML: \(why)")
            case .duplicatedKeysInMapping(let duplicates, let context):
                // Yams finds it; the second occurrence is where the mistake is.
                let key = duplicates.first ?? "?"
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                var seen = 0
                for (i, l) in lines.enumerated() where i + 1 >= context.mark.line {
                    let body = l.drop { $0 == " " || $0 == "-" }
                    if body.hasPrefix("\(key):") || body.hasPrefix("{\(key):") || l.contains(" \(key):") || l.contains("{\(key):") {
                        seen += 1
                        if seen == 2 {
                            let col = (l.range(of: "\(key):").map { l.distance(from: l.startIndex, to: $0.lowerBound) } ?? 0) + 1
                            throw ConfigError(file: file, line: i + 1, column: col, key: key, reason: "'\(key)' is given twice")
                        }
                    }
                }
                throw ConfigError(file: file, line: context.mark.line, column: context.mark.column, key: key, reason: "'\(key)' is given twice")
            case .reader(let problem, _, _, _):
                throw ConfigError(file: file, line: 0, column: 0, key: "", reason: "cannot read: \(problem)")
            default:
                throw ConfigError(file: file, line: 0, column: 0, key: "", reason: "not valid YAML: \(e)")
            }
        } catch {
            throw ConfigError(file: file, line: 0, column: 0, key: "", reason: "not valid YAML: \(error)")
        }
    }

    private func child(_ n: Yams.Node, _ key: String) -> ConfigValue {
        ConfigValue(node: n, file: file, path: path.isEmpty ? key : "\(path).\(key)")
    }

    /// The mapping's values by key; a key not in `known`, a repeated key or
    /// a non-scalar key is refused at its position.
    func fields(_ known: [String]) throws(ConfigError) -> Fields {
        guard case .mapping(let m) = node else { throw error("expected a mapping of \(known.joined(separator: ", "))") }
        var out: [String: ConfigValue] = [:]
        for (k, v) in m {
            let keyText = k.scalar?.string
            let at = ConfigValue(node: k, file: file, path: path.isEmpty ? (keyText ?? "?") : "\(path).\(keyText ?? "?")")
            guard let key = keyText else { throw at.error("a key must be a plain word") }
            guard known.contains(key) else {
                throw at.error("unknown key '\(key)'" + (path.isEmpty ? "" : " in \(path)") + " (known: \(known.joined(separator: ", ")))")
            }
            guard out[key] == nil else { throw at.error("'\(key)' is given twice") }
            out[key] = child(v, key)
        }
        return Fields(values: out, owner: self)
    }

    /// The list's items (a single scalar counts as a list of one).
    func list() throws(ConfigError) -> [ConfigValue] {
        switch node {
        case .sequence(let s):
            return s.enumerated().map { i, n in ConfigValue(node: n, file: file, path: "\(path)[\(i)]") }
        case .scalar:
            return [self]
        default:
            throw error("expected a list")
        }
    }

    func string() throws(ConfigError) -> String {
        guard case .scalar(let s) = node else { throw error("expected a single value, not a \(kindName)") }
        return s.string
    }

    func nonEmptyString() throws(ConfigError) -> String {
        let s = try string()
        guard !s.isEmpty else { throw error("must not be empty") }
        return s
    }

    func int<T: FixedWidthInteger>(_ range: ClosedRange<T>) throws(ConfigError) -> T {
        let s = try string()
        guard let v = T(s.replacingUnderscores) else { throw error("'\(s)' is not a whole number") }
        guard range.contains(v) else { throw error("\(v) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return v
    }

    func double(_ range: ClosedRange<Double>) throws(ConfigError) -> Double {
        let s = try string()
        guard let v = Double(s), v.isFinite else { throw error("'\(s)' is not a number") }
        guard range.contains(v) else { throw error("\(s) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return v
    }

    func bool() throws(ConfigError) -> Bool {
        let s = try string()
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("'\(s)' is not true or false")
        }
    }

    /// One of `choices`.
    func choice(_ choices: [String]) throws(ConfigError) -> String {
        let s = try string()
        guard choices.contains(s) else { throw error("'\(s)' is not one of \(choices.joined(separator: ", "))") }
        return s
    }

    private var kindName: String {
        switch node {
        case .mapping: "mapping"
        case .sequence: "list"
        case .scalar: "value"
        case .alias: "alias"
        }
    }

    /// A mapping's values, read by key.
    struct Fields {
        let values: [String: ConfigValue]
        let owner: ConfigValue
        subscript(_ key: String) -> ConfigValue? { values[key] }
        /// A key that must be there.
        func required(_ key: String) throws(ConfigError) -> ConfigValue {
            guard let v = values[key] else { throw owner.error("'\(key)' is missing") }
            return v
        }
    }
}

extension String {
    /// `16_384` reads as 16384.
    var replacingUnderscores: String { String(filter { $0 != "_" }) }
}
