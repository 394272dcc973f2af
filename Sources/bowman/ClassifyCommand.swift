import ArgumentParser
import Bowman
import BowmanClassifier

struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Classify packets of a capture, or a ClassBench trace, against a rule file.",
        discussion: "Prints one line per packet: the matching demux id (odyssey rules) or 1-based rule number (classbench), or -1.")

    @Option(help: "The rule file.") var rules: String
    @Option(help: "odyssey (one filter per line, 'DEMUX: [ ... ]') or classbench.") var format: String = "odyssey"
    @Option(help: "most-predicates (Odyssey's rule) or first-match (default for classbench).") var policy: String?
    @Option(help: "A pcap or pcapng capture to classify.") var pcap: String?
    @Option(help: "A ClassBench trace ('SIP DIP SPORT DPORT PROTO ...', decimal addresses).") var trace: String?
    @Flag(help: "Print a summary line at the end.") var summary = false

    func run() throws {
        let (f, p): (Classify.Format, MatchPolicy)
        do { (f, p) = try Classify.options(format: format, policy: policy) } catch { throw ValidationError("\(error)") }
        guard (pcap == nil) != (trace == nil) else { throw ValidationError("give exactly one of --pcap FILE and --trace FILE") }
        do {
            let c = try Classify.load(rules: rules, format: f, policy: p)
            let totals = try pcap.map { try Classify.run(classifier: c, pcap: $0) { print($0) } }
                ?? Classify.run(classifier: c, trace: trace!) { print($0) }
            if summary { print("\(totals.packets) packets, \(totals.matched) matched, \(c.rules.count) rules") }
        } catch {
            printError("bowman classify: \(error)")
            throw ExitCode(1)
        }
    }
}
