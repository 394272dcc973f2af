import BowmanCore
import BowmanPacket
import BowmanTestSupport
import Testing

/// ICMP and ICMPv6 errors built on bytes: back to the sender's MAC and
/// address, checksums that verify, the offending packet quoted (up to 576
/// or 1280 bytes), and no error where RFC 1812 / RFC 4443 forbid one.
@Suite struct ICMPErrorsTests {
    static let host = MACAddress(2, 0, 0, 0, 0, 1), router = MACAddress(2, 0, 0, 0, 0, 0xAA)
    static let me4 = IPAddress("198.18.0.2")!, me6 = IPAddress("fd00:18::2")!

    func v4(_ payload: Int = 4, ttl: UInt8 = 1, dst: String = "198.18.1.2", fragment: UInt16 = 0, vlan: [UInt16] = [],
            transport: FrameSpec.Transport = .udp(source: 1000, destination: 9)) -> [UInt8] {
        var ip = FrameSpec.IPv4Spec(source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(dst)!, ttl: ttl)
        ip.fragmentOffset = fragment
        return frame(FrameSpec(source: Self.host, destination: Self.router, vlanTags: vlan, network: .ipv4(ip), transport: transport,
                               payload: [UInt8](repeating: 0x5A, count: payload)))
    }

    func v6(_ payload: Int = 4, dst: String = "fd00:19::2", transport: FrameSpec.Transport = .udp(source: 1000, destination: 9)) -> [UInt8] {
        frame(FrameSpec(source: Self.host, destination: Self.router,
                        network: .ipv6(.init(source: IPv6Address("fd00:18::1")!, destination: IPv6Address(dst)!, hopLimit: 1)),
                        transport: transport, payload: [UInt8](repeating: 0x5A, count: payload)))
    }

    func error(_ f: [UInt8], _ k: ICMPErrors.Kind, from me: IPAddress? = nil) throws(ICMPErrors.Refusal) -> [UInt8] {
        let source = me ?? (f.count > 12 && f[12] == 0x86 ? Self.me6 : Self.me4)
        let r: Result<[UInt8], ICMPErrors.Refusal> = f.withUnsafeBytes { p in
            do throws(ICMPErrors.Refusal) { return .success(try ICMPErrors.frame(about: p, kind: k, source: source, mac: Self.router)) } catch { return .failure(error) }
        }
        return try r.get()
    }

    func parsed(_ f: [UInt8]) -> PacketMetadata? {
        f.withUnsafeBytes { p in
            var m = PacketMetadata()
            guard (try? PacketParser.parse(ethernet: p, into: &m)) != nil else { return nil }
            if m.ipVersion == 4 { guard Checksum.verifyIPv4Header(p, m) == .good else { return nil } }
            guard Checksum.verifyTransport(p, m) == .good else { return nil }
            return m
        }
    }

    @Test func everyKindForIPv4() throws {
        for (k, tc) in [(ICMPErrors.Kind.timeExceeded, [11, 0]), (.noRoute, [3, 0]), (.hostUnreachable, [3, 1]), (.prohibited, [3, 13])] {
            let f = v4()
            let e = try error(f, k)
            let m = try #require(parsed(e), "\(k): checksums")
            #expect(Array(e[0..<6]) == Self.host.octets && Array(e[6..<12]) == Self.router.octets)
            #expect(Array(e[26..<30]) == [198, 18, 0, 2] && Array(e[30..<34]) == [198, 18, 0, 1] && e[22] == 64 && e[23] == 1)
            #expect(Int(m.l4Offset) == 34 && [e[34], e[35]] == tc.map(UInt8.init))
            #expect(Array(e[42...]) == Array(f[14...]), "the whole packet is quoted")
        }
    }

    @Test func everyKindForIPv6() throws {
        for (k, tc) in [(ICMPErrors.Kind.timeExceeded, [3, 0]), (.noRoute, [1, 0]), (.hostUnreachable, [1, 3]), (.prohibited, [1, 1])] {
            let f = v6()
            let e = try error(f, k)
            _ = try #require(parsed(e), "\(k): checksum with the pseudo-header")
            #expect(Array(e[0..<6]) == Self.host.octets && e[20] == 58 && e[21] == 64)
            #expect(Array(e[38..<54]) == Array(f[22..<38]), "to the sender")
            #expect([e[54], e[55]] == tc.map(UInt8.init))
            #expect(Array(e[62...]) == Array(f[14...]))
        }
    }

    @Test func quotesAreBounded() throws {
        let e4 = try error(v4(1400), .timeExceeded)
        #expect(e4.count == 14 + 576 && parsed(e4) != nil)
        let e6 = try error(v6(1400), .timeExceeded)
        #expect(e6.count == 14 + 1280 && parsed(e6) != nil)
        // Ethernet padding of a short frame is not quoted.
        var short = v4(0)
        short += [0, 0, 0, 0]
        #expect(try error(short, .noRoute).count == 14 + 20 + 8 + 28)
    }

    @Test func vlanTagsAreKept() throws {
        let e = try error(v4(vlan: [42]), .noRoute)
        #expect(Array(e[12..<18]) == [0x81, 0x00, 0x00, 42, 0x08, 0x00])
        #expect(parsed(e) != nil)
    }

    @Test func refusedWhereTheRFCsSayNo() {
        func refusal(_ f: [UInt8], from me: IPAddress? = nil) -> ICMPErrors.Refusal? {
            do { _ = try error(f, .noRoute, from: me); return nil } catch { return error }
        }
        #expect(refusal(v4(transport: .icmp(type: 3, code: 1, body: [0, 0, 0, 0]))) == .aboutAnICMPError)
        #expect(refusal(v4(transport: .icmp(type: 11, code: 0, body: [0, 0, 0, 0]))) == .aboutAnICMPError)
        #expect(refusal(v4(transport: .echo(identifier: 1, sequence: 1, reply: false))) == nil, "an echo request gets its error")
        #expect(refusal(v6(transport: .icmp(type: 1, code: 0, body: [0, 0, 0, 0]))) == .aboutAnICMPError)
        #expect(refusal(v6(transport: .echo(identifier: 1, sequence: 1, reply: false))) == nil)
        #expect(refusal(v4(fragment: 10)) == .notTheFirstFragment)
        #expect(refusal(v4(dst: "224.0.0.5")) == .multicastOrBroadcast)
        #expect(refusal(v4(dst: "255.255.255.255")) == .multicastOrBroadcast)
        #expect(refusal(v6(dst: "ff02::1")) == .multicastOrBroadcast)
        #expect(refusal(v4(), from: Self.me6) == .badSource)
        let f = v4()
        for cut in [0, 10, 14, 20, 33] { #expect(refusal(Array(f[0..<cut])) == .truncated, "cut at \(cut)") }
        let arp = Array(f[0..<12]) + [0x08, 0x06] + [UInt8](repeating: 0, count: 28)
        #expect(refusal(arp) == .notIP)
    }
}
