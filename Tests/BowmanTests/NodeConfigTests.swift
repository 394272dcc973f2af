import Bowman
import BowmanCore
import BowmanIO
import BowmanPipeline
import BowmanTestSupport
import Foundation
import Testing

/// The node's config file: every key parses, every mistake is refused
/// naming the file, line, column and key, and a reload sees the sections
/// that changed.
@Suite struct NodeConfigTests {
    static let full = """
    # every key there is
    node:
      name: r1
      data-cores: [1]
      management-core: 0
      frames: 16_384
      idle: spin
    ports:
      - af_xdp:eth1:0
      - af_xdp:eth2:3
      - af_packet:eth3
    xdp:
      mode: generic
      zero-copy: false
      need-wakeup: no
      busy-poll: 50
      busy-budget: 32
      pass-host-addresses: false
    forward:
      function: router
    routes:
      file: r.routes
    classifier:
      rules: /etc/bowman/flows.rules
      format: classbench
      drop-unmatched: true
    manager:
      address: 198.18.0.1
      identity: [r1, r1.lab]
    console:
      listen: "[fd00::1]:2002"
      secret-file: secret
      max-connections: 3
      idle-timeout: 60
      session-timeout: 7200
      failure-delay: 0.5
      max-failures: 5
    metrics:
      listen: 198.18.0.1
      max-connections: 2
    log:
      level: debug
    """

    @Test func everyKeyParses() throws {
        let c = try NodeConfig.parse(Self.full, file: "/etc/bowman/node.yaml")
        #expect(c.name == "r1" && c.dataCores == [1] && c.cores == 1 && c.managementCore == 0 && c.frames == 16384 && c.idleSpin)
        #expect(c.ports == [.afXDP(interface: "eth1", queue: 0), .afXDP(interface: "eth2", queue: 3), .afPacket(interface: "eth3")])
        #expect(c.xdpMode == .generic && !c.zeroCopy && !c.needWakeup && c.busyPoll == 50 && c.busyBudget == 32 && !c.passHostAddresses)
        #expect(c.forward == .router)
        #expect(c.routes == .file("/etc/bowman/r.routes"), "relative to the config's folder")
        #expect(c.rules == NodeConfig.Rules(path: "/etc/bowman/flows.rules", format: .classbench, policy: .firstMatch, dropUnmatched: true))
        #expect(c.manager == NodeConfig.Manager(address: IPAddress("198.18.0.1")!, identity: ["r1", "r1.lab"]))
        let k = try #require(c.console)
        #expect(k.listen.description == "[fd00::1]:2002" && k.secretFile == "/etc/bowman/secret" && k.maxConnections == 3)
        #expect(k.idleSeconds == 60 && k.sessionSeconds == 7200 && k.failureDelay == 0.5 && k.maxFailures == 5)
        #expect(c.metrics?.listen.description == "198.18.0.1:9464" && c.metrics?.maxConnections == 2)
        #expect(c.logLevel == .debug)
    }

    @Test func defaultsAreWhatTheDocsSay() throws {
        let c = try NodeConfig.parse("ports: [af_xdp:a:0, af_xdp:b:0]\n", file: "n.yaml")
        #expect(c.forward == .l2fwd && c.cores == 1 && c.dataCores == nil && c.frames == 16384 && !c.idleSpin)
        #expect(c.xdpMode == .native && c.zeroCopy && c.needWakeup && c.busyPoll == 0 && c.passHostAddresses)
        #expect(c.console == nil && c.metrics == nil && c.rules == nil && c.routes == nil && c.logLevel == .info)
        let k = try NodeConfig.parse("ports: [af_xdp:a:0, af_xdp:b:0]\nconsole: {secret-file: /s}\nmetrics: {}\n", file: "n.yaml")
        #expect(k.console?.listen.description == "127.0.0.1:2001" && k.metrics?.listen.description == "127.0.0.1:9464")
    }

