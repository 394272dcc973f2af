import BowmanCore
import BowmanPacket
import BowmanRouting
import BowmanTestSupport
import Testing

@Suite struct RouteTableTests {
    func p(_ s: String) -> IPPrefix { IPPrefix(s)! }
    func a(_ s: String) -> IPAddress { IPAddress(s)! }

    @Test func namedTablesAsOdysseyHasThem() throws {
        var ts = RouteTables()
        let red = try ts.create(name: "red", type: "ip")
        let blue = try ts.create(name: "blue")
        #expect(ts.id(named: "red") == red && ts.id(named: "blue") == blue && ts.id(named: "green") == nil)
        #expect(throws: RouteTables.Failure.exists("red")) { try ts.create(name: "red") }
        #expect(throws: RouteTables.Failure.unknownType("dns")) { try ts.create(name: "names", type: "dns") }
        #expect(throws: RouteTables.Failure.badName("a b")) { try ts.create(name: "a b") }
        try ts.table(red)!.add(p("198.18.0.0/15"), channel: 1)
        try ts.table(blue)!.add(p("198.18.0.0/16"), channel: 2)
        #expect(ts["red"]!.lookup(a("198.19.0.1")) == 1 && ts["blue"]!.lookup(a("198.19.0.1")) == nil)
        #expect(ts.destroy(red) && !ts.destroy(red))
        #expect(ts.id(named: "red") == nil && ts.names == ["blue"])
        // The freed id is reused.
        #expect(try ts.create(name: "green") == red)
    }

    @Test func bothFamiliesInOneTable() throws {
        let t = RouteTable(name: "t")
        try t.add(p("0.0.0.0/0"), channel: 9)
        try t.add(p("198.18.1.0/24"), channel: 1)
        try t.add(p("fd00:19::/64"), channel: 2)
        #expect(t.lookup(a("198.18.1.7")) == 1 && t.lookup(a("8.8.8.8")) == 9)
        #expect(t.lookup(a("fd00:19::2")) == 2 && t.lookup(a("fd00:20::2")) == nil)
        #expect(t.count == 3)
        #expect(t.entries.map { "\($0.prefix) \($0.channel)" } == ["0.0.0.0/0 9", "198.18.1.0/24 1", "fd00:19::/64 2"])
        #expect(try t.delete(p("198.18.1.0/24")) == 1 && t.lookup(a("198.18.1.7")) == 9)
        #expect(try t.delete(p("fd00:19::/64")) == 2 && t.delete(p("fd00:19::/64")) == nil)
    }

    @Test func batchDeleteTakesBothFamiliesAndSkipsWhatIsNotThere() throws {
        let t = RouteTable(name: "t")
        try t.add(contentsOf: [(p("198.18.0.0/15"), 1), (p("198.18.1.0/24"), 2), (p("fd00:19::/64"), 3), (p("0.0.0.0/0"), 4)])
        try t.delete(contentsOf: [p("198.18.1.0/24"), p("fd00:19::/64"), p("10.0.0.0/8")])
        #expect(t.entries.map { "\($0.prefix) \($0.channel)" } == ["0.0.0.0/0 4", "198.18.0.0/15 1"])
        #expect(t.lookup(a("198.18.1.7")) == 1 && t.lookup(a("fd00:19::1")) == nil)
    }

    @Test func packetsAreLookedUpByTheirDestination() throws {
        let t = RouteTable(name: "t")
        try t.add(p("198.18.1.0/24"), channel: 1)
        try t.add(p("fd00:19::/64"), channel: 2)
        let v4 = frame(.udp4(from: IPv4Address(198, 18, 0, 1), to: IPv4Address(198, 18, 1, 2), sourcePort: 1, destinationPort: 2))
        let v6 = frame(FrameSpec(network: .ipv6(FrameSpec.IPv6Spec(source: IPv6Address("fd00:18::1")!, destination: IPv6Address("fd00:19::2")!)),
                                 transport: .udp(source: 1, destination: 2)))
        var tagged = FrameSpec.udp4(from: IPv4Address(198, 18, 0, 1), to: IPv4Address(198, 18, 1, 2), sourcePort: 1, destinationPort: 2)
        tagged.vlanTags = [10, 20]
        #expect(v4.withUnsafeBytes { t.lookup(frame: $0) } == 1)
        #expect(v6.withUnsafeBytes { t.lookup(frame: $0) } == 2)
        #expect(frame(tagged).withUnsafeBytes { t.lookup(frame: $0) } == 1)
        // Every cut of a frame short of its destination address: no route, no crash.
        for f in [v4, v6, frame(tagged)] {
            let need = f.withUnsafeBytes { RouteTable.destination(in: $0)! }
            for n in 0..<(need.1 + (need.0 == 4 ? 4 : 16)) where n < 14 + (need.0 == 4 ? 20 : 40) {
                #expect(Array(f.prefix(n)).withUnsafeBytes { t.lookup(frame: $0) } == -1, "cut at \(n)")
            }
        }
        // ARP is not routed.
        var arp = v4
        arp[12] = 0x08; arp[13] = 0x06
        #expect(arp.withUnsafeBytes { t.lookup(frame: $0) } == -1)
    }
}

@Suite struct RouteFileTests {
    @Test func routesAndLookupsParse() throws {
        let r = try RouteFile.routes("""
        # comment
        198.18.0.0/15 gw-a
        fd00::/8\tgw-b   # trailing comment
        198.18.0.1 host\r
        \r
        0.0.0.0/0 default
        """, file: "r.txt")
        #expect(r.map { "\($0.prefix) \($0.nextHop)" } == ["198.18.0.0/15 gw-a", "fd00::/8 gw-b", "198.18.0.1/32 host", "0.0.0.0/0 default"])
        let l = try RouteFile.addresses("198.18.0.1\r\nfd00::1\n\n", file: "l.txt")
        #expect(l == [IPAddress("198.18.0.1")!, IPAddress("fd00::1")!])
    }

    @Test(arguments: [
        ("198.18.0.0/15 a\n198.18.0.0/33 b", "r:2:1: '198.18.0.0/33' is not an IPv4 or IPv6 prefix"),
        ("  10.0.0.0/8", "r:1:13: a next hop must follow the prefix"),
        ("10.0.0.0/8 a b", "r:1:14: unexpected 'b' after the next hop"),
        ("x/8 a", "r:1:1: 'x/8' is not an IPv4 or IPv6 prefix"),
        ("fd00::/129 a", "r:1:1: 'fd00::/129' is not an IPv4 or IPv6 prefix"),
    ])
    func malformedRoutesNameLineAndColumn(text: String, message: String) {
        #expect { try RouteFile.routes(text, file: "r") } throws: { ($0 as? TextInputError)?.description == message }
    }

    @Test func malformedLookupsNameLineAndColumn() {
        #expect { try RouteFile.addresses("198.18.0.1\n 198.18.0.256", file: "l") } throws: {
            ($0 as? TextInputError)?.description == "l:2:2: '198.18.0.256' is not an IPv4 or IPv6 address"
        }
        #expect { try RouteFile.addresses("198.18.0.1 x", file: "l") } throws: {
            ($0 as? TextInputError)?.description == "l:1:12: unexpected 'x' after the address"
        }
    }
}
