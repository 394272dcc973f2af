import BowmanCore
import Testing

@Suite struct AddressTests {
    @Test(arguments: ["198.18.0.1", "0.0.0.0", "255.255.255.255", "10.1.2.3"])
    func ipv4RoundTrip(_ text: String) throws {
        let a = try #require(IPv4Address(text))
        #expect(a.description == text)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "a.b.c.d", " 1.2.3.4", "1.2.3.-4"])
    func ipv4Rejects(_ text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test(arguments: [
        ("fd00::1", "fd00::1"), ("FD00:0:0:0:0:0:0:1", "fd00::1"), ("::", "::"), ("::1", "::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("2001:db8::ffff:198.18.0.1", "2001:db8::ffff:c612:1"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("fe80::", "fe80::"), ("1:0:2::", "1:0:2::"),
    ])
    func ipv6Canonical(_ input: String, _ expected: String) throws {
        let a = try #require(IPv6Address(input))
        #expect(a.description == expected)
        #expect(IPv6Address(a.description) == a)
    }

    @Test(arguments: ["", ":", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "g::1", "1:2:3:4:5:6:7::8", "::1.2.3"])
    func ipv6Rejects(_ text: String) {
        #expect(IPv6Address(text) == nil)
    }

    @Test func macParsing() throws {
        let m = try #require(MACAddress("02:00:5e:10:00:ff"))
        #expect(m.description == "02:00:5e:10:00:ff")
        #expect(!m.isMulticast)
        #expect(MACAddress.broadcast.isMulticast && MACAddress.broadcast.isBroadcast)
        #expect(MACAddress("02:00:5e:10:00") == nil)
        #expect(MACAddress("02:00:5e:10:00:zz") == nil)
    }

    @Test(arguments: [
        ("198.18.77.1/15", "198.18.0.0/15"), ("fd00:1::5/8", "fd00::/8"), ("10.0.0.1", "10.0.0.1/32"),
        ("0.0.0.0/0", "0.0.0.0/0"), ("2001:db8::1/127", "2001:db8::/127"),
    ])
    func prefixes(_ input: String, _ expected: String) throws {
        let p = try #require(IPPrefix(input))
        #expect(p.description == expected)
    }

    @Test func prefixContainment() throws {
        let p = try #require(IPPrefix("198.18.0.0/15"))
        #expect(p.contains(IPAddress("198.19.255.255")!))
        #expect(!p.contains(IPAddress("198.20.0.0")!))
        #expect(!p.contains(IPAddress("fd00::1")!))
        #expect(IPPrefix("1.2.3.4/33") == nil)
        #expect(IPPrefix("fd00::/129") == nil)
        #expect(IPPrefix("1.2.3.4/") == nil)
    }
}
