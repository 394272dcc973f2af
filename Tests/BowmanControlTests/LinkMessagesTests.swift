import BowmanControl
import BowmanTestSupport
import Testing

/// ALP, ATP and routing control messages: the seed's examples verbatim,
/// and malformed ones refused with line, column and the problem.
@Suite struct LinkMessagesTests {
    static let seedALP = SeedMessages.alpExample

    @Test func seedALPExampleParses() throws {
        let c = try ALP.parse(Self.seedALP)
        #expect(c == [
            .create(AbstractLink(name: "AE-35", proto: .udp,
                                 hosts: [.init(address: "Discovery.Odyssey.Net", port: 9000), .init(address: "Earth.Odyssey.Net", port: 9000)],
                                 up: false, direction: .bi, types: ["point-to-point", "relative"], access: .regular, attributes: ["Unreliable"])),
            .create(AbstractLink(name: "AE-36", proto: .ether,
                                 hosts: [.init(address: "Discovery.Odyssey.Net", device: "hme0"), .init(address: "Earth.Odyssey.Net", device: "hme0")],
                                 up: false, direction: .bi, types: ["point-to-point", "raw"], access: .regular, attributes: ["Unreliable"])),
        ])
        #expect(try ALP.parse("(destroy { (name AE-35) })") == [.destroy(name: "AE-35")])
    }

    @Test func seedATPAndRoutingExamplesParse() throws {
        #expect(try ATP.parse("(name Bowman)\n(add    AE-35)\n(add    AE-36)\n") == ATPMessage(name: "Bowman", changes: [.add("AE-35"), .add("AE-36")]))
        let r = try RoutingControl.parse("""
                (multi_home 
                        Discovery.Odyssey.Net 
                        Discovery-1.Odyssey.Net 
                        Discovery-2.Odyssey.Net
                )
                (calculate Bowman Bowman_rt)
        """)
        #expect(r == [.multiHome(["Discovery.Odyssey.Net", "Discovery-1.Odyssey.Net", "Discovery-2.Odyssey.Net"]),
                      .calculate(topology: "Bowman", table: "Bowman_rt")])
    }

    static let udpLink = "(proto udp (host (addr a) (port 1)) (host (addr b) (port 2)))"

    @Test(arguments: [
        ("(create { (name L) \(udpLink) }", "line 1, column 1: '(' is never closed"),
        ("(create { (name L) \(udpLink) ))", "line 1, column 82: ')' closes the '{' at line 1, column 9"),
        ("(create { (name L) \(udpLink) }))", "line 1, column 84: ')' closes nothing"),
        ("(make { (name L) })", "line 1, column 2: unknown command 'make' (create, destroy)"),
        ("(create { (name L) (colour red) \(udpLink) })", "line 1, column 21: unknown keyword 'colour' (name, proto, status, dir, type, access, attribute)"),
        ("(create { (name L)\n  (proto udp (host (addr a) (port 1))) })", "line 2, column 3: a link needs two (host ...), this one has 1"),
        ("(create { (name L) (proto udp (host (port 1)) (host (addr b) (port 2))) })", "line 1, column 31: the host has no (addr HostName)"),
        ("(create { (name L) (proto udp (host (addr a) (port 70000)) (host (addr b) (port 2))) })", "line 1, column 52: port '70000' is not a number from 1 to 65535"),
        ("(create { (name L) (proto udp (host (addr a) (port x)) (host (addr b) (port 2))) })", "line 1, column 52: port 'x' is not a number from 1 to 65535"),
        ("(create { (name L) (proto udp (host (addr a) (dev-name eth0)) (host (addr b) (port 2))) })", "line 1, column 31: a udp link's host needs (port N) and no dev-name"),
        ("(create { (name L) (proto ether (host (addr a) (port 1)) (host (addr b) (port 2))) })", "line 1, column 33: an ether link's host needs (dev-name D) and no port"),
        ("(create { (name L) (proto ip) })", "line 1, column 27: unknown proto 'ip' (ether, udp)"),
        ("(create { \(udpLink) })", "line 1, column 9: the link has no (name LinkName)"),
        ("(create { (name L) })", "line 1, column 9: link 'L' has no ( proto ether|udp (host ...) (host ...) )"),
        ("(create { (name L) (status sideways) \(udpLink) })", "line 1, column 28: status is up or down, not 'sideways'"),
        ("(create { (name L) (name M) \(udpLink) })", "line 1, column 20: (name ...) is given twice"),
        ("(create (name L))", "line 1, column 9: create takes one link description in braces: (create { ... })"),
        ("", "line 1, column 1: the message is empty"),
    ]) func malformedALPNamesTheProblem(text: String, message: String) {
        do {
            _ = try ALP.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description == message, "\(text)")
        }
    }

    @Test(arguments: [
        ("(add L)", "line 1, column 1: an ATP message starts with (name TopologyName), not (add ...)"),
        ("(name T) (remove L)", "line 1, column 10: unknown keyword 'remove' (add, delete)"),
        ("(name T) (add)", "line 1, column 10: (add ...) takes one word"),
        ("(name T) (add L", "line 1, column 10: '(' is never closed"),
    ]) func malformedATPNamesTheProblem(text: String, message: String) {
        #expect(throws: ControlMessageError.self) { try ATP.parse(text) }
        do { _ = try ATP.parse(text) } catch { #expect(error.description == message) }
    }

    @Test(arguments: [
        ("(calculate T)", "line 1, column 1: (calculate Topology RouteTable) takes two names"),
        ("(multi_home a)", "line 1, column 1: (multi_home ...) names at least two hosts"),
        ("(route T R)", "line 1, column 1: unknown command 'route' (multi_home, calculate)"),
    ]) func malformedRoutingNamesTheProblem(text: String, message: String) {
        do { _ = try RoutingControl.parse(text); Issue.record("accepted") } catch { #expect(error.description == message) }
    }

    @Test func everyCutOfTheSeedMessageIsRefusedOrWholeNeverACrash() {
        let text = Self.seedALP
        var refused = 0
        for cut in stride(from: 0, to: text.count, by: 7) {
            if (try? ALP.parse(String(text.prefix(cut)))) == nil { refused += 1 }
        }
        #expect(refused == (text.count + 6) / 7)
    }
}
