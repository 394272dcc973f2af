import BowmanControl
import BowmanControlIO
import BowmanCore
import BowmanLab
import BowmanRouting
import BowmanSystem
import BowmanTestSupport
import Foundation
import Testing

/// The ALM, ATM and routing manager on their UDP ports, run by the
/// management loop in a namespace of their own: the seed's messages sent as
/// datagrams get `ok` replies and fill a route table; a malformed one gets
/// an error reply naming the problem.
@Suite(.serialized, .enabled(if: TestData.isRoot, "needs root to create a network namespace"))
struct NodeAdministrationDriverTests {
    @Test func seedMessagesOverUDP() throws {
        let lab = LoopbackLab(prefix: "bmadm", tag: "\(getpid() % 100_000)")
        try lab.setUp()
        defer { lab.tearDown() }
        let v4 = lab.ipv4
        let replies = try inNamespace(lab.namespace) { () throws -> [String] in
            let here = IPAddress(v4)!
            let node = NodeAdministration(identity: ["Discovery.Odyssey.Net"], resolve: { name in
                ["Earth.Odyssey.Net": [IPAddress("198.18.5.2")!], "Discovery.Odyssey.Net": [here]][name] ?? []
            })
            let loop = ManagementLoop(administration: try NodeAdministrationDriver(node: node, address: here))
            let client = try UDPSocket(.v4)
            try client.bind(SocketAddress(here, port: 0))
            var buf = [UInt8](repeating: 0, count: 4096)
            func ask(_ port: UInt16, _ text: String) throws -> String {
                #expect(try client.send(Array(text.utf8), to: SocketAddress(here, port: port)))
                for _ in 0..<50 {
                    loop.runOnce(milliseconds: 20)
                    if let (n, _) = try buf.withUnsafeMutableBytes({ try client.receive(into: $0) }) {
                        return String(decoding: buf[0..<n], as: UTF8.self)
                    }
                }
                return "no reply"
            }
            var out: [String] = []
            out.append(try ask(9998, SeedMessages.alpExample.replacingOccurrences(of: "(status down)", with: "(status up)")))
            out.append(try ask(9999, "(name Bowman)\n(add    AE-35)\n(add    AE-36)\n"))
            out.append(try ask(9990, "(calculate Bowman Bowman_rt)"))
            out.append(try ask(9998, "(create { (name AE-37) (proto udp (host (addr a) (port 9000))) })"))
            out.append(try ask(9999, "(name Bowman) (add AE-99)"))
            let t = node.routeTables["Bowman_rt"]
            out.append("lookup \(t?.lookup(IPAddress("198.18.5.2")!).map(String.init) ?? "none")")
            return out
        }
        #expect(replies[0].hasPrefix("ok: created AE-35 (channel 0, udp Discovery.Odyssey.Net - Earth.Odyssey.Net, up); created AE-36 (channel 1"))
        #expect(replies[1] == "ok: topology Bowman: AE-35, AE-36\n")
        #expect(replies[2] == "ok: Bowman_rt: 1 routes from Discovery.Odyssey.Net\n")
        #expect(replies[3] == "error: line 1, column 24: a link needs two (host ...), this one has 1\n")
        #expect(replies[4] == "error: no link named AE-99 (create it with ALP first)\n")
        #expect(replies[5] == "lookup 0", "the route to Earth goes over AE-35, the first link named")
    }
}

