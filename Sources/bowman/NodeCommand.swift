import ArgumentParser
import Bowman
import BowmanControl
import BowmanControlIO
import BowmanCore
import BowmanSystem
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import Synchronization

/// `bowman run --config FILE`: the node's daemon, as a swift-service-lifecycle
/// ServiceGroup: SIGTERM and SIGINT shut it down gracefully (the node's
/// stop flag: workers stop, the XDP program is detached), SIGHUP reloads.
/// The node itself runs on its own thread (the management core's poll
/// loop, pinned), never on the concurrency pool.
enum NodeCommand {
    static func run(config path: String, seconds: Double?) throws {
        let config: NodeConfig
        do { config = try NodeConfig.load(path) } catch {
            printError("bowman: \(error)")
            throw ExitCode(2)
        }
        let problems = Node.check(config)
        if !problems.isEmpty {
            for p in problems { printError("bowman: \(path): \(p)") }
            throw ExitCode(2)
        }
        NodeLogHandler.level.store(config.logLevel.rank, ordering: .relaxed)
        LoggingSystem.bootstrap { label in NodeLogHandler(label: label) }
        let logger = Logger(label: "bowman")
        Signals.unblockTermination()
        let node: Node
        do {
            node = try Node(config: config, reload: signalReload) { logger.info("\($0)") }
        } catch {
            logger.error("\(error)")
            throw ExitCode(1)
        }
        node.onLogLevel = { NodeLogHandler.level.store($0.rank, ordering: .relaxed) }
        // The concurrency pool's threads (the service group's) inherit this
        // thread's CPUs: keep them on the management core, off the data cores.
        if let o = try? node.dataPlaneOptions() {
            let management = node.managementCPUs(o)
            if !management.isEmpty { try? Affinity.restrictCurrentThread(to: management) }
        }
        let daemon = NodeDaemon(node: node, seconds: seconds)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: daemon, successTerminationBehavior: .gracefullyShutdownGroup),
                       .init(service: HangupService(reload: signalReload), successTerminationBehavior: .ignore)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        let done = DispatchSemaphore(value: 0)
        let failure = ErrorBox()
        Task {
            do { try await group.run() } catch { failure.error = "\(error)" }
            done.signal()
        }
        done.wait()
        if let e = failure.error { logger.error("\(e)"); throw ExitCode(1) }
        guard let report = daemon.report.value else { throw ExitCode(1) }
        logger.notice("stopped: \(report)")
        if !report.audit.isConsistent { logger.error("frame accounting is inconsistent"); throw ExitCode(1) }
    }
}

final class ErrorBox: @unchecked Sendable { var error: String? }

/// The node as a Service: its blocking run on a thread of its own; a
/// graceful shutdown sets its stop flag.
final class NodeDaemon: Service, @unchecked Sendable {
    let node: Node
    let seconds: Double?
    let stop = StopFlag()
    let report = ReportBox()
    init(node: Node, seconds: Double?) { self.node = node; self.seconds = seconds }

    final class ReportBox: @unchecked Sendable { var value: DataPlane.Report? }

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let t = Thread { [self] in
                    do {
                        report.value = try node.run(stop: stop, seconds: seconds)
                        c.resume()
                    } catch {
                        c.resume(throwing: error)
                    }
                }
                t.name = "bowman-management"
                t.start()
            }
        } onGracefulShutdown: { [stop] in
            stop.set()
        }
    }
}

/// SIGHUP: the node reads its config again (it watches the flag).
struct HangupService: Service {
    let reload: StopFlag
    func run() async {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() { reload.set() }
    }
}

extension NodeConfig.LogLevel {
    /// swift-log's order: trace 0 ... critical 6.
    var rank: Int { [1, 2, 3, 4, 5][NodeConfig.LogLevel.allCases.firstIndex(of: self)!] }
    var swiftLog: Logger.Level {
        switch self {
        case .debug: .debug
        case .info: .info
        case .notice: .notice
        case .warning: .warning
        case .error: .error
        }
    }
}

/// Log lines on standard error: `LEVEL: message`, with a timestamp unless
/// systemd's journal takes the stream (it stamps lines itself; it sets
/// JOURNAL_STREAM), where `<N>` syslog priority prefixes give the level.
struct NodeLogHandler: LogHandler {
    let label: String
    /// The level every handler follows (the config's, or the console's `set log-level`).
    static let level = Atomic<Int>(2)
    var logLevel: Logger.Level {
        get { Logger.Level.allCases[max(0, min(Logger.Level.allCases.count - 1, Self.level.load(ordering: .relaxed)))] }
        set { Self.level.store(Logger.Level.allCases.firstIndex(of: newValue) ?? 2, ordering: .relaxed) }
    }
    var metadata: Logger.Metadata = [:]
    static let journal = getenv("JOURNAL_STREAM") != nil

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        if Self.journal {
            let priority: Int
            switch event.level {
            case .trace, .debug: priority = 7
            case .info: priority = 6
            case .notice: priority = 5
            case .warning: priority = 4
            case .error: priority = 3
            case .critical: priority = 2
            }
            StandardError.writeLine("<\(priority)>\(event.message)")
        } else {
            let t = SystemClock.realtime
            var tm = Glibc.tm()
            var secs = time_t(t.seconds)
            gmtime_r(&secs, &tm)
            let stamp = String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1, Int(tm.tm_mday),
                               Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec), Int(t.nanoseconds / 1_000_000))
            StandardError.writeLine("\(stamp) \(event.level): \(event.message)")
        }
    }
}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a node's config file and the files it names, touching nothing else.",
        discussion: "Exit status 0 when the node would start from it, 2 with one line per problem (file:line:column: key: why) when not.")

    @Option(help: "The config file.") var config: String

    func run() throws {
        let c: NodeConfig
        do { c = try NodeConfig.load(config) } catch {
            printError("bowman: \(error)")
            throw ExitCode(2)
        }
        let problems = Node.check(c)
        for p in problems { printError("bowman: \(config): \(p)") }
        if !problems.isEmpty { throw ExitCode(2) }
        print("\(config): ok: node \(c.name), \(c.ports.count) port\(c.ports.count == 1 ? "" : "s") (\(c.ports.map(\.description).joined(separator: ", "))), "
              + "\(c.forward.rawValue)" + (c.console.map { ", console on \($0.listen)" } ?? "") + (c.metrics.map { ", metrics on \($0.listen)" } ?? ""))
    }
}

