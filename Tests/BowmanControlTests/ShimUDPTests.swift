import BowmanControl
import BowmanCore
import Testing

typealias E = ShimUDP.Endpoint

/// Two shim-UDP nodes on a simulated network with a manual clock. Sockets
/// get ports like an OS would; `lose` decides which datagrams vanish.
struct Net {
    var client = ShimUDP(address: .v4(IPv4Address(198, 18, 0, 1)))
    var server = ShimUDP(address: .v4(IPv4Address(198, 18, 0, 2)))
    var now: UInt64 = 0
    var ports: [String: UInt16] = [:]        // "node/socket" -> port
    var nextPort: UInt16 = 40_000
    var notes: [(node: String, action: ShimUDP.Action)] = []
    var lose: (String, E, [UInt8]) -> Bool = { _, _, _ in false }   // (from node, to, payload)
    var sent: [(from: E, to: E, size: Int)] = []

    init() {
        server.register("echo-app")
        apply("server", server.start())
    }

    func node(_ n: String) -> ShimUDP { n == "client" ? client : server }

    mutating func apply(_ n: String, _ actions: [ShimUDP.Action]) {
        for a in actions {
            switch a {
            case .open(let s, let port):
                ports["\(n)/\(s.rawValue)"] = port ?? { nextPort += 1; return nextPort }()
            case .close(let s):
                ports["\(n)/\(s.rawValue)"] = nil
            case .send(let s, let to, let payload):
                guard let p = ports["\(n)/\(s.rawValue)"] else { continue }
                let from = E(node(n).address, p)
                sent.append((from, to, payload.count))
                if lose(n, to, payload) { continue }
                let dest = to.address == client.address ? "client" : "server"
                guard let (key, _) = ports.first(where: { $0.key.hasPrefix(dest + "/") && $0.value == to.port }),
                      let sid = Int(key.split(separator: "/")[1]) else { continue }
                let event = ShimUDP.Event.datagram(on: ShimUDP.SocketID(rawValue: sid), from: from, payload: payload)
                if dest == "client" { apply("client", client.handle(event, now: now)) } else { apply("server", server.handle(event, now: now)) }
            default:
                notes.append((n, a))
            }
        }
    }

    mutating func advance(to t: UInt64) {
        now = t
        apply("client", client.handle(.tick, now: now))
        apply("server", server.handle(.tick, now: now))
    }

    mutating func allocate(_ name: String = "echo-app") -> ShimUDP.FlowID {
        let (f, a) = client.allocate(to: name, at: server.address, now: now)
        apply("client", a)
        return f
    }

    func requests() -> [ShimUDP.FlowID] {
        notes.compactMap { if $0.node == "server", case .flowRequest(let f, _, _) = $0.action { f } else { nil } }
    }
}

