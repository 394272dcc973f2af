import ArgumentParser
import Bowman
import BowmanControlIO
import BowmanCBOR
import BowmanControl
import BowmanCore
import BowmanSystem

struct GRASPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grasp",
        abstract: "Speak GRASP (RFC 8990) on this host's link-local IPv6 interfaces.",
        discussion: """
        offer answers discovery and synchronisation for an objective until SIGINT/SIGTERM (or --seconds); \
        discover multicasts M_DISCOVERY and prints every locator that answered; sync discovers the \
        objective (unless --peer is given) and prints the value the first responder synchronises.
        VALUE is an integer, true, false, null, or else a text string.
        """,
        subcommands: [Offer.self, Discover.self, Sync.self, ALM.self])

    struct Common: ParsableArguments {
        @Option(name: .customLong("iface"), help: "Interface to use (repeatable; default: every interface up with a link-local address).")
        var interfaces: [String] = []
    }

    static func value(_ text: String) -> CBOR {
        if let i = Int64(text) { return .int(i) }
        switch text {
        case "true": return .bool(true)
        case "false": return .bool(false)
        case "null": return .null
        default: return .text(text)
        }
    }

    static func node(_ c: Common) throws -> GRASPDriver {
        do { return try GRASPDriver(interfaces: c.interfaces) } catch {
            printError("bowman grasp: \(error)")
            throw ExitCode(1)
        }
    }

    struct Offer: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Offer an objective for discovery and synchronisation.")
        @Argument(help: "Objective name (e.g. Bowman.ALM).") var name: String
        @Argument(help: "Objective value.") var value: String
        @OptionGroup var common: Common
        @Option(help: "Stop after this many seconds (default: until SIGINT/SIGTERM).") var seconds: Double?

        func run() throws {
            let node = try GRASPCommand.node(common)
            let o = GRASPObjective(name: name, flags: [.discovery, .synchronization], loopCount: 1, value: GRASPCommand.value(value))
            node.offer(o, at: node.listenerLocator)
            print("offering \(name) = \(o.value!) at \(node.listenerLocator) on \(node.interfaces.map(\.name).joined(separator: ", "))")
            Signals.unblockTermination()
            Signals.route(stop: signalStop)
            let end = seconds.map { GRASPDriver.now() + UInt64($0 * 1000) }
            while !signalStop.isSet, end.map({ GRASPDriver.now() < $0 }) ?? true {
                _ = node.poll(milliseconds: 100)
            }
            print("answered: \(node.sent.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); dropped \(node.engine.droppedMessages)")
        }
    }

    /// Polls until one of `want` reports; returns it (nil at the deadline).
    static func await(_ node: GRASPDriver, first: [GRASPNode.Action], milliseconds: UInt64,
                      _ want: (GRASPNode.Action) -> Bool) -> GRASPNode.Action? {
        if let a = first.first(where: want) { return a }
        let end = GRASPDriver.now() + milliseconds
        while GRASPDriver.now() < end {
            if let a = node.poll(milliseconds: 50).first(where: want) { return a }
        }
        return nil
    }

    /// Discovers `name`; the outcome (`.discovered` or `.discoveryFailed`), nil if none came.
    static func discovery(_ node: GRASPDriver, _ name: String) -> GRASPNode.Action? {
        Self.await(node, first: node.discover(name), milliseconds: 5_000) {
            if case .discovered = $0 { true } else if case .discoveryFailed = $0 { true } else { false }
        }
    }

    struct Discover: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Discover who offers an objective; print their locators.")
        @Argument(help: "Objective name.") var name: String
        @OptionGroup var common: Common

        func run() throws {
            let node = try GRASPCommand.node(common)
            switch GRASPCommand.discovery(node, name) {
            case .discovered(_, let ls)?:
                for l in ls { print("\(name) at \(l)") }
            case .discoveryFailed(_, let why)?:
                printError("bowman grasp discover: \(name): \(why)")
                throw ExitCode(1)
            default:
                printError("bowman grasp discover: \(name): no result")
                throw ExitCode(1)
            }
        }
    }

    struct Sync: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Synchronise an objective's value from a peer that offers it.")
        @Argument(help: "Objective name.") var name: String
        @Option(help: "Ask this peer (an IPv6 address) instead of discovering one.") var peer: String?
        @OptionGroup var common: Common

        func run() throws {
            let node = try GRASPCommand.node(common)
            var target: IPAddress
            if let p = peer {
                guard let a = IPAddress(p), case .v6 = a else { throw ValidationError("--peer must be an IPv6 address") }
                target = a
            } else {
                guard case .discovered(_, let ls)? = GRASPCommand.discovery(node, name), let l = ls.first(where: { if case .ipv6 = $0 { true } else { false } }),
                      case .ipv6(let a, _, _) = l else {
                    printError("bowman grasp sync: \(name): nobody offers it on \(node.interfaces.map(\.name).joined(separator: ", "))")
                    throw ExitCode(1)
                }
                target = .v6(a)
            }
            let r = GRASPCommand.await(node, first: node.synchronize(name, with: target), milliseconds: 5_000) {
                if case .synchronized = $0 { true } else if case .synchronizationFailed = $0 { true } else { false }
            }
            switch r {
            case .synchronized(_, let v, _)?:
                print("\(name) = \(v) (from \(target))")
            case .synchronizationFailed(_, let why)?:
                printError("bowman grasp sync: \(name): \(why)")
                throw ExitCode(1)
            default:
                printError("bowman grasp sync: \(name): no answer")
                throw ExitCode(1)
            }
        }
    }

    struct ALM: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Advertise this node's ALM endpoint as Bowman.ALM and list the neighbours that do the same.")
        @Option(help: "This node's ALM address (where its shim-UDP listener is).") var address: String
        @Option(help: "ALM port.") var port: UInt16 = ShimUDP.listenPort
        @Option(help: "Seconds between discoveries.") var interval: Double = 10
        @Option(help: "Stop after this many seconds (default: until SIGINT/SIGTERM).") var seconds: Double?
        @OptionGroup var common: Common

        func run() throws {
            guard let a = IPAddress(address) else { throw ValidationError("--address must be an IPv4 or IPv6 address") }
            guard interval >= 0.1 else { throw ValidationError("--interval must be at least 0.1") }
            let node = try GRASPCommand.node(common)
            let alm = ALMDriver(node: node, alm: ShimUDP.Endpoint(a, port), interval: UInt64(interval * 1000))
            print("advertising \(ALMNeighbours.objective) = \(ALMNeighbours.value(ShimUDP.Endpoint(a, port))) on \(node.interfaces.map(\.name).joined(separator: ", "))")
            Signals.unblockTermination()
            Signals.route(stop: signalStop)
            let end = seconds.map { GRASPDriver.now() + UInt64($0 * 1000) }
            while !signalStop.isSet, end.map({ GRASPDriver.now() < $0 }) ?? true {
                for n in alm.poll(milliseconds: 100) { print(n) }
            }
            print("\(alm.neighbours.count) neighbours")
        }
    }
}
