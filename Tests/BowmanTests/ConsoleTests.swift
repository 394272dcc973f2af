import Bowman
import BowmanControl
import BowmanControlIO
import BowmanCore
import BowmanLab
import BowmanSystem
import BowmanTestSupport
import Foundation
import Testing

/// A node's console and metrics endpoint on loopback, driven by real TCP
/// clients while the node's management loop runs on its own thread (no
/// data plane: these are the servers alone).
@Suite(.serialized) struct ConsoleTests {
    static let secret = "lab-secret-\(getpid())-0123"

    final class Running: @unchecked Sendable {
        let node: Node
        let stop = StopFlag()
        var thread: Thread?
        let box = LinesBox()
        init(_ c: NodeConfig) throws {
            let box = box
            node = try Node(config: c) { box.append($0) }
        }
        func start() {
            let t = Thread { [self] in
                while !self.stop.isSet { self.node.service(milliseconds: 10) }
            }
            t.start()
            thread = t
        }
        func finish() {
            stop.set()
            while thread?.isFinished == false { usleep(5000) }
        }
    }

    final class LinesBox: @unchecked Sendable {
        let lock = NSLock()
        var lines: [String] = []
        func append(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
    }

    func secretFile(mode: mode_t = 0o600, content: String = secret) throws -> String {
        let path = NSTemporaryDirectory() + "bowman-console-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).secret"
        try (content + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, mode)
        return path
    }

    func config(secret path: String, maxConnections: Int = 3, failureDelay: Double = 0.3) -> NodeConfig {
        var c = NodeConfig()
        c.name = "lab"
        c.file = "/nonexistent/node.yaml"
        c.ports = [.afXDP(interface: "x", queue: 0), .afXDP(interface: "y", queue: 0)]
        var k = NodeConfig.Console()
        k.listen = NodeConfig.Listen(address: IPAddress("127.0.0.1")!, port: 0)
        k.secretFile = path
        k.maxConnections = maxConnections
        k.failureDelay = failureDelay
        c.console = k
        var m = NodeConfig.Metrics()
        m.listen = NodeConfig.Listen(address: IPAddress("127.0.0.1")!, port: 0)
        c.metrics = m
        return c
    }

    func withNode(_ c: NodeConfig, _ body: (Running, SocketAddress) throws -> Void) throws {
        let r = try Running(c)
        r.start()
        defer { r.finish() }
        try body(r, try #require(r.node.consoleAddress))
    }

    @Test func loginListShowAndCtl() throws {
        let path = try secretFile()
        defer { unlink(path) }
        try withNode(config(secret: path)) { r, address in
            let c = try HalClient.Connection(address, timeout: 5000)
            defer { c.close() }
            let greeting = try c.answer()
            #expect(greeting.lines == ["Hal on lab (bowman \(BowmanVersion.string)); log in with: auth SECRET"] && greeting.error == nil)
            #expect(try c.ask("list config").error == "log in first: auth SECRET")
            #expect(try c.ask("auth \(Self.secret)").lines == ["logged in to lab"])
            let config = try c.ask("list config")
            #expect(config.error == nil && config.lines.first == "0 /nonexistent/node.yaml", "\(config)")
            #expect(try c.ask("show config 0").lines.contains("node lab"))
            let interfaces = try c.ask("list interfaces")
            #expect(interfaces.lines.contains { $0.contains(" lo ") && $0.contains("127.0.0.1") }, "\(interfaces)")
            #expect(try c.ask("show interfaces 999").error?.contains("no element '999'") == true)
            let sessions = try c.ask("list sessions")
            #expect(sessions.lines.count == 1 && sessions.lines[0].contains("logged in"), "\(sessions)")
            // bowman ctl's client: one command per connection.
            let a = try HalClient.run(console: "127.0.0.1:\(address.port)", secret: Array(Self.secret.utf8), command: "list config")
            #expect(a.error == nil && a.lines.first == "0 /nonexistent/node.yaml")
            let bad = try HalClient.run(console: "127.0.0.1:\(address.port)", secret: Array(Self.secret.utf8), command: "list nothing")
            #expect(bad.error?.contains("nothing called 'nothing'") == true)
            #expect(throws: HalClient.Failure.self) {
                try HalClient.run(console: "127.0.0.1:\(address.port)", secret: Array("wrong-secret-xyz".utf8), command: "list config")
            }
            _ = r
        }
    }

