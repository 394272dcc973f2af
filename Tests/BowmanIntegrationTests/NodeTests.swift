import Bowman
import BowmanControl
import BowmanControlIO
import BowmanCore
import BowmanIO
import BowmanLab
import BowmanSystem
import BowmanTestSupport
import Foundation
import Testing

/// The daemon as an operator runs it: `bowman run --config FILE` in the
/// router namespace of a three-namespace lab, its console and metrics on
/// that namespace's loopback, reloads by SIGHUP, SIGTERM to stop.
@Suite(.serialized, .enabled(if: TestData.isRoot, "needs root to make namespaces, attach XDP and open AF_XDP sockets"))
struct NodeTests {
    static let secret = "node-test-secret-\(getpid())"

    func binary() throws -> String {
        let b = TestData.repositoryRoot.appendingPathComponent(".build/debug/bowman").path
        try #require(FileManager.default.isExecutableFile(atPath: b), "\(b) missing: swift build first")
        return b
    }

    func run(_ argv: [String], namespace: String? = nil) throws -> (Int32, String) {
        try Shell.status(namespace.map { ["nsenter", "--net=/run/netns/\($0)"] + argv } ?? argv)
    }

    /// One console command from inside the namespace.
    func ask(_ ns: String, _ command: String) throws -> HalClient.Answer {
        let secret = Array(Self.secret.utf8)
        return try inNamespace(ns) { try HalClient.run(console: "127.0.0.1:2001", secret: secret, command: command, timeoutMilliseconds: 5000) }
    }

