import ArgumentParser
import BowmanControl
import BowmanControlIO
import BowmanCore
import BowmanSystem

struct ManageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manage",
        abstract: "Run the node-administration services: ALM (UDP 9998), ATM (9999) and the routing manager (9990).",
        discussion: """
            Each datagram to those ports is one ALP, ATP or routing-control message in the syntax of \
            Odyssey's user's guide; the reply datagram is 'ok: ...' or 'error: ...' naming the line, \
            column and problem (a message with an error changes nothing). --identity names this \
            node as the messages do (repeatable; the --address is always one); host names resolve \
            through the system resolver when a table is calculated. Each message and its reply are \
            logged on standard error. Runs until SIGINT/SIGTERM or --seconds. Try: \
            echo '(name T) (add L1)' > /dev/udp/ADDRESS/9999 (bash; the reply is in the log, or use nc -u)
            """)

    @Option(help: "The address to listen on (IPv4 or IPv6).") var address: String
    @Option(help: "A name this node answers to in ALP messages (repeatable).") var identity: [String] = []
    @Option(help: "Stop after this many seconds (0: run until a signal).") var seconds: Double = 0

    func run() throws {
        guard let here = IPAddress(address) else { throw ValidationError("--address: '\(address)' is not an IPv4 or IPv6 address") }
        let node = NodeAdministration(identity: Set(identity + [address])) { name in
            IPAddress(name).map { [$0] } ?? ((try? Resolver.resolve(name)) ?? [])
        }
        let driver: NodeAdministrationDriver
        do { driver = try NodeAdministrationDriver(node: node, address: here) } catch {
            printError("bowman manage: \(error)")
            throw ExitCode(1)
        }
        driver.onAnswer = { from, reply in printError("bowman manage: \(from): \(reply)") }
        let loop = ManagementLoop(administration: driver)
        let stop = StopFlag()
        Signals.route(stop: stop, reload: nil)
        let end = seconds > 0 ? SystemClock.monotonicMilliseconds + UInt64(seconds * 1000) : UInt64.max
        printError("bowman manage: ALM \(here):\(ALP.port), ATM \(here):\(ATP.port), routing \(here):\(RoutingControl.port)")
        while !stop.isSet, SystemClock.monotonicMilliseconds < end { loop.runOnce(milliseconds: 200) }
        for e in loop.errors { printError("bowman manage: \(e)") }
    }
}