    @Test func aWrongSecretIsDelayedAndAGuesserIsBarred() throws {
        let path = try secretFile()
        defer { unlink(path) }
        try withNode(config(secret: path, failureDelay: 0.3)) { r, address in
            let c = try HalClient.Connection(address, timeout: 5000)
            _ = try c.answer()
            let t0 = Date()
            let a = try c.ask("auth not-the-secret")
            let waited = Date().timeIntervalSince(t0)
            #expect(a.error == "wrong secret" && waited >= 0.28, "answered after \(waited) s")
            #expect(try c.ask("auth also-wrong").error == "wrong secret")
            #expect(try c.ask("auth still-wrong").error == "wrong secret; closing after 3 tries")
            #expect(c.waitClosed())
            c.close()
            // A second connection that fails three times more: the address is barred.
            let d = try HalClient.Connection(address, timeout: 5000)
            _ = try d.answer()
            for _ in 0..<3 { _ = try d.ask("auth wrong") }
            #expect(d.waitClosed())
            d.close()
            usleep(100_000)
            let e = try HalClient.Connection(address, timeout: 5000)
            defer { e.close() }
            let refused = try e.answer()
            #expect(refused.error?.contains("too many failed logins from 127.0.0.1") == true, "\(refused)")
            #expect(r.box.all.contains { $0.contains("barred for 300 s") })
        }
    }

    @Test func connectionsAreBoundedAndJunkIsSurvived() throws {
        let path = try secretFile()
        defer { unlink(path) }
        try withNode(config(secret: path, maxConnections: 3)) { r, address in
            var idle: [HalClient.Connection] = []
            for _ in 0..<3 {
                let c = try HalClient.Connection(address, timeout: 5000)
                _ = try c.answer()
                idle.append(c)
            }
            let extra = try HalClient.Connection(address, timeout: 5000)
            #expect(try extra.answer().error == "the console is full (3 connections)")
            extra.close()
            for c in idle { c.close() }
            usleep(100_000)
            // A very long line and binary junk: refused, the console lives on.
            let long = try HalClient.Connection(address, timeout: 5000)
            _ = try long.answer()
            try long.sendRaw([UInt8](repeating: 0x41, count: 100_000))
            #expect(try long.answer().error == "line longer than 1024 bytes")
            #expect(long.waitClosed())
            long.close()
            let junk = try HalClient.Connection(address, timeout: 5000)
            _ = try junk.answer()
            try junk.sendRaw([0xFF, 0xFD, 0x18, 0x00, 0x01, 0x0A])
            #expect(try junk.answer().error != nil)
            junk.close()
            let fine = try HalClient.run(console: "127.0.0.1:\(address.port)", secret: Array(Self.secret.utf8), command: "list config")
            #expect(fine.error == nil)
            // `set` changes the running node: one connection at a time now.
            let secret = Array(Self.secret.utf8)
            #expect(try HalClient.run(console: "127.0.0.1:\(address.port)", secret: secret, command: "set log-level chatty").error?
                        .contains("log-level is one of debug, info") == true)
            #expect(try HalClient.run(console: "127.0.0.1:\(address.port)", secret: secret, command: "set console max-connections 1").lines
                    == ["console max-connections 1"])
            usleep(100_000)   // that connection closed
            let first = try HalClient.Connection(address, timeout: 5000)
            _ = try first.answer()
            let second = try HalClient.Connection(address, timeout: 5000)
            #expect(try second.answer().error == "the console is full (1 connections)")
            first.close(); second.close()
            _ = r
        }
    }

    @Test func secretFilesWithLoosePermissionsAreRefused() throws {
        let loose = try secretFile(mode: 0o644)
        defer { unlink(loose) }
        #expect { try Node(config: config(secret: loose)) { _ in } } throws: { "\($0)".contains("has mode 644: group and others must have no access") }
        let short = try secretFile(content: "short")
        defer { unlink(short) }
        #expect { try Node(config: config(secret: short)) { _ in } } throws: { "\($0)".contains("shorter than 12 bytes") }
        #expect { try Node(config: config(secret: "/nonexistent/secret")) { _ in } } throws: { "\($0)".contains("No such file") }
        #expect(Node.check(config(secret: loose)).contains { $0.contains("console.secret-file") })
    }

    @Test func metricsAnswerAPlainHTTPClient() throws {
        let path = try secretFile()
        defer { unlink(path) }
        try withNode(config(secret: path)) { r, _ in
            let m = try #require(r.node.metricsAddress)
            let body = try Shell.run(["curl", "-sS", "--max-time", "5", "http://127.0.0.1:\(m.port)/metrics"])
            #expect(body.contains("# TYPE bowman_metrics_scrapes_total counter"), "\(body)")
            let code = try Shell.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "http://127.0.0.1:\(m.port)/nope"])
            #expect(code == "404")
        }
    }
}