    func scrape(_ ns: String) throws -> [String: Double] {
        let (rc, text) = try run(["/usr/bin/curl", "-sS", "--max-time", "5", "http://127.0.0.1:9464/metrics"], namespace: ns)
        try #require(rc == 0, "curl: \(text)")
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let sp = line.lastIndex(of: " "), let v = Double(line[line.index(after: sp)...]) else { continue }
            out[String(line[..<sp]), default: 0] += v
        }
        return out
    }

    /// `bowman run --config` in `lab`'s dut namespace, up once its console answers; killed if not stopped.
    final class Daemon {
        let process = Process()
        let out = Pipe()
        var stopped = false
        init(_ bowman: String, namespace: String, config: String, ready: () -> Bool) throws {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
            process.arguments = ["--net=/run/netns/\(namespace)", bowman, "run", "--config", config]
            process.standardOutput = out
            process.standardError = out
            try process.run()
            var up = false
            for _ in 0..<100 where !up {
                usleep(100_000)
                up = ready()
            }
            if !up { _ = stop(SIGKILL) }
            try #require(up, "the console never answered")
        }
        var pid: Int32 { process.processIdentifier }
        /// Sends `signal`, waits, and returns the exit status and everything it printed.
        func stop(_ signal: Int32 = SIGTERM) -> (Int32, String) {
            kill(process.processIdentifier, signal)
            process.waitUntilExit()
            stopped = true
            return (process.terminationStatus, String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        }
        deinit { if !stopped { _ = stop(SIGKILL) } }
    }

    /// The console secret, mode 600, in `dir`.
    func writeSecret(_ dir: URL) throws -> String {
        let path = dir.appendingPathComponent("console.secret").path
        try (Self.secret + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o600)
        return path
    }

    func sum(_ m: [String: Double], _ prefix: String) -> Double {
        m.filter { $0.key.hasPrefix(prefix) }.values.reduce(0, +)
    }

    @Test func daemonConsoleMetricsReloadAndShutdown() throws {
        let bowman = try binary()
        let lab = LineLab(tag: "n\(getpid() % 10_000)")
        try lab.setUp()
        defer { lab.tearDown() }
        let dir = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let secretPath = try writeSecret(dir)
        let routes = dir.appendingPathComponent("node.routes").path
        try "198.18.1.0/24 \(lab.vC)\n198.18.0.0/24 \(lab.vB)\n".write(toFile: routes, atomically: true, encoding: .utf8)
        let configPath = dir.appendingPathComponent("node.yaml").path
        let config = """
        node: {name: dut, frames: 4096}
        ports: [af_xdp:\(lab.vB):0, af_xdp:\(lab.vC):0]
        forward: {function: router}
        routes: {file: node.routes}
        console: {listen: 127.0.0.1:2001, secret-file: console.secret, failure-delay: 0.2}
        metrics: {listen: 127.0.0.1:9464}
        """
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)

        let (checkRC, checkText) = try run([bowman, "check", "--config", configPath])
        #expect(checkRC == 0 && checkText.contains("ok: node dut, 2 ports"), "\(checkText)")

        let p = try Daemon(bowman, namespace: lab.dut, config: configPath) { (try? ask(lab.dut, "list config"))?.error == nil }

        // Every registry lists and shows.
        let ports = try ask(lab.dut, "list ports")
        #expect(ports.error == nil && ports.lines.count == 2 && ports.lines[0].hasPrefix("0 af_xdp:\(lab.vB):0: copy mode"), "\(ports)")
        #expect(try ask(lab.dut, "show ports 1").lines.contains("interface \(lab.vC)"))
        let workers = try ask(lab.dut, "list workers")
        #expect(workers.lines.count == 1 && workers.lines[0].hasPrefix("0 cpu "), "\(workers)")
        #expect(try ask(lab.dut, "show workers 0").lines.contains { $0.hasPrefix("frames free ") && $0.hasSuffix(" of 4096") })
        let listed = try ask(lab.dut, "list routes")
        #expect(listed.lines.count == 2 && listed.lines.contains { $0.contains("198.18.1.0/24") }, "\(listed)")
        #expect(try ask(lab.dut, "show routes 0").lines.first?.hasPrefix("route 0 ") == true)
        #expect(try ask(lab.dut, "list counters").lines.contains { $0.hasPrefix("5 router: ") })
        #expect(try ask(lab.dut, "list interfaces").lines.contains { $0.contains(lab.vB) && $0.contains("198.18.0.2") })
        #expect(try ask(lab.dut, "show config 0").lines.contains("node dut"))
        #expect(try ask(lab.dut, "list sessions").lines.count == 1)
        #expect(try ask(lab.dut, "help").lines.contains { $0.hasPrefix("reload: ") })

        // Metrics move with traffic.
        let before = try scrape(lab.dut)
        for port in [lab.vB, lab.vC] {
            // veth has no zero-copy: both ports are in copy mode, and the node attached the program.
            let key = "bowman_port_info{port=\"af_xdp:\(port):0\",kind=\"af_xdp\",mode=\"copy\",xdp_attached_here=\"yes\",xdp_attach_mode=\"native\"}"
            #expect(before[key] == 1, "\(before.keys.filter { $0.hasPrefix("bowman_port_info") })")
        }
        let (pingRC, ping) = try run(["/usr/bin/ping", "-c", "10", "-i", "0.05", "-W", "2", "198.18.1.2"], namespace: lab.gen)
        #expect(pingRC == 0, "\(ping)")
        let after = try scrape(lab.dut)
        #expect(sum(after, "bowman_worker_rx_packets_total") >= sum(before, "bowman_worker_rx_packets_total") + 20, "\(after)")
        #expect(sum(after, "bowman_router_forwarded_packets_total") >= 10)
        #expect(sum(after, "bowman_metrics_scrapes_total") >= 2)
        // The console's counters start again from zero on `clear counters`; the metrics never go back.
        #expect(try ask(lab.dut, "clear counters").lines == ["counters cleared"])
        #expect(try ask(lab.dut, "list counters").lines.first == "0 rx 0")
        #expect(sum(try scrape(lab.dut), "bowman_worker_rx_packets_total") >= sum(after, "bowman_worker_rx_packets_total"))

        // Capture from the console: 100 ICMP packets as received on port 0, a tcpdump filter.
        let rxFile = dir.appendingPathComponent("rx.pcap").path
        let started = try ask(lab.dut, "capture 0 \(rxFile) count 100 filter icmp")
        #expect(started.error == nil && started.lines.first?.hasPrefix("capture 1 started: af_xdp:\(lab.vB):0 rx") == true, "\(started)")
        #expect(try ask(lab.dut, "capture 0 relative.pcap").error?.contains("absolute path") == true)
        #expect(try ask(lab.dut, "capture 9 /tmp/x.pcap").error?.contains("no port '9'") == true)
        #expect(try ask(lab.dut, "capture 0 /tmp/x.pcap filter tcp port nonsense").error?.contains("filter:") == true)
        _ = try run(["/usr/bin/ping", "-f", "-c", "300", "-W", "1", "198.18.1.2"], namespace: lab.gen)
        var state = ""
        for _ in 0..<50 {
            state = try ask(lab.dut, "show captures 1").lines.first { $0.hasPrefix("state ") } ?? ""
            if state != "state running" { break }
            usleep(100_000)
        }
        #expect(state == "state done")
        let (tdRC, rxText) = try run(["/usr/bin/tcpdump", "-n", "-r", rxFile])
        let rxLines = rxText.split(separator: "\n").filter { $0.contains(" IP ") }
        #expect(tdRC == 0 && rxLines.count == 100 && rxLines.allSatisfy { $0.contains("ICMP echo") }, "\(rxText.prefix(2000))")
        #expect(try ask(lab.dut, "list captures").lines.first?.contains("done: 100 written of 100") == true)
        // bowman capture from the shell: as sent out of port 1, an Odyssey filter.
        let txFile = dir.appendingPathComponent("tx.pcap").path
        let cap = Process()
        cap.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        cap.arguments = ["--net=/run/netns/\(lab.dut)", bowman, "capture", "--secret-file", secretPath, "--port", lab.vC, "--point", "tx",
                         "--file", txFile, "--count", "50", "--filter", "[ ethernet (proto = ETHERTYPE_IP) | ip (proto = IPPROTO_ICMP) | * ]",
                         "--seconds", "20"]
        let capOut = Pipe()
        cap.standardOutput = capOut
        cap.standardError = capOut
        try cap.run()
        usleep(300_000)
        _ = try run(["/usr/bin/ping", "-f", "-c", "200", "-W", "1", "198.18.1.2"], namespace: lab.gen)
        cap.waitUntilExit()
        let capText = String(decoding: capOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(cap.terminationStatus == 0 && capText.contains("written 50"), "\(capText)")
        let (_, txText) = try run(["/usr/bin/tcpdump", "-n", "-e", "-r", txFile])
        let txLines = txText.split(separator: "\n").filter { $0.contains("ICMP echo request") }
        #expect(txLines.count == 50 && txLines.allSatisfy { $0.contains("> 198.18.1.2") }, "\(txText.prefix(2000))")

        // bowman ctl from the shell: exit 0 on ok, 1 on an error reply.
        let (ctlRC, ctlText) = try run([bowman, "ctl", "--secret-file", secretPath, "list", "ports"], namespace: lab.dut)
        #expect(ctlRC == 0 && ctlText.contains("af_xdp:\(lab.vC):0"), "\(ctlText)")
        let (badRC, badText) = try run([bowman, "ctl", "--secret-file", secretPath, "list", "nothing"], namespace: lab.dut)
        #expect(badRC == 1 && badText.contains("nothing called 'nothing'"), "\(badText)")

        // Reload: a route more, by SIGHUP; the workers keep running and counting.
        let rxBefore = sum(try scrape(lab.dut), "bowman_worker_rx_packets_total")
        try "198.18.1.0/24 \(lab.vC)\n198.18.0.0/24 \(lab.vB)\n198.19.7.0/24 blackhole\n".write(toFile: routes, atomically: true, encoding: .utf8)
        kill(p.pid, SIGHUP)
        var reloaded = false
        for _ in 0..<50 where !reloaded {
            usleep(100_000)
            reloaded = try ask(lab.dut, "list routes").lines.count == 3
        }
        #expect(reloaded)
        #expect(try ask(lab.dut, "list config").lines.contains { $0.contains("reloads applied 1") })
        // A bad routes file: refused, the three routes stay.
        try "198.18.1.0/33 \(lab.vC)\n".write(toFile: routes, atomically: true, encoding: .utf8)
        let refused = try ask(lab.dut, "reload")
        #expect(refused.error?.contains("reload refused, the node runs unchanged: routes.file:") == true, "\(refused)")
        #expect(refused.error?.contains("node.routes:1:") == true, "names the line: \(refused)")
        #expect(try ask(lab.dut, "list routes").lines.count == 3)
        // A change that needs a restart: refused whole.
        try config.replacingOccurrences(of: "frames: 4096", with: "frames: 8192").write(toFile: configPath, atomically: true, encoding: .utf8)
        let restart = try ask(lab.dut, "reload")
        #expect(restart.error?.contains("node changed, which needs a restart") == true, "\(restart)")
        let (pingRC2, _) = try run(["/usr/bin/ping", "-c", "3", "-i", "0.05", "-W", "2", "198.18.1.2"], namespace: lab.gen)
        #expect(pingRC2 == 0, "forwarding goes on")
        #expect(sum(try scrape(lab.dut), "bowman_worker_rx_packets_total") > rxBefore, "the same workers still count")

        // SIGTERM: a clean stop, no XDP program left.
        let (status, text) = p.stop()
        #expect(status == 0, "\(text)")
        #expect(text.contains("in flight 0") && text.contains("console on 127.0.0.1:2001"), "\(text)")
        #expect(text.contains("reload refused"), "\(text)")
        let left = try inNamespace(lab.dut) { [lab] in try XDPProgram.programs(on: lab.vB) + XDPProgram.programs(on: lab.vC) }
        #expect(left.isEmpty, "still attached: \(left)")
    }

    /// Channels and flows from the config: a counter and a sampler bound at
    /// one flow's pre-route slot count and sample exactly that flow on its
    /// channel; a deny stage drops its flow; the console and the metrics show it.
    @Test func flowsWithStagesInTheDaemon() throws {
        let bowman = try binary()
        let lab = LineLab(tag: "o\(getpid() % 10_000)")
        try lab.setUp()
        defer { lab.tearDown() }
        let dir = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try writeSecret(dir)
        try "198.18.1.0/24 \(lab.vC)\n198.18.0.0/24 \(lab.vB)\n".write(toFile: dir.appendingPathComponent("r.routes").path, atomically: true, encoding: .utf8)
        let configPath = dir.appendingPathComponent("node.yaml").path
        try """
        node: {name: dut, frames: 4096}
        ports: [af_xdp:\(lab.vB):0, af_xdp:\(lab.vC):0]
        forward: {function: router}
        routes: {file: r.routes}
        channels:
          - {name: west, ports: [\(lab.vB)]}
        flows:
          - name: ping
            channel: west
            filter: "[ ethernet (proto = ETHERTYPE_IP) | ip (proto = IPPROTO_ICMP) | * ]"
            pre-route:
              - counter
              - sample: {every: 4, file: ping.pcap}
            post-route: [counter]
            drop: [counter]
          - name: discard
            filter: "[ ethernet (proto = ETHERTYPE_IP) | ip (proto = IPPROTO_UDP) | udp (dport = 9) | * ]"
            pre-route: [counter, deny]
        console: {listen: 127.0.0.1:2001, secret-file: console.secret}
        metrics: {listen: 127.0.0.1:9464}
        """.write(toFile: configPath, atomically: true, encoding: .utf8)
        let (checkRC, checkText) = try run([bowman, "check", "--config", configPath])
        #expect(checkRC == 0, "\(checkText)")
        let p = try Daemon(bowman, namespace: lab.dut, config: configPath) { (try? ask(lab.dut, "list flows"))?.error == nil }

        let (pingRC, ping) = try run(["/usr/bin/ping", "-c", "20", "-i", "0.02", "-W", "2", "198.18.1.2"], namespace: lab.gen)
        #expect(pingRC == 0, "\(ping)")
        // Ten datagrams to the discard port, from the generator through the router.
        _ = try run(["/bin/bash", "-c", "for i in $(seq 10); do echo x > /dev/udp/198.18.1.2/9; done"], namespace: lab.gen)
        usleep(300_000)
        let flows = try ask(lab.dut, "list flows")
        #expect(flows.error == nil && flows.lines.count == 2, "\(flows)")
        // The requests came in on west (vB); the replies on vC are the flow's too but not its channel's.
        #expect(flows.lines[0].hasPrefix("0 ping on west: packets 40; pre-route counter: packets 20, bytes 1960; pre-route sample 1/4 into"),
                "\(flows.lines[0])")
        #expect(flows.lines[0].contains("seen 20, copied 5; post-route counter: packets "), "\(flows.lines[0])")
        // After the router: forwarded at once (post-route), or held for its next hop's resolution and
        // sent by the management core (to the workers, the function dropped them: the drop slot).
        func counted(_ slot: String) -> Int {
            guard let r = flows.lines[0].range(of: "\(slot) counter: packets ") else { return -1 }
            return Int(flows.lines[0][r.upperBound...].prefix { $0.isNumber }) ?? -1
        }
        #expect(counted("post-route") + counted("drop") == 20 && counted("post-route") >= 15, "\(flows.lines[0])")
        #expect(flows.lines[1].hasPrefix("1 discard: packets 10; pre-route counter: packets 10,") && flows.lines[1].hasSuffix("pre-route deny: denied 10"),
                "\(flows.lines[1])")
        #expect(try ask(lab.dut, "show flows ping").lines.contains("channel west"))
        #expect(try ask(lab.dut, "list channels").lines == ["0 west: af_xdp:\(lab.vB):0"])
        let filters = try ask(lab.dut, "list filters")
        #expect(filters.lines.count == 2 && filters.lines[1].hasPrefix("1 demux 1: [ ethernet (proto = ETHERTYPE_IP) | ip (proto = IPPROTO_UDP)"), "\(filters)")
        #expect(try ask(lab.dut, "store ping put owner noc").lines == ["owner = noc"])
        #expect(try ask(lab.dut, "store 0 get owner").lines == ["owner = noc"])
        #expect(try ask(lab.dut, "show flows 0").lines.contains("store owner = noc"))
        #expect(try ask(lab.dut, "registry shared put k v").error == nil && (try ask(lab.dut, "registry shared get k")).lines == ["shared.k = v"])
        let (_, metrics) = try run(["/usr/bin/curl", "-sS", "--max-time", "5", "http://127.0.0.1:9464/metrics"], namespace: lab.dut)
        #expect(metrics.contains("bowman_flow_stage_total{flow=\"ping\",slot=\"pre-route\",stage=\"counter\",counter=\"packets\"} 20"), "\(metrics)")
        #expect(metrics.contains("bowman_flow_stage_total{flow=\"discard\",slot=\"pre-route\",stage=\"deny\",counter=\"denied\"} 10"))

        let (status, text) = p.stop()
        #expect(status == 0, "\(text)")
        let (tdRC, sampled) = try run(["/usr/bin/tcpdump", "-n", "-r", dir.appendingPathComponent("ping.pcap").path])
        let lines = sampled.split(separator: "\n").filter { $0.contains("ICMP echo request") }
        #expect(tdRC == 0 && lines.count == 5, "\(sampled)")
    }

    /// The control-plane services from the config: the daemon advertises
    /// Bowman.ALM over GRASP and finds a neighbour that does (`bowman grasp
    /// alm` in the generator's namespace), and accepts a shim-UDP flow to a
    /// registered application from a client there.
    @Test func graspALMAndShimUDPInTheDaemon() throws {
        let bowman = try binary()
        let lab = LineLab(tag: "w\(getpid() % 10_000)")
        try lab.setUp()
        defer { lab.tearDown() }
        let dir = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try writeSecret(dir)
        let configPath = dir.appendingPathComponent("node.yaml").path
        try """
        node: {name: dut, frames: 4096}
        ports: [af_packet:\(lab.vB), af_packet:\(lab.vC)]
        forward: {function: l2fwd}
        grasp:
          interfaces: [\(lab.vB)]
          alm: {address: 198.18.0.2, interval: 0.5}
        shim-udp: {address: 198.18.0.2, applications: [echo-app]}
        console: {listen: 127.0.0.1:2001, secret-file: console.secret}
        """.write(toFile: configPath, atomically: true, encoding: .utf8)
        let p = try Daemon(bowman, namespace: lab.dut, config: configPath) { (try? ask(lab.dut, "list grasp"))?.error == nil }

        let (peerRC, peer) = try run([bowman, "grasp", "alm", "--address", "198.18.0.1", "--iface", lab.vA, "--interval", "0.5", "--seconds", "4"],
                                     namespace: lab.gen)
        #expect(peerRC == 0 && peer.contains("ALM 198.18.0.2:3359"), "the peer saw the daemon: \(peer)")
        let neighbours = try ask(lab.dut, "list neighbours")
        #expect(neighbours.lines.contains { $0.contains("ALM 198.18.0.1:3359") }, "the daemon saw the peer: \(neighbours)")
        #expect(try ask(lab.dut, "list grasp").lines.first?.contains(lab.vB) == true)

        // A shim-UDP flow to echo-app from the generator's namespace.
        let allocated = try inNamespace(lab.gen) { () -> Bool in
            let node = try ShimUDPDriver(address: IPAddress("198.18.0.1")!)
            let (f, _) = try node.allocate(to: "echo-app", host: "198.18.0.2")
            let deadline = SystemClock.monotonicMilliseconds + 5000
            while SystemClock.monotonicMilliseconds < deadline {
                for a in try node.poll(milliseconds: 20) {
                    if case .flowAllocated(f, _) = a { return true }
                    if case .flowFailed(f, _) = a { return false }
                }
            }
            return false
        }
        #expect(allocated)
        let shim = try ask(lab.dut, "list shim-udp")
        #expect(shim.lines.contains { $0.contains("to echo-app from 198.18.0.1") && $0.contains("accepted") }, "\(shim)")
        let (status, text) = p.stop()
        #expect(status == 0 && text.contains("control plane: shim-udp on 198.18.0.2:3359, GRASP on \(lab.vB)"), "\(text)")
    }
}
