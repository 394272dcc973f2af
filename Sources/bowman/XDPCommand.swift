import ArgumentParser
import BowmanIO

struct XDPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xdp",
        abstract: "Attach, detach and inspect Bowman's XDP program.",
        subcommands: [Attach.self, Detach.self, Status.self])

    struct Attach: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Attach the program to an interface (through libxdp's dispatcher when bpffs is mounted).")
        @Option(help: "Interface to attach to.") var iface: String
        @Option(help: "native (driver), generic (SKB) or offload (NIC).") var mode: String = "native"
        @Option(help: "Receive queues the engine will serve (checked against the interface).") var queues: Int?
        @Option(help: "The BPF object (default: .build/bpf/bowman_xdp.o next to the binary).") var object: String?

        func run() throws {
            guard let m = XDPAttachMode(rawValue: mode) else {
                throw ValidationError("--mode must be one of native, generic, offload")
            }
            do {
                let r = try XDPProgram.attach(interface: iface, mode: m, queues: queues, objectPath: object)
                print(r)
                if let got = r.mode, got != m { print("note: requested \(m) mode, the kernel gave \(got)") }
            } catch {
                printError("bowman xdp attach: \(error)")
                throw ExitCode(1)
            }
        }
    }

    struct Detach: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Detach the program and remove its pinned maps (also a stale one from a crashed run).")
        @Option(help: "Interface to detach from.") var iface: String?
        @Flag(help: "Detach from every interface of this namespace that carries it, and remove stale pinned maps.") var all = false

        func run() throws {
            guard (iface != nil) != all else { throw ValidationError("give --iface IF or --all") }
            let targets = all ? XDPProgram.interfacesCarryingBowman() : [iface!]
            do {
                for t in targets {
                    let removed = try XDPProgram.detach(interface: t)
                    print(removed ? "detached \(XDPProgram.name) from \(t)" : "\(t): no \(XDPProgram.name) attached")
                }
                if targets.isEmpty { print("no interface carries \(XDPProgram.name)") }
                if all {
                    for n in XDPProgram.removeStalePins() { print("removed stale pinned maps of \(n)") }
                }
            } catch {
                printError("bowman xdp detach: \(error)")
                throw ExitCode(1)
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Programs, mode, maps and counters per interface.")
        @Option(help: "Only this interface.") var iface: String?

        func run() throws {
            let names = iface.map { [$0] } ?? XDPProgram.allInterfaces()
            var shown = 0
            for name in names {
                let progs: [XDPProgram.Attached]
                do { progs = try XDPProgram.programs(on: name) } catch {
                    printError("bowman xdp status: \(error)")
                    throw ExitCode(1)
                }
                if progs.isEmpty && iface == nil { continue }
                shown += 1
                print("\(name):" + (progs.isEmpty ? " no XDP program" : ""))
                for p in progs {
                    print("  \(p.name) id \(p.id) mode \(p.mode?.description ?? "?")"
                          + (p.viaDispatcher ? " (dispatcher, priority \(p.priority))" : " (legacy, no dispatcher)"))
                }
                if progs.contains(where: { $0.name == XDPProgram.name }) {
                    let dir = XDPProgram.pinDirectory(name)
                    if let maps = try? XDPMaps(directory: dir) {
                        print("  maps pinned in \(dir); \(maps.hostAddressCount()) host addresses")
                        for (c, p, b) in maps.readCounters() { print("    \(c.description.padding(toLength: 18, withPad: " ", startingAt: 0)) \(p) packets, \(b) bytes") }
                    } else {
                        print("  maps not pinned in \(dir)")
                    }
                }
            }
            if shown == 0 { print("no XDP program on any interface") }
        }
    }
}