@Suite struct ShimUDPTests {
    @Test func allocateAcceptAndExchangeData() throws {
        var net = Net()
        let f = net.allocate()
        let req = try #require(net.requests().first)
        #expect(net.server.state(of: req) == .pending)
        #expect(net.client.state(of: f) == .allocated)   // learned the flow port from the echo
        #expect(net.server.info.contains("flow \(req.rawValue) server echo-app PENDING peer 198.18.0.1:\(net.ports["client/1"]!)"),
                "\(net.server.info)")
        net.apply("server", net.server.accept(req))
        #expect(net.server.state(of: req) == .allocated)
        // The info registry lists registered names and both ends' flows.
        #expect(net.server.registeredApplications == ["echo-app"])
        #expect(net.server.info.contains("registered echo-app"))
        #expect(net.server.flowInfo.map(\.state) == [.allocated])
        let mine = try #require(net.client.flowInfo.first)
        #expect(mine.isClient && mine.application == "echo-app" && mine.state == .allocated && mine.peer.port != ShimUDP.listenPort)
        #expect(net.client.info.first?.hasPrefix("shim-udp 198.18.0.1 port 3359: 0 applications, 1 flows") == true, "\(net.client.info)")
        net.apply("client", net.client.write(f, Array("hello".utf8)))
        net.apply("server", net.server.write(req, Array("world".utf8)))
        let delivered = net.notes.compactMap { if case .deliver(_, let p) = $0.action { String(decoding: p, as: UTF8.self) } else { nil } }
        #expect(delivered == ["hello", "world"])
        // The server's flow port is not the listen port.
        let peer = net.notes.compactMap { if $0.node == "client", case .flowAllocated(_, let p) = $0.action { p } else { nil } }.first
        #expect(peer != nil && peer!.port != ShimUDP.listenPort)
        net.apply("client", net.client.deallocate(f))
        #expect(net.client.flowCount == 0)
    }

    /// The first echo is lost: the client retries, the server echoes again
    /// from the same flow port, and there is one flow, not two.
    @Test func lostEchoIsRetried() {
        var net = Net()
        var lostOnce = false
        net.lose = { from, _, _ in
            if from == "server" && !lostOnce { lostOnce = true; return true }
            return false
        }
        let f = net.allocate()
        #expect(net.client.state(of: f) == .pending)
        net.advance(to: 499)
        #expect(net.client.state(of: f) == .pending)
        net.advance(to: 500)
        #expect(net.client.state(of: f) == .allocated)
        #expect(net.requests().count == 1 && net.server.flowCount == 1)
    }

    /// No answer at all: retries at 0.5, 1.5, 3.5 s (backoff), failure at 7.5 s; nothing blocks.
    @Test func unreachableServerFailsAfterRetries() {
        var net = Net()
        net.lose = { _, _, _ in true }
        let f = net.allocate()
        var sends: [UInt64] = []
        for t in stride(from: UInt64(0), through: 8000, by: 100) {
            let before = net.sent.count
            net.advance(to: t)
            if net.sent.count > before { sends.append(t) }
        }
        #expect(sends == [500, 1500, 3500])
        let failed = net.notes.contains { if case .flowFailed(f, let r) = $0.action { r.contains("after 4 tries") } else { false } }
        #expect(failed && net.client.flowCount == 0)
    }

    @Test func rejectDeletesThePendingFlow() throws {
        var net = Net()
        _ = net.allocate()
        let req = try #require(net.requests().first)
        net.apply("server", net.server.reject(req))
        #expect(net.server.state(of: req) == nil && net.server.flowCount == 0)
        #expect(net.notes.contains { if case .flowDeleted(req) = $0.action { true } else { false } })
        #expect(net.ports["server/\(1)"] == nil)   // its socket was closed
    }

    @Test func unansweredRequestExpires() throws {
        var net = Net()
        _ = net.allocate()
        let req = try #require(net.requests().first)
        net.advance(to: 9_999)
        #expect(net.server.state(of: req) == .pending)
        net.advance(to: 10_000)
        #expect(net.server.state(of: req) == nil)
    }

    @Test func unknownOrMalformedNamesAreDropped() {
        var net = Net()
        _ = net.allocate("no-such-app")
        let (bad, actions) = net.client.allocate(to: "bad\u{1}name", at: net.server.address, now: 0)
        #expect(actions.contains { if case .flowFailed(bad, _) = $0 { true } else { false } })
        #expect(net.requests().isEmpty && net.server.droppedRequests == 1)
    }

    /// A flood of requests: pending flows stay bounded, the rest are dropped
    /// and counted, and no echo is bigger than its request.
    @Test func floodIsBoundedAndNeverAmplifies() {
        var cfg = ShimUDP.Configuration()
        cfg.maxPendingFlows = 64
        cfg.requestsPerSecond = 200
        var server = ShimUDP(address: .v4(IPv4Address(198, 18, 0, 2)), configuration: cfg)
        server.register("echo-app")
        var echoes = 0
        for i in 0..<5000 {
            let from = E(.v4(IPv4Address(198, 18, UInt8(i >> 8 & 0xFF), UInt8(i & 0xFF))), UInt16(10_000 + i % 50_000))
            let payload = Array("echo-app".utf8)
            for a in server.handle(.datagram(on: ShimUDP.SocketID(rawValue: 0), from: from, payload: payload), now: UInt64(i / 50)) {
                if case .send(_, _, let p) = a { #expect(p.count == payload.count); echoes += 1 }
            }
        }
        #expect(server.pendingCount == 64 && echoes == 64)
        #expect(server.droppedRequests == 5000 - 64)
    }

    @Test func strangersOnAFlowPortAreIgnored() throws {
        var net = Net()
        let f = net.allocate()
        let req = try #require(net.requests().first)
        net.apply("server", net.server.accept(req))
        let sid = try #require(net.ports.first { $0.key.hasPrefix("client/") }.map { ShimUDP.SocketID(rawValue: Int($0.key.split(separator: "/")[1])!) })
        let actions = net.client.handle(.datagram(on: sid, from: E(.v4(IPv4Address(198, 18, 9, 9)), 1), payload: [1, 2, 3]), now: 0)
        #expect(actions.isEmpty && net.client.droppedDatagrams == 1 && net.client.state(of: f) == .allocated)
    }
}
