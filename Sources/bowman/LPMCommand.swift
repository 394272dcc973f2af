import ArgumentParser
import Bowman

struct LPMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lpm",
        abstract: "Longest-prefix match: look up the addresses of one file in the routes of another.",
        discussion: """
            ROUTES has one 'PREFIX NEXT-HOP' a line, IPv4 and IPv6 mixed (a bare address is a \
            host route; the next hop is any word; a later line for the same prefix replaces it). \
            LOOKUPS has one address a line. Blank lines and '#' comments are skipped. Prints one \
            'ADDRESS NEXT-HOP' line per address, in order, with '-' where no route matches. A \
            malformed line refuses the run with FILE:LINE:COLUMN on standard error (exit 1).
            """)

    @Option(help: "The routes file.") var routes: String
    @Option(help: "The addresses to look up.") var lookup: String
    @Flag(help: "Print a summary (routes, lookups, matched, build time) on standard error.") var summary = false

    func run() throws {
        do {
            let t = try LPM.run(routes: routes, lookups: lookup) { print($0) }
            if summary {
                printError("\(t.routes) routes built in \(t.buildNanoseconds / 1_000_000) ms; \(t.lookups) lookups, \(t.matched) matched")
            }
        } catch {
            printError("bowman lpm: \(error)")
            throw ExitCode(1)
        }
    }
}
