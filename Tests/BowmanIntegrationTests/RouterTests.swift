import Bowman
import BowmanCore
import BowmanIO
import BowmanLab
import BowmanPacket
import BowmanRouting
import BowmanSystem
import BowmanTestSupport
import Foundation
import Testing

/// Bowman as the IP router between two subnets: three namespaces in a
/// line (gen — dut — sink), the dut's kernel not forwarding
/// (ip_forward=0) and no static neighbours anywhere, so every packet that
/// crosses was routed by Bowman, which resolved the next hops itself.
@Suite(.serialized, .enabled(if: TestData.isRoot, "needs root to create network namespaces, attach XDP and open AF_XDP sockets"))
struct RouterTests {
    func shell(_ ns: String, _ args: [String]) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        p.arguments = ["netns", "exec", ns] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        do { try p.run() } catch { return (-1, "\(error)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func router(_ lab: LineLab, source: RouteSource, kind: String = "af_xdp") -> DataPlane.Options {
        var o = DataPlane.Options()
        o.ports = kind == "af_xdp" ? [.afXDP(interface: lab.vB, queue: 0), .afXDP(interface: lab.vC, queue: 0)]
            : [.afPacket(interface: lab.vB), .afPacket(interface: lab.vC)]
        o.forward = .router
        o.routeSource = source
        o.frameCount = 4096
        return o
    }

    /// Ping, ping6, TTL and hop limit decremented once, ICMP time exceeded
    /// for TTL 1 and net unreachable without a route, UDP frames across
    /// rewritten exactly (MACs, TTL, checksum), frame accounting.
    func routes(_ lab: LineLab, _ o: DataPlane.Options, marker: UInt16) throws {
        _ = try Shell.run(["ip", "-n", lab.gen, "route", "add", "198.19.0.0/16", "via", "198.18.0.2"])
        _ = try Shell.run(["ip", "-n", lab.gen, "-6", "route", "add", "fd00:77::/64", "via", "fd00:18::2"])
        var outputs: [String: String] = [:]
        var received: [[UInt8]] = []
        let frames = testFrames(lab, marker: marker)
        let report = try withBowman(lab, o) {
            // The first packets wait for the resolution of the sink (and the sink's of the dut).
            let (rc4, ping4) = shell(lab.gen, ["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.18.1.2"])
            outputs["ping"] = ping4
            #expect(rc4 == 0, "\(ping4)")
            let (rc6, ping6) = shell(lab.gen, ["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "fd00:19::2"])
            outputs["ping6"] = ping6
            #expect(rc6 == 0, "\(ping6)")
            outputs["ttl1"] = shell(lab.gen, ["ping", "-c", "1", "-W", "2", "-t", "1", "198.18.1.2"]).1
            outputs["hlim1"] = shell(lab.gen, ["ping", "-6", "-c", "1", "-W", "2", "-t", "1", "fd00:19::2"]).1
            outputs["noroute"] = shell(lab.gen, ["ping", "-c", "1", "-W", "2", "198.19.5.5"]).1
            outputs["noroute6"] = shell(lab.gen, ["ping", "-6", "-c", "1", "-W", "2", "fd00:77::5"]).1
            let sink = try SinkCapture(ns: lab.sink, interface: lab.vD, marker: marker, count: frames.count)
            let vA = lab.vA
            let sent = try inNamespace(lab.gen) { try PacketSocket(interface: vA).send(frames: frames) }
            #expect(sent == frames.count)
            received = sink.finish()
        }
        let all = outputs.map { "\($0.key): \($0.value)" }.joined(separator: "\n") + "\n\(report)\n\(report.router ?? "")"
        if ProcessInfo.processInfo.environment["BOWMAN_SHOW"] != nil { print(all) }
        // Replies cross Bowman once: the sink's TTL 64 arrives as 63.
        #expect(outputs["ping"]!.contains("ttl=63"), "\(all)")
        #expect(outputs["ping6"]!.contains("ttl=63") || outputs["ping6"]!.contains("hlim=63"), "\(all)")
        #expect(outputs["ttl1"]!.contains("From 198.18.0.2") && outputs["ttl1"]!.contains("Time to live exceeded"), "\(all)")
        #expect(outputs["hlim1"]!.contains("From fd00:18::2") && outputs["hlim1"]!.contains("Time exceeded: Hop limit"), "\(all)")
        #expect(outputs["noroute"]!.contains("From 198.18.0.2") && outputs["noroute"]!.contains("Destination Net Unreachable"), "\(all)")
        #expect(outputs["noroute6"]!.contains("From fd00:18::2") && outputs["noroute6"]!.contains("No route"), "\(all)")
        // The UDP frames: all across, in order, changed only as a router changes them.
        #expect(received.count == frames.count, "received \(received.count) of \(frames.count)\n\(all)")
        let vC = MACAddress(lab.mac[lab.vC]!)!.octets, vD = MACAddress(lab.mac[lab.vD]!)!.octets
        for (got, sent) in zip(received, frames) {
            #expect(Array(got[0..<6]) == vD && Array(got[6..<12]) == vC)
            var want = sent
            want.withUnsafeMutableBytes { p in
                if p[12] == 0x08 { _ = HeaderEdits.decrementIPv4TTL(p, l3: 14) } else { _ = HeaderEdits.decrementIPv6HopLimit(p, l3: 14) }
            }
            #expect(Array(got[12...]) == Array(want[12...]), "frame changed beyond the MACs, TTL and checksum")
            var m = PacketMetadata()
            got.withUnsafeBytes { p in
                #expect((try? PacketParser.parse(ethernet: p, into: &m)) != nil)
                if m.ipVersion == 4 { #expect(Checksum.verifyIPv4Header(p, m) == .good) }
                #expect(Checksum.verifyTransport(p, m) == .good)
            }
        }
        #expect(report.audit.isConsistent, "\(report.audit)")
    }

    @Test func routesFromTheKernelFIBOverAFXDP() throws {
        let lab = LineLab(tag: "t\(getpid() % 10_000)")
        try lab.setUp(staticNeighbours: false)
        defer { lab.tearDown() }
        try routes(lab, router(lab, source: .kernel(table: 254)), marker: 7101)
    }

    @Test func routesFromAFileOverAFPacket() throws {
        let lab = LineLab(tag: "u\(getpid() % 10_000)")
        try lab.setUp(staticNeighbours: false)
        defer { lab.tearDown() }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bowman-routes-\(getpid()).txt").path
        try """
        # connected subnets: every host resolved by Bowman
        198.18.0.0/24 \(lab.vB)
        198.18.1.0/24 \(lab.vC)
        fd00:18::/64 \(lab.vB)
        fd00:19::/64 \(lab.vC)
        """.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try routes(lab, router(lab, source: .file(file), kind: "af_packet"), marker: 7102)
    }
}

/// The router's routes file: every next-hop form, and each mistake refused
/// with its line and column.
@Suite struct RouterRoutesTests {
    let ifindex: (String) -> Int32? = { ["eth1": 3, "eth2": 4][$0] }

    @Test func everyForm() throws {
        let r = try RouterRoutes.parse("""
            # a comment
            198.18.0.0/24 eth1
            198.18.9.0/24 198.18.0.7%eth1   # via a gateway
            fd00:9::/64 fd00:18::7%eth2
            198.18.66.0/24 blackhole\r
            198.18.67.0/24 unreachable
            fd00:68::/64 prohibit
            """, file: "r", interfaceIndex: ifindex)
        #expect(r.map(\.prefix.description) == ["198.18.0.0/24", "198.18.9.0/24", "fd00:9::/64", "198.18.66.0/24", "198.18.67.0/24", "fd00:68::/64"])
        #expect(r[0].set == NextHopSet(kind: .forward, hops: [.init(gateway: nil, interface: 3)]))
        #expect(r[1].set == NextHopSet(kind: .forward, hops: [.init(gateway: IPAddress("198.18.0.7")!, interface: 3)]))
        #expect(r[2].set == NextHopSet(kind: .forward, hops: [.init(gateway: IPAddress("fd00:18::7")!, interface: 4)]))
        #expect(r[3...].map(\.set.kind) == [.blackhole, .unreachable, .prohibit])
    }

    @Test func mistakesNameLineAndColumn() {
        let cases: [(String, String)] = [
            ("198.18.0.0/24 eth1\n198.18.1.0/24 eth9", "r:2:15: next hop 'eth9' is not GATEWAY%INTERFACE, an interface, blackhole, unreachable or prohibit"),
            ("198.18.1.0/24 198.18.0.7", "r:1:15: name the gateway's interface: 198.18.0.7%INTERFACE"),
            ("198.18.1.0/24  fd00::1%eth1", "r:1:16: gateway fd00::1 is not of the prefix's family"),
            ("198.18.1.0/24 198.18.0.300%eth1", "r:1:15: '198.18.0.300' is not an IPv4 or IPv6 gateway address"),
            ("198.18.1.0/24 198.18.0.7%eth7", "r:1:15: no interface named 'eth7'"),
            ("198.18.1.0/33 eth1", "r:1:1: '198.18.1.0/33' is not an IPv4 or IPv6 prefix"),
        ]
        for (text, want) in cases {
            do {
                _ = try RouterRoutes.parse(text, file: "r", interfaceIndex: ifindex)
                Issue.record("accepted: \(text)")
            } catch {
                #expect(error.description == want)
            }
        }
    }
}

/// Four namespaces: gen — dut — sink directly, and dut — r2 — sink around
/// (r2 is a kernel router). Bowman in dut serves three ports; its routes
/// come from the routing manager, fed over UDP with the seed's ALP, ATP
/// and routing messages; the direct link taken down (the veth, and ALP
/// status down) reroutes through r2.
@Suite(.serialized, .enabled(if: TestData.isRoot, "needs root to create network namespaces, attach XDP and open AF_XDP sockets"))
struct RoutingManagerTests {
    let tag = "\(getpid() % 10_000)"
    var gen: String { "bmm-g-\(tag)" }
    var dut: String { "bmm-d-\(tag)" }
    var sink: String { "bmm-s-\(tag)" }
    var r2: String { "bmm-r-\(tag)" }
    func ifc(_ c: String) -> String { "bm\(c)\(tag)" }

    func setUp() throws {
        for n in [gen, dut, sink, r2] { _ = try Shell.run(["ip", "netns", "add", n]) }
        // (namespace, interface, address) pairs of each link
        let links = [((gen, "A", "198.18.0.1/24"), (dut, "B", "198.18.0.2/24")),
                     ((dut, "C", "198.18.1.1/24"), (sink, "D", "198.18.1.2/24")),
                     ((dut, "E", "198.18.2.1/24"), (r2, "F", "198.18.2.2/24")),
                     ((r2, "G", "198.18.3.1/24"), (sink, "H", "198.18.3.2/24"))]
        for (a, b) in links {
            _ = try Shell.run(["ip", "link", "add", ifc(a.1), "netns", a.0, "type", "veth", "peer", "name", ifc(b.1), "netns", b.0])
            for (ns, i, addr) in [a, b] {
                _ = try Shell.run(["ip", "-n", ns, "addr", "add", addr, "dev", ifc(i)])
                _ = try Shell.run(["ip", "-n", ns, "link", "set", ifc(i), "up"])
            }
        }
        for n in [gen, dut, sink, r2] { _ = try Shell.run(["ip", "-n", n, "link", "set", "lo", "up"]) }
        _ = try Shell.run(["ip", "-n", gen, "route", "add", "198.18.0.0/15", "via", "198.18.0.2"])
        _ = try Shell.run(["ip", "-n", sink, "route", "add", "198.18.0.0/24", "via", "198.18.1.1", "metric", "10"])
        _ = try Shell.run(["ip", "-n", sink, "route", "add", "198.18.0.0/24", "via", "198.18.3.1", "metric", "20"])
        _ = try Shell.run(["ip", "-n", r2, "route", "add", "198.18.0.0/24", "via", "198.18.2.1"])
        _ = try Shell.run(["ip", "-n", r2, "route", "add", "198.18.1.0/24", "via", "198.18.3.2"])
        _ = try Shell.run(["ip", "netns", "exec", r2, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
        for n in [sink, r2] {
            _ = try Shell.run(["ip", "netns", "exec", n, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0"])
        }
    }

    func tearDown() { for n in [gen, dut, sink, r2] { _ = try? Shell.run(["ip", "netns", "del", n]) } }

    /// One message to the dut's service on `port`, and its reply.
    func ask(_ port: UInt16, _ text: String) throws -> String {
        try inNamespace(dut) {
            let u = try UDPSocket(.v4)
            _ = try u.send(Array(text.utf8), to: SocketAddress(IPAddress("198.18.0.2")!, port: port))
            guard Poll.wait(for: u.descriptor, milliseconds: 3000) else { return "(no reply)" }
            var buf = [UInt8](repeating: 0, count: 4096)
            let got = try buf.withUnsafeMutableBytes { b in try u.receive(into: b) }
            return String(decoding: buf[0..<(got?.count ?? 0)], as: UTF8.self)
        }
    }

    func ether(_ name: String, _ a: (String, String), _ b: (String, String), up: Bool = true) -> String {
        "(create { (name \(name)) (proto ether (host (addr \(a.0)) (dev-name \(a.1))) (host (addr \(b.0)) (dev-name \(b.1)))) "
            + "(status \(up ? "up" : "down")) (dir bi) (type point-to-point) (access regular) })"
    }

    func ping(_ to: String) -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        p.arguments = ["netns", "exec", gen, "ping", "-c", "3", "-i", "0.2", "-W", "2", to]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try? p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test func routesFromALPAndATPAndALinkDownReroutes() throws {
        try setUp()
        defer { tearDown() }
        var o = DataPlane.Options()
        o.ports = ["B", "C", "E"].map { .afXDP(interface: ifc($0), queue: 0) }
        o.forward = .router
        o.routeSource = .manager(address: IPAddress("198.18.0.2")!, table: "rt", identity: [])
        o.frameCount = 4096
        var log: [String] = []
        var before = "", after = "", unreachable = ""
        let report = try withBowman(namespace: dut, o) {
            let links = ether("L1", ("198.18.0.2", ifc("B")), ("198.18.0.1", ifc("A")))
                + ether("L2", ("198.18.1.1", ifc("C")), ("198.18.1.2", ifc("D")))
                + ether("L3", ("198.18.2.1", ifc("E")), ("198.18.2.2", ifc("F")))
                + ether("L4", ("198.18.3.1", ifc("G")), ("198.18.3.2", ifc("H")))
            log.append(try ask(9998, links))
            log.append(try ask(9999, "(name T) (add L1) (add L2) (add L3) (add L4)"))
            log.append(try ask(9990, "(multi_home 198.18.0.2 198.18.1.1 198.18.2.1) (multi_home 198.18.1.2 198.18.3.2) "
                               + "(multi_home 198.18.2.2 198.18.3.1) (calculate T rt)"))
            before = ping("198.18.1.2")
            // The direct link fails: its veth goes down and the ALM is told.
            _ = try Shell.run(["ip", "-n", sink, "link", "set", ifc("D"), "down"])
            log.append(try ask(9998, ether("L2", ("198.18.1.1", ifc("C")), ("198.18.1.2", ifc("D")), up: false)))
            after = ping("198.18.1.2")
            // The way round fails too: the sink is unreachable, and the router says so.
            log.append(try ask(9998, ether("L3", ("198.18.2.1", ifc("E")), ("198.18.2.2", ifc("F")), up: false)))
            unreachable = ping("198.18.1.2")
        }
        let all = log.joined(separator: "\n") + "\n--- before\n\(before)\n--- after\n\(after)\n--- unreachable\n\(unreachable)\n\(report)\n\(report.router ?? "")"
        if ProcessInfo.processInfo.environment["BOWMAN_SHOW"] != nil { print(all) }
        #expect(log[0].hasPrefix("ok: created L1") && log[1].hasPrefix("ok: topology T") && log[2].contains("rt: "), "\(all)")
        // Host routes to gen, the sink's two addresses and r2's two.
        #expect(log[2].contains("rt: 5 routes from 198.18.0.2"), "\(all)")
        // Direct: one router (Bowman) each way.
        #expect(before.contains("3 received") && before.contains("ttl=63"), "\(all)")
        // Round r2: two routers each way (Bowman and r2's kernel).
        #expect(log[3].contains("rt recomputed"), "\(all)")
        #expect(after.contains("3 received") && after.contains("ttl=62"), "\(all)")
        #expect(unreachable.contains("From 198.18.0.2") && unreachable.contains("Destination Net Unreachable"), "\(all)")
        #expect(report.audit.isConsistent, "\(report.audit)")
    }
}
