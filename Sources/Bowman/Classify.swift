import BowmanClassifier
import BowmanIO
import BowmanPacket
import Foundation

/// `bowman classify`: loads rules, builds the flat tables, and prints the
/// matching demux id (Odyssey rules) or 1-based rule number (ClassBench)
/// per packet of a capture or per line of a ClassBench trace, -1 for none.
public enum Classify {
    public enum Format: String, Sendable { case odyssey, classbench }

    /// The rule format and match policy from their option texts; the policy
    /// defaults by format (first-match for ClassBench, Odyssey's rule otherwise).
    public static func options(format: String, policy: String?) throws -> (Format, MatchPolicy) {
        guard let f = Format(rawValue: format) else { throw Failure("format must be odyssey or classbench, not '\(format)'") }
        guard let text = policy else { return (f, f == .classbench ? .firstMatch : .mostPredicates) }
        guard let p = MatchPolicy(rawValue: text) else { throw Failure("policy must be most-predicates or first-match, not '\(text)'") }
        return (f, p)
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }

    /// Rules file, Odyssey format: one filter per line, `DEMUX: [ ... ]` or
    /// just `[ ... ]` (demux id = line number); `;` comments and blank lines
    /// are skipped; `(protocol ...)`/`(define ...)` lines teach protocols.
    public static func load(rules path: String, format: Format, policy: MatchPolicy) throws -> Classifier {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw Failure("\(path): cannot read: \(error.localizedDescription)")
        }
        do {
            switch format {
            case .classbench:
                return try ClassBench.classifier(try ClassBench.parseRules(text), policy: policy)
            case .odyssey:
                var c = Classifier(policy: policy)
                for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let line = raw.trimmingCharacters(in: .whitespaces)
                    if line.isEmpty || line.hasPrefix(";") { continue }
                    let indent = raw.prefix { $0 == " " || $0 == "\t" }.count
                    var filterStart = 0   // column offset of the filter inside the line
                    do throws(ClassifierError) {
                        if line.hasPrefix("(") { try c.addProtocol(line); continue }
                        var demux = i + 1
                        var filter = Substring(line)
                        if let colon = line.firstIndex(of: ":"), let bracket = line.firstIndex(of: "["), colon < bracket {
                            guard let d = Int(line[..<colon].trimmingCharacters(in: .whitespaces)) else {
                                throw ClassifierError("'\(line[..<colon])' is not a demux id", at: .init(line: 1, column: 1))
                            }
                            demux = d
                            filter = line[line.index(after: colon)...]
                            filterStart = line.distance(from: line.startIndex, to: line.index(after: colon))
                        }
                        try c.addFilter(String(filter), demuxID: demux)
                    } catch {
                        // Locations inside one line: report the file's line.
                        let column = error.location.map { ", column \($0.column + indent + filterStart)" } ?? ""
                        throw Failure("\(path): line \(i + 1)\(column): \(error.message)")
                    }
                }
                return c
            }
        } catch let e as ClassifierError {
            throw Failure("\(path): \(e)")
        }
    }

    /// Classifies every packet of a capture; `emit` gets one line each.
    public static func run(classifier c: Classifier, pcap path: String, emit: (String) -> Void) throws -> (packets: Int, matched: Int) {
        let tables = ClassifierTables(c)
        var reader = try PcapReader(path: path)
        var n = 0, matched = 0
        while let r = try reader.next({ (_, _, bytes) -> Int in tables.match(bytes) }) {
            n += 1
            if r != Classifier.noMatch { matched += 1 }
            emit("\(r)")
        }
        return (n, matched)
    }

    /// Classifies every line of a ClassBench trace.
    public static func run(classifier c: Classifier, trace path: String, emit: (String) -> Void) throws -> (packets: Int, matched: Int) {
        let tables = ClassifierTables(c)
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw Failure("\(path): cannot read: \(error.localizedDescription)")
        }
        var n = 0, matched = 0
        for (i, line) in text.split(separator: "\n").enumerated() where !line.allSatisfy({ $0 == " " || $0 == "\t" }) {
            let e: ClassBench.TraceEntry
            do throws(ClassifierError) { e = try ClassBench.parseTrace(String(line), number: i + 1) } catch {
                throw Failure("\(path): \(error)")
            }
            let r = e.frame().withUnsafeBytes { tables.match($0) }
            n += 1
            if r != Classifier.noMatch { matched += 1 }
            emit("\(r)")
        }
        return (n, matched)
    }
}
