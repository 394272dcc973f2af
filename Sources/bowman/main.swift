import ArgumentParser
import Bowman
import BowmanCore
import BowmanIO
import BowmanSystem

/// Writes a line to standard error.
func printError(_ s: String) { StandardError.writeLine(s) }

struct BowmanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bowman",
        abstract: "A kernel-bypass packet engine for Linux router hosts.",
        version: BowmanVersion.string,
        subcommands: [DemoCommand.self, RunCommand.self, CheckCommand.self, CtlCommand.self, CaptureCommand.self, DecodeCommand.self, XDPCommand.self, ClassifyCommand.self, LPMCommand.self, FIBCommand.self, SPFCommand.self, ManageCommand.self, GRASPCommand.self])
}

struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Print one line per packet of a pcap or pcapng file (like tcpdump -nn -r).",
        discussion: "Exit status 0 when the file is a readable capture, even if packets in it are malformed; 1 when it is not.")

    @Argument(help: "A pcap or pcapng capture file.") var file: String
    @Flag(help: "Print a summary line (packets, malformed, bad checksums) at the end.") var summary = false

    func run() throws {
        do {
            let totals = try Decode.run(path: file) { print($0) }
            if summary {
                print("\(totals.packets) packets, \(totals.malformed) malformed, \(totals.badChecksums) with a bad checksum")
            }
        } catch {
            printError("bowman: \(error)")
            throw ExitCode(1)
        }
    }
}

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Make a veth pair in two namespaces, send traffic through Bowman, and print packets/s (needs root).")

    @Option(help: "How long to send, in seconds.") var seconds: Double = 3
    @Option(help: "Frame size in bytes (60 to 1514).") var size: Int = 64

    func validate() throws {
        guard (60...1514).contains(size) else { throw ValidationError("--size must be between 60 and 1514") }
        guard seconds > 0, seconds <= 600 else { throw ValidationError("--seconds must be in (0, 600]") }
    }

    func run() throws {
        var o = Demo.Options()
        o.seconds = seconds
        o.frameSize = size
        if Affinity.allowedCPUCount < 2 { o.generatorCore = nil; o.receiverCore = nil }
        do {
            let report = try Demo.run(o) { print($0) }
            print("Result: \(report)")
            if !report.audit.isConsistent { printError("bowman: frame accounting is inconsistent"); throw ExitCode(1) }
            if report.received == 0 { printError("bowman: no packet arrived"); throw ExitCode(1) }
        } catch let e as ExitCode {
            throw e
        } catch {
            printError("bowman demo: \(error)")
            throw ExitCode(1)
        }
    }
}

BowmanCommand.main()
