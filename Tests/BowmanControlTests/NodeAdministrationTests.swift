import BowmanControl
import BowmanCore
import BowmanRouting
import Testing

/// The ALM, ATM and routing manager together: links become channels,
/// topologies name links, `calculate` fills a named table by Dijkstra, a
/// link going down reroutes, and every bad message changes nothing.
@Suite struct NodeAdministrationTests {
    static func udp(_ name: String, _ a: String, _ b: String, status: String = "up", dir: String = "bi") -> String {
        "(create { (name \(name)) (proto udp (host (addr \(a)) (port 9000)) (host (addr \(b)) (port 9000))) (status \(status)) (dir \(dir)) (type point-to-point) (access regular) })"
    }

    /// r1 - r2 - r3 in a line, plus r1 - r3 directly (the shortcut).
    func node() -> NodeAdministration {
        let n = NodeAdministration(identity: ["198.18.1.1"])
        #expect(n.handleALP(Self.udp("L12", "198.18.1.1", "198.18.1.2") + Self.udp("L23", "198.18.1.2", "198.18.1.3")).hasPrefix("ok: created L12 (channel 0"))
        #expect(n.handleALP(Self.udp("L13", "198.18.1.1", "198.18.1.3")).hasPrefix("ok: created L13 (channel 2"))
        #expect(n.handleATP("(name T)\n(add L12)\n(add L23)\n(add L13)") == "ok: topology T: L12, L23, L13")
        return n
    }

    @Test func calculateFillsTheNamedTableAndALinkDownReroutes() throws {
        let n = node()
        #expect(n.handleRouting("(calculate T T_rt)") == "ok: T_rt: 2 routes from 198.18.1.1")
        let t = try #require(n.routeTables["T_rt"])
        #expect(t.lookup(IPAddress("198.18.1.2")!) == 0 && t.lookup(IPAddress("198.18.1.3")!) == 2)
        // L13 goes down: 198.18.1.3 is reached through r2 over L12.
        let r = n.handleALP(Self.udp("L13", "198.18.1.1", "198.18.1.3", status: "down"))
        #expect(r == "ok: updated L13 (channel 2, down); T_rt recomputed: 2 routes from 198.18.1.1")
        #expect(t.lookup(IPAddress("198.18.1.3")!) == 0)
        // And L12 too: r2 and r3 are cut off.
        #expect(n.handleALP(Self.udp("L12", "198.18.1.1", "198.18.1.2", status: "down")).hasSuffix("T_rt recomputed: 0 routes from 198.18.1.1, 2 hosts unreachable"))
        #expect(t.count == 0, "no routes over links that are down")
        // L13 back up: r3 directly, r2 behind it over L23.
        #expect(n.handleALP(Self.udp("L13", "198.18.1.1", "198.18.1.3")).hasSuffix("T_rt recomputed: 2 routes from 198.18.1.1"))
        #expect(t.lookup(IPAddress("198.18.1.3")!) == 2 && t.lookup(IPAddress("198.18.1.2")!) == 2)
        // A topology change recomputes too: without L23, r2 is unreachable.
        #expect(n.handleATP("(name T) (delete L23)") == "ok: topology T: L12, L13; T_rt recomputed: 1 routes from 198.18.1.1, 1 hosts unreachable")
        #expect(t.lookup(IPAddress("198.18.1.2")!) == nil)
    }

    @Test func multiHomedHostsAndDirections() throws {
        let n = NodeAdministration(identity: ["a"], resolve: { ["a": ["198.18.2.1"], "b1": ["198.18.2.2"], "b2": ["198.18.2.3", "fd00:2::3"], "c": ["198.18.2.4"]][$0, default: []].compactMap { IPAddress($0) } })
        _ = n.handleALP(Self.udp("A-B1", "a", "b1") + Self.udp("B2-C", "b2", "c") + Self.udp("A-C", "a", "c", dir: "uni-incoming"))
        _ = n.handleATP("(name T) (add A-B1) (add B2-C) (add A-C)")
        // Without multi-home, c is unreachable (A-C only carries c -> a).
        #expect(n.handleRouting("(calculate T rt)") == "ok: rt: 1 routes from a, 2 hosts unreachable")
        // b1 and b2 are one host: c is reached over A-B1 (channel 0).
        #expect(n.handleRouting("(multi_home b1 b2) (calculate T rt)") == "ok: multi_home b1 b2; rt: 4 routes from a")
        let t = try #require(n.routeTables["rt"])
        #expect(t.lookup(IPAddress("198.18.2.4")!) == 0 && t.lookup(IPAddress("fd00:2::3")!) == 0)
        #expect(n.handleRouting("(multi_home b1 x)").hasPrefix("error: host b1 is in a multi_home list already"))
    }

    @Test func badMessagesChangeNothingAndSayWhy() throws {
        let n = node()
        _ = n.handleRouting("(calculate T T_rt)")
        let before = n.links.mapValues(\.channel)
        // A message with one good and one bad link: neither is made.
        let r = n.handleALP(Self.udp("L14", "198.18.1.1", "198.18.1.4") + "(create { (name L15) (proto udp (host (addr x) (port 0)) (host (addr y) (port 1))) })")
        #expect(r == "error: line 1, column 223: port '0' is not a number from 1 to 65535")
        #expect(n.links.mapValues(\.channel) == before)
        #expect(n.handleALP("(destroy { (name L9) })") == "error: no link named L9")
        #expect(n.handleALP("(destroy { (name L12) })") == "error: link L12 is in topology T (delete it there first)")
        #expect(n.handleALP(Self.udp("L12", "198.18.1.1", "198.18.1.9")) == "error: link L12 exists with other hosts (destroy it first)")
        #expect(n.handleATP("(name T) (add L99)") == "error: no link named L99 (create it with ALP first)")
        #expect(n.handleATP("(name T) (add L12)") == "error: link L12 is in topology T already")
        #expect(n.handleATP("(name T) (delete L13) (delete L44)") == "error: link L44 is not in topology T")
        #expect(n.topologies["T"] == ["L12", "L23", "L13"], "the message's first change was not applied either")
        #expect(n.handleRouting("(calculate U U_rt)") == "error: no topology named U")
        #expect(n.handleRouting("(calculate T bad/name)") == "error: 'bad/name' is not a route table name (letters, digits, '-', '_', '.')")
        #expect(n.handleRouting("(calculate T T_rt") == "error: line 1, column 1: '(' is never closed")
        #expect(n.routeTables["T_rt"]!.count == 2)
        // Destroying a link out of every topology works.
        _ = n.handleATP("(name T) (delete L13)")
        #expect(n.handleALP("(destroy { (name L13) })").hasPrefix("ok: destroyed L13"))
    }
}