struct CtlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Run one Hal console command on a running node and print its answer.",
        discussion: """
        Logs in with the secret in --secret-file (the node's console.secret-file), sends the command, prints the reply \
        lines and exits 0 on `ok`, 1 on `error: ...` (printed to stderr), 2 when the console cannot be reached. Example:
          bowman ctl --secret-file /etc/bowman/console.secret list ports
        """)

    @Option(help: "The console's address: ADDRESS:PORT or [IPV6]:PORT.") var console: String = "127.0.0.1:2001"
    @Option(help: "The file holding the console secret.") var secretFile: String = "/etc/bowman/console.secret"
    @Option(help: "Seconds to wait for an answer.") var timeout: Double = 10
    @Argument(help: "The command and its words, e.g. list ports.") var command: [String]

    func run() throws {
        let secret: [UInt8]
        do { secret = try SecretFile.read(secretFile) } catch { printError("bowman ctl: \(error)"); throw ExitCode(2) }
        let answer: HalClient.Answer
        do {
            answer = try HalClient.run(console: console, secret: secret, command: command.joined(separator: " "), timeoutMilliseconds: Int32(timeout * 1000))
        } catch {
            printError("bowman ctl: \(error)")
            throw ExitCode(2)
        }
        for l in answer.lines { print(l) }
        if let e = answer.error { printError("bowman ctl: \(e)"); throw ExitCode(1) }
    }
}

struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Capture a running node's port into a pcap file (through its console).",
        discussion: """
        The node's workers copy the port's packets (as received, or --point tx: as sent) into bounded rings and the node's \
        management core writes those FILTER matches; when the writer falls behind packets are dropped and counted, never \
        waited for. FILTER is a tcpdump expression (libpcap) or an Odyssey filter in brackets. Stops after --count packets, \
        --seconds, or SIGINT. Example:
          bowman capture --port af_xdp:eth1:0 --file /tmp/eth1.pcap --filter 'udp port 53' --count 100
        """)

    @Option(help: "The port: its index, its spec (af_xdp:eth1:0) or its interface.") var port: String
    @Option(help: "The pcap file to write (on the node's machine; made absolute here).") var file: String
    @Option(help: "A tcpdump expression, or an Odyssey filter such as '[ ethernet | ip (proto = 17) | * ]'.") var filter: String?
    @Option(help: "Stop after this many packets.") var count: Int?
    @Option(help: "rx: as received, before the forwarding function; tx: as sent, after it.") var point: String = "rx"
    @Option(help: "Stop after this many seconds.") var seconds: Double?
    @Option(help: "The console's address.") var console: String = "127.0.0.1:2001"
    @Option(help: "The file holding the console secret.") var secretFile: String = "/etc/bowman/console.secret"

    func run() throws {
        let secret: [UInt8]
        do { secret = try SecretFile.read(secretFile) } catch { printError("bowman capture: \(error)"); throw ExitCode(2) }
        guard let address = HalClient.parseAddress(console) else { throw ValidationError("--console wants ADDRESS:PORT") }
        let path = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
        var command = "capture \(port) \(path) point \(point)"
        if let count { command += " count \(count)" }
        if let filter { command += " filter \(filter)" }
        Signals.unblockTermination()
        Signals.route(stop: signalStop)
        do {
            let c = try HalClient.Connection(address, timeout: 5000)
            defer { c.close() }
            _ = try c.answer()
            if let e = try c.ask("auth " + String(decoding: secret, as: UTF8.self)).error { throw HalClient.Failure("login refused: \(e)") }
            let started = try c.ask(command)
            if let e = started.error { printError("bowman capture: \(e)"); throw ExitCode(1) }
            print(started.lines.joined(separator: "\n"))
            guard let first = started.lines.first, let id = first.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
                throw HalClient.Failure("unexpected answer: \(started.lines)")
            }
            let t0 = Date()
            var detail: [String] = []
            while true {
                detail = try c.ask("show captures \(id)").lines
                if !detail.contains("state running") { break }
                if signalStop.isSet || (seconds.map { Date().timeIntervalSince(t0) >= $0 } ?? false) {
                    _ = try c.ask("capture stop \(id)")
                    detail = try c.ask("show captures \(id)").lines
                    break
                }
                Thread.sleep(forTimeInterval: 0.2)
            }
            for l in detail.dropFirst() { print(l) }
            if let s = detail.first(where: { $0.hasPrefix("state failed") }) { printError("bowman capture: \(s)"); throw ExitCode(1) }
        } catch let e as ExitCode {
            throw e
        } catch {
            printError("bowman capture: \(error)")
            throw ExitCode(2)
        }
    }
}