    @Test func channelsAndFlowsParse() throws {
        let c = try NodeConfig.parse("""
        ports: [af_xdp:eth1:0, af_xdp:eth2:0]
        channels:
          - {name: uplink, ports: [eth1]}
          - {name: both, ports: [0, af_xdp:eth2:0]}
        flows:
          - name: dns
            channel: uplink
            filter: "[ ethernet | ip (proto = 17) | udp (dport = 53) | * ]"
            pre-route:
              - counter
              - rate-limit: {rate: 1000, burst: 100}
              - sample: {every: 100, file: dns.pcap}
            post-route:
              - mirror: {port: eth2}
          - name: telnet
            filter: "[ ethernet | ip (proto = 6) | tcp (dport = 23) | * ]"
            pre-route: [counter, deny]
        """, file: "/etc/bowman/n.yaml")
        #expect(c.channels == [NodeConfig.Channel(name: "uplink", ports: [0]), NodeConfig.Channel(name: "both", ports: [0, 1])])
        #expect(c.flows.count == 2 && c.flows[0].channel == "uplink" && c.flows[1].channel == nil)
        #expect(c.flows[0].preRoute == [.counter, .rateLimit(rate: 1000, burst: 100), .sample(every: 100, file: "/etc/bowman/dns.pcap")])
        #expect(c.flows[0].postRoute == [.mirror(port: 1)])
        #expect(c.flows[1].preRoute == [.counter, .deny])
        let nodeFlows = try NodeFlows(c, workers: 2)
        #expect(nodeFlows.classifier.rules.map(\.demuxID) == [0, 1])
        #expect(nodeFlows.bound.count == 6)
        if case .rateLimit(_, let rate, let burst) = nodeFlows.bound[1].op { #expect(rate == 500 && burst == 50, "each worker its share") }
    }

    @Test func controlPlaneServicesParse() throws {
        let c = try NodeConfig.parse("""
        ports: [af_xdp:a:0, af_xdp:b:0]
        grasp: {interfaces: [a], alm: {address: "fd00:18::2", interval: 2}}
        shim-udp: {address: 198.18.0.2, applications: [echo-app, ftp]}
        """, file: "n.yaml")
        #expect(c.grasp?.interfaces == ["a"] && c.grasp?.alm == NodeConfig.ALM(address: IPAddress("fd00:18::2")!, port: 3359, interval: 2))
        #expect(c.shimUDP == NodeConfig.ShimService(address: IPAddress("198.18.0.2")!, applications: ["echo-app", "ftp"]))
        expectRefused("ports: [af_xdp:a:0, af_xdp:b:0]\nshim-udp: {applications: [x]}\n", 2, 11, "shim-udp", "'address' is missing")
        expectRefused("ports: [af_xdp:a:0, af_xdp:b:0]\ngrasp: {alm: {address: here}}\n", 2, 24, "grasp.alm.address", "'here' is not an IPv4 or IPv6 address")
    }

    static let flowMistakes: [(String, Int, Int, String, String)] = [
        ("flows:\n  - {name: a, filter: \"[ ethernet | * ]\", pre-route: [counter, mangle]}\n", 2, 64, "flows[0].pre-route[1]", "unknown stage 'mangle'"),
        ("flows:\n  - {name: a, filter: \"[ ethernet | ipp | * ]\"}\n", 2, 37, "flows[0].filter", "unknown protocol 'ipp'"),
        ("flows:\n  - {name: a, channel: up, filter: \"[ * ]\"}\n", 2, 24, "flows[0].channel", "no channel 'up'"),
        ("flows:\n  - {name: a, filter: \"[ * ]\", pre-route: [rate-limit]}\n", 2, 44, "flows[0].pre-route[0]", "rate-limit needs"),
        ("flows:\n  - {name: a, filter: \"[ * ]\", pre-route: [{rate-limit: {rate: fast}}]}\n", 2, 64, "flows[0].pre-route[0].rate-limit.rate", "'fast' is not a number"),
        ("flows:\n  - {name: a, filter: \"[ * ]\"}\n  - {name: a, filter: \"[ * ]\"}\n", 3, 12, "flows[1].name", "flow 'a' is given twice"),
        ("channels:\n  - {name: c, ports: [eth9]}\n", 2, 23, "channels[0].ports[0]", "'eth9' is not one of the node's ports"),
        ("flows:\n  - {name: a, filter: \"[ * ]\", drop: [deny]}\n", 2, 39, "flows[0].drop[0]", "nothing to drop at the drop slot"),
        ("flows:\n  - {name: a, filter: \"[ * ]\", pre-route: [{mirror: {port: 1}}]}\n", 2, 44, "flows[0].pre-route[0]", "mirror binds at post-route or drop"),
        ("flows:\n  - {name: a, filter: \"[ * ]\", post-route: [{mirror: {port: eth7}}]}\n", 2, 61, "flows[0].post-route[0].mirror.port", "'eth7' is not one of the node's ports"),
        ("classifier: {rules: r}\nflows:\n  - {name: a, filter: \"[ * ]\"}\n", 3, 3, "flows", "give flows or classifier.rules"),
    ]

    @Test(arguments: 0..<flowMistakes.count)
    func flowMistakesNameTheirPlace(_ i: Int) {
        let (tail, line, column, key, reason) = Self.flowMistakes[i]
        expectRefused("ports: [af_xdp:eth1:0, af_xdp:eth2:0]\n" + tail, line + 1, column, key, reason)
    }

    /// Each shipped example parses (its files are checked by `bowman check`
    /// in the node tests, where the secret exists).
    @Test func shippedExamplesParse() throws {
        let dir = TestData.repositoryRoot.appendingPathComponent("examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 3)
        for f in files {
            let c = try NodeConfig.load(dir.appendingPathComponent(f).path)
            #expect(!c.ports.isEmpty, "\(f)")
            if case .file(let p) = c.routes { #expect(FileManager.default.fileExists(atPath: p), "\(f): \(p)") }
            if let r = c.rules { #expect(FileManager.default.fileExists(atPath: r.path), "\(f): \(r.path)") }
        }
    }

    /// (text, line, column, key, a piece of the reason)
    static let mistakes: [(String, Int, Int, String, String)] = [
        ("ports: [af_xdp:a:0, af_xdp:b:0]\nconsol:\n  listen: 1\n", 2, 1, "consol", "unknown key 'consol'"),
        ("ports: [af_xdp:a:0, af_xdp:b:0]\nconsole:\n  lisen: 127.0.0.1\n", 3, 3, "console.lisen", "unknown key 'lisen' in console"),
        ("ports:\n  - af_xdp:a:0\n  - af_xdq:b:0\n", 3, 5, "ports[1]", "unknown port kind 'af_xdq'"),
        ("ports:\n  - af_xdp:a:x\n  - af_xdp:b:0\n", 2, 5, "ports[0]", "queue 'x' is not a number"),
        ("ports: [af_xdp:a:0, af_xdp:a:0]\n", 1, 21, "ports[1]", "given twice"),
        ("ports: [af_xdp:a:0, af_xdp:b:0]\nnode:\n  frames: lots\n", 3, 11, "node.frames", "'lots' is not a whole number"),
        ("ports: [af_xdp:a:0, af_xdp:b:0]\nnode:\n  frames: 12\n", 3, 11, "node.frames", "out of range 256"),
        ("ports: [af_xdp:a:0, af_xdp:b:0]\nnode:\n  name: a\n  name: b\n", 4, 3, "name", "given twice"),
        ("ports: [af_xdp:a:0, af_xdp:b:0]\nxdp:\n  mode: turbo\n", 3, 9, "xdp.mode", "'turbo' is not one of native, generic, offload"),
        ("ports: [af_xdp:a:0, af_xdp:b:0]\nxdp:\n  zero-copy: maybe\n", 3, 14, "xdp.zero-copy", "not true or false"),
        ("ports: [af_xdp:a:0, af_xdp:b:0, af_xdp:c:0]\n", 1, 1, "", "l2fwd, needs two ports"),
        ("ports: [af_xdp:a:0, af_xdp:b:0, af_xdp:c:0]\nforward:\n  function: l2fwd\n", 3, 13, "forward.function", "l2fwd needs two ports"),
        ("ports: [af_xdp:a:0]\nforward: {function: router}\n", 2, 10, "forward", "the router needs a routes section"),
        ("ports: [af_xdp:a:0]\nforward: {function: drop}\nroutes: {file: r}\n", 3, 9, "routes", "routes are for the router function"),
        ("ports: [af_xdp:a:0]\nforward: {function: router}\nroutes: {file: r, kernel: main}\n", 3, 9, "routes", "give one of file, kernel, manager-table"),
        ("ports: [af_xdp:a:0]\nforward: {function: router}\nroutes: {kernel: mian}\n", 3, 18, "routes.kernel", "'mian' is not a kernel table"),
        ("ports: [af_xdp:a:0]\nforward: {function: router}\nroutes: {manager-table: t}\n", 3, 9, "routes", "needs a manager section"),
        ("ports: [af_xdp:a:0, af_xdp:b:0]\nforward: {function: l2fwd, next-hops: [02:00:00:00:00:zz]}\n", 2, 40, "forward.next-hops[0]", "not a MAC address"),
        ("ports: [af_xdp:a:0, af_xdp:b:0]\nconsole: {listen: 300.1.1.1:2001}\n", 2, 19, "console.listen", "'300.1.1.1' is not an IPv4 or IPv6 address"),
        ("ports: [af_xdp:a:0, af_xdp:b:0]\nconsole: {listen: \"127.0.0.1:0\"}\n", 2, 19, "console.listen", "'0' is not a port"),
        ("ports: [af_xdp:a:0, af_xdp:b:0]\nconsole: {listen: 127.0.0.1:9464}\nmetrics: {}\n", 3, 10, "metrics", "both listen on 127.0.0.1:9464"),
        ("ports: [af_xdp:a:0, af_xdp:b:0]\nnode: {data-cores: [1, 1]}\n", 2, 24, "node.data-cores[1]", "CPU 1 is given twice"),
        ("ports: [af_xdp:a:0, af_xdp:b:0]\nnode: {data-cores: [1], management-core: 1}\n", 2, 42, "node.management-core", "also a data core"),
        ("ports: [af_xdp:a:0, af_xdp:b:0]\nnode: [1, 2]\n", 2, 7, "node", "expected a mapping"),
        ("ports: [af_xdp:a:0, af_xdp:b:0]\nnode:\n  name: [a, b]\n", 3, 9, "node.name", "expected a single value, not a list"),
        ("node: {name: x}\n", 1, 1, "", "'ports' is missing"),
        ("ports: []\n", 1, 8, "ports", "name at least one port"),
        ("ports: [af_xdp:a:0, af_xdp:b:0]\nlog: {level: chatty}\n", 2, 14, "log.level", "'chatty' is not one of"),
        ("ports: [af_xdp:a:0\n", 2, 1, "", "not valid YAML"),
        ("ports:\n  - a\n - b\n", 3, 2, "", "not valid YAML"),
        ("ports: [af_xdp:a:0, af_xdp:b:0]\nclassifier: {format: odyssey}\n", 2, 13, "classifier", "'rules' is missing"),
        ("", 1, 1, "", "the file is empty"),
    ]

    @Test(arguments: 0..<mistakes.count)
    func mistakesNameTheirLineColumnAndKey(_ i: Int) {
        let (text, line, column, key, reason) = Self.mistakes[i]
        expectRefused(text, line, column, key, reason)
    }

    func expectRefused(_ text: String, _ line: Int, _ column: Int, _ key: String, _ reason: String) {
        do {
            let c = try NodeConfig.parse(text, file: "node.yaml")
            Issue.record("accepted: \(c) from\n\(text)")
        } catch {
            #expect(error.file == "node.yaml")
            #expect(error.line == line && error.column == column, "\(error) for\n\(text)")
            #expect(error.key == key, "\(error)")
            #expect(error.reason.contains(reason), "\(error)")
            #expect(error.description.hasPrefix("node.yaml:\(line):\(column): "), "\(error)")
        }
    }

    /// Every prefix of a good file, and the file with any one byte replaced
    /// by junk, either parses or is refused with a ConfigError: never a crash.
    @Test func truncatedAndCorruptedFilesAreRefusedCleanly() {
        let bytes = Array(Self.full.utf8)
        var refused = 0
        for n in stride(from: 0, through: bytes.count, by: 3) {
            do { _ = try NodeConfig.parse(String(decoding: bytes[..<n], as: UTF8.self), file: "t.yaml") } catch {
                #expect(error.line >= 0 && error.column >= 0)
                refused += 1
            }
        }
        var rng = SeededRandom(seed: 7)
        for _ in 0..<300 {
            var b = bytes
            b[Int(rng.next() % UInt64(b.count))] = [0x00, 0x3A, 0x5B, 0x7B, 0x22, 0x09, 0xFF, 0x2D][Int(rng.next() % 8)]
            do { _ = try NodeConfig.parse(String(decoding: b, as: UTF8.self), file: "t.yaml") } catch { refused += 1 }
        }
        #expect(refused > 0)
    }

    @Test func changedSectionsAreWhatAReloadApplies() throws {
        let a = try NodeConfig.parse(Self.full, file: "/n.yaml")
        #expect(a.changedSections(from: a).isEmpty)
        let b = try NodeConfig.parse(Self.full.replacingOccurrences(of: "file: r.routes", with: "file: other.routes")
            .replacingOccurrences(of: "max-connections: 3", with: "max-connections: 4"), file: "/n.yaml")
        #expect(b.changedSections(from: a) == ["routes", "console"])
        #expect(Set(b.changedSections(from: a)).isSubset(of: NodeConfig.reloadable))
        let c = try NodeConfig.parse(Self.full.replacingOccurrences(of: "af_packet:eth3", with: "af_packet:eth4"), file: "/n.yaml")
        #expect(c.changedSections(from: a) == ["ports"] && !NodeConfig.reloadable.contains("ports"))
    }
}
