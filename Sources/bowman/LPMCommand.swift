import ArgumentParser
import Bowman
import BowmanSystem

struct LPMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lpm",
        abstract: "Longest-prefix match: look up the addresses of one file in the routes of another, or of the kernel.",
        discussion: """
            ROUTES has one 'PREFIX NEXT-HOP' a line, IPv4 and IPv6 mixed (a bare address is a \
            host route; the next hop is any word; a later line for the same prefix replaces it). \
            LOOKUPS has one address a line. Blank lines and '#' comments are skipped. Prints one \
            'ADDRESS NEXT-HOP' line per address, in order, with '-' where no route matches. A \
            malformed line refuses the run with FILE:LINE:COLUMN on standard error (exit 1). \
            With --fib kernel[:TABLE] the routes are the kernel's (table main by default), read \
            over rtnetlink; the next hop is then written 'via_GW_dev_IFINDEX', ECMP hops joined by ','.
            """)

    @Option(help: "The routes file.") var routes: String?
    @Option(help: "kernel or kernel:TABLE (main, local, default or a number) instead of --routes.") var fib: String?
    @Option(help: "The addresses to look up.") var lookup: String
    @Flag(help: "Print a summary (routes, lookups, matched, build time) on standard error.") var summary = false

    func validate() throws {
        guard (routes == nil) != (fib == nil) else { throw ValidationError("give exactly one of --routes FILE and --fib kernel[:TABLE]") }
        if let fib, KernelFIB.parseSource(fib) == nil { throw ValidationError("--fib wants kernel or kernel:TABLE, not '\(fib)'") }
    }

    func run() throws {
        do {
            let t = if let routes {
                try LPM.run(routes: routes, lookups: lookup) { print($0) }
            } else {
                try KernelFIB.lookup(table: KernelFIB.parseSource(fib!)!, lookups: lookup) { print($0) }
            }
            if summary {
                printError("\(t.routes) routes built in \(t.buildNanoseconds / 1_000_000) ms; \(t.lookups) lookups, \(t.matched) matched")
            }
        } catch {
            printError("bowman lpm: \(error)")
            throw ExitCode(1)
        }
    }
}

struct FIBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fib",
        abstract: "Print a kernel routing table as Bowman mirrors it (rtnetlink), and follow its changes.",
        discussion: """
            One 'PREFIX NEXT-HOPS' line per prefix, the kernel's best route (lowest metric) of \
            each: 'via GW dev IFINDEX [weight W]' per next hop, or blackhole, unreachable, \
            prohibit. With --follow, then prints '+ PREFIX NEXT-HOPS' and '- PREFIX' as routes \
            change, until SIGINT/SIGTERM or SECONDS.
            """)

    @Option(help: "main, local, default or a table number.") var table: String = "main"
    @Option(help: "Follow changes for this many seconds (0: print and exit).") var follow: Double = 0

    func run() throws {
        guard let id = KernelFIB.tableID(table) else { throw ValidationError("--table wants main, local, default or a number") }
        do {
            let d = try KernelFIB.mirror(table: id)
            /// Prefix -> its line.
            func lines() -> [String: String] {
                Dictionary(uniqueKeysWithValues: KernelFIB.lines(d.mirror).map { (String($0.prefix { $0 != " " }), $0) })
            }
            var shown = lines()
            for l in KernelFIB.lines(d.mirror) { print(l) }
            guard follow > 0 else { return }
            let stop = StopFlag()
            Signals.route(stop: stop, reload: nil)
            let end = SystemClock.monotonicMilliseconds + UInt64(follow * 1000)
            while !stop.isSet, SystemClock.monotonicMilliseconds < end {
                _ = Poll.wait(for: d.descriptor, milliseconds: 200)
                guard try d.pump() > 0 else { continue }
                let now = lines()
                for (p, l) in now.sorted(by: { $0.key < $1.key }) where shown[p] != l { print("+ \(l)") }
                for p in shown.keys.sorted() where now[p] == nil { print("- \(p)") }
                shown = now
            }
        } catch {
            printError("bowman fib: \(error)")
            throw ExitCode(1)
        }
    }
}
