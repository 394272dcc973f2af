import BowmanControlIO
import BowmanCore
import BowmanLab
import BowmanPacket
import BowmanPipeline
import BowmanRouting
import BowmanSystem
import BowmanTestSupport
import Foundation
import Testing

/// A routing daemon the user already runs drives Bowman: FRR's zebra and
/// ospfd in two namespaces joined by a veth form an OSPF adjacency; the
/// prefix one side announces (198.18.77.1/32 on its loopback) is installed
/// in the other side's kernel by zebra, reaches Bowman's mirrored table
/// over rtnetlink, and the router step forwards a packet to it out of the
/// veth to the OSPF neighbour's MAC. FRR comes from Debian (`scripts/setup`
/// installs it); the daemons run as children of the test and are ended by PID.
@Suite(.serialized, .enabled(if: TestData.isRoot, "needs root to create network namespaces"))
struct FRRTests {
    static let zebra = "/usr/lib/frr/zebra", ospfd = "/usr/lib/frr/ospfd"

    final class Daemons: @unchecked Sendable {
        var processes: [Process] = []
        var directories: [String] = []
        func start(_ path: String, ns: String, config: String) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            // -N: FRR's path space (sockets and pid files under /var/run/frr/NS).
            p.arguments = ["netns", "exec", ns, path, "-N", ns, "-f", config, "-i", "/var/run/frr/\(ns)/\((path as NSString).lastPathComponent).pid"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            processes.append(p)
        }
        /// SIGTERM, then SIGKILL for what is still running after 3 s (zebra's
        /// graceful shutdown can wait on its clients), then reaped.
        func stop() {
            for p in processes where p.isRunning { p.terminate() }
            let end = Date().addingTimeInterval(3)
            while processes.contains(where: \.isRunning), Date() < end { Thread.sleep(forTimeInterval: 0.05) }
            for p in processes where p.isRunning { kill(p.processIdentifier, SIGKILL) }
            for p in processes { p.waitUntilExit() }
            for d in directories { try? FileManager.default.removeItem(atPath: d) }
        }
    }

    @Test func anOSPFRouteFromFRRReachesBowmansTableAndIsForwarded() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.zebra) && FileManager.default.isExecutableFile(atPath: Self.ospfd),
                     "FRR is not installed: run scripts/setup (it installs Debian's frr)")
        let lab = VethLab(prefix: "bmfrr", tag: "\(getpid() % 100_000)")
        try lab.setUp()
        let daemons = Daemons()
        defer { daemons.stop(); lab.tearDown() }
        try Shell.run(["ip", "-n", lab.right, "addr", "add", "198.18.77.1/32", "dev", "lo"])
        let dir = try TestData.temporaryDirectory().path
        for (ns, ifc, id) in [(lab.left, lab.leftInterface, lab.leftIPv4), (lab.right, lab.rightInterface, lab.rightIPv4)] {
            let conf = "\(dir)/\(ns).conf"
            try """
            hostname \(ns)
            interface \(ifc)
             ip ospf network point-to-point
             ip ospf hello-interval 1
             ip ospf dead-interval 3
            !
            router ospf
             ospf router-id \(id)
             network 198.18.0.0/24 area 0
             network 198.18.77.1/32 area 0
            !
            """.write(toFile: conf, atomically: true, encoding: .utf8)
            let run = "/var/run/frr/\(ns)"
            try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
            _ = try? Shell.run(["chown", "frr:frr", run])
            daemons.directories.append(run)
            try daemons.start(Self.zebra, ns: ns, config: conf)
            try daemons.start(Self.ospfd, ns: ns, config: conf)
        }
        let ifc = lab.leftInterface, mac = try #require(MACAddress(lab.leftMAC)), peer = try #require(MACAddress(lab.rightMAC))
        let result = try inNamespace(lab.left) { () throws -> (String?, RouteDecision?, Double) in
            let ifindex = Int32(try #require(try NetworkInterface.all().first { $0.name == ifc }).index)
            let driver = try KernelFIBDriver(mirror: FIBMirror(routes: RouteTable(name: "main")))
            let m = driver.mirror
            let t0 = SystemClock.monotonicMilliseconds
            var route: RouteNetlink.Route?
            while SystemClock.monotonicMilliseconds - t0 < 60_000 {
                _ = Poll.wait(for: driver.descriptor, milliseconds: 200)
                try driver.pump()
                if let r = m.kernelRoute(IPPrefix("198.18.77.1/32")!) { route = r; break }
            }
            guard let route else { return (nil, nil, 0) }
            let seconds = Double(SystemClock.monotonicMilliseconds - t0) / 1000
            // The router step, with this veth as Bowman's port 0.
            let adj = Adjacencies.build(sets: m.sets, ports: [ifindex: (port: 0, mac: mac)]) { i, g in
                m.neighbours[FIBMirror.NeighbourKey(interface: i, address: g)]?.mac
            }
            let step = RouterStep(routes: m.routes, adjacencies: adj)
            var f = frame(FrameSpec(source: MACAddress(2, 0, 0, 0, 0, 9), destination: mac,
                                    network: .ipv4(.init(source: IPv4Address("198.18.0.9")!, destination: IPv4Address("198.18.77.1")!, ttl: 9)),
                                    transport: .udp(source: 5, destination: 6), payload: [1]))
            let d = f.withUnsafeMutableBytes { step.decide($0) }
            #expect(Array(f[0..<6]) == withUnsafeBytes(of: peer.rawValue.bigEndian) { Array($0.suffix(6)) }, "to the OSPF neighbour's MAC")
            #expect(f[14 + 8] == 8)
            return ("\(route.nextHops.map(\.description)) proto \(route.protocolID)", d, seconds)
        }
        let (route, decision, seconds) = result
        guard let route else { Issue.record("FRR's OSPF route never reached the kernel table within 60 s"); return }
        print("OSPF route in Bowman's table after \(seconds) s: \(route)")
        #expect(route.hasPrefix("[\"via 198.18.0.2 dev") && route.hasSuffix("proto 188"), "\(route)")
        #expect(decision == .forward(port: 0))
    }
}
