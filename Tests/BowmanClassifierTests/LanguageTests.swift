import BowmanClassifier
import BowmanCore
import BowmanPacket
import BowmanTestSupport
import Testing

func match(_ c: Classifier, _ f: [UInt8]) -> Int { f.withUnsafeBytes { c.match($0) } }

@Suite struct ProtocolLanguageTests {
    /// The seed's ethernet definition and defines, verbatim.
    @Test func seedProtocolTextParses() throws {
        var r = ProtocolRegistry()
        try r.add("""
        (protocol ethernet
            (field proto offset 12 length 2)
            (field src offset 6 length 6)
            (field dst offset 0 length 6)
            (hdr_len 14)
        )

        (define\tETHERTYPE_PUP\t\t0x0200) ;\t/* PUP protocol */
        (define\tETHERTYPE_IP\t\t0x0800) ;\t/* IP protocol */
        (define\tethertype_ip\t\t0x0800) ;\t/* ip protocol */
        (define\tETHERTYPE_ARP\t\t0x0806) ;\t/* Addr. resolution protocol */
        (define\tETHERTYPE_REVARP\t0x8035) ;\t/* Reverse ARP */
        (define\tETHERTYPE_TRAIL\t\t0x1000) ;\t/* Trailer packet */
        (define\tETHERTYPE_NTRAILER\t16)     ;
        """)
        #expect(r.protocols["ethernet"]?.field(named: "proto") == .init(name: "proto", offset: 12, length: 2))
        #expect(r.protocols["ethernet"]?.headerLength == .fixed(14))
        #expect(r.defines["ETHERTYPE_IP"] == 0x0800 && r.defines["ETHERTYPE_NTRAILER"] == 16)
    }

    @Test func standardRegistryHasTheUsualProtocols() {
        let r = ProtocolRegistry.standard()
        for p in ["ethernet", "vlan", "arp", "ip", "ipv6", "ipv6opt", "ipv6route", "ipv6frag", "ah", "icmp", "icmpv6", "igmp", "udp", "tcp"] {
            #expect(r.protocols[p] != nil, "\(p)")
        }
        #expect(r.defines["IPPROTO_UDP"] == 17 && r.defines["ETHERTYPE_IPV6"] == 0x86DD)
    }

    /// A computed length with an addend: IPv6 extension headers are (len + 1) * 8 bytes.
    @Test func computedLengthWithAddend() throws {
        var r = ProtocolRegistry()
        try r.add("(protocol ext (field next offset 0 length 1) (field len offset 1 length 1) (hdr_len (len + 1) * 8))")
        let len = ProtocolDefinition.Field(name: "len", offset: 1, length: 1)
        #expect(r.protocols["ext"]?.headerLength == .computed(field: len, mask: .max, shiftRight: 0, multiplier: 8, addend: 1))
        #expect(throws: ClassifierError.self) { try r.add("(protocol bad (field len offset 1 length 1) (hdr_len (len + ) * 8))") }
    }

    /// Malformed definitions are refused with line and column, and nothing
    /// of the text is learned (all or nothing).
    @Test(arguments: [
        ("(protocol foo (field a offset 0 length 2))", "line 1, column 11: protocol 'foo' has no hdr_len"),
        ("(protocol foo\n  (field a offset 12 length 2)\n  (hdr_len 4))", "line 3, column 4: field 'a' (offset 12, length 2) ends beyond hdr_len 4 of 'foo'"),
        ("(protocol foo (field a offset 0 length 17) (hdr_len 20))", "line 1, column 40: field 'a' has length 17; lengths are 1 to 16 bytes"),
        ("(define X)", "line 1, column 10: expected a value, found ')'"),
        ("(define X 12\n", "line 2, column 1: expected ')' closing the define, found the end of the text"),
        ("(protocl foo)", "line 1, column 2: expected 'protocol' or 'define', found 'protocl'"),
        ("(define Y NOPE)", "line 1, column 11: 'NOPE' is not a number or a defined name"),
        ("(protocol foo (field a offset 0 length 2) (field a offset 2 length 2) (hdr_len 4))", "line 1, column 50: field 'a' is defined twice in 'foo'"),
        ("(protocol foo (field a offset 0 length 2) (hdr_len (b & 0x0f) * 4))", "line 1, column 53: hdr_len uses field 'b', not (yet) defined in 'foo'"),
        ("(define Z 1) $", "line 1, column 14: unexpected character '$'"),
    ])
    func malformedDefinitions(_ text: String, _ message: String) {
        var r = ProtocolRegistry.standard()
        let before = r
        do {
            try r.add(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description == message)
        }
        #expect(r == before)
    }
}

@Suite struct FilterLanguageTests {
    /// The seed's two-rule example: the UDP packet from port 124 matches
    /// rule 1 (three predicates), every other IP packet rule 0.
    @Test func seedTwoRuleExample() throws {
        var c = Classifier()
        try c.addFilter("[ ethernet (proto = ETHERTYPE_IP) | *]", demuxID: 0)
        try c.addFilter("[ ethernet (proto = ETHERTYPE_IP) | ip (proto = IPPROTO_UDP) | \n   udp (sport = 124) | *]", demuxID: 1)
        #expect(match(c, udp(sport: 124)) == 1)
        #expect(match(c, udp(sport: 125)) == 0)
        let tcp = frame(FrameSpec(network: .ipv4(.init(source: IPv4Address(1, 2, 3, 4), destination: IPv4Address(5, 6, 7, 8))),
                                  transport: .tcp(source: 124, destination: 80, sequence: 1, acknowledgment: 0, flags: 2, window: 1)))
        #expect(match(c, tcp) == 0)
        let v6 = frame(.udp6(from: IPv6Address("fd00::1")!, to: IPv6Address("fd00::2")!, sourcePort: 124))
        #expect(match(c, v6) == Classifier.noMatch)
    }

    @Test func mostPredicatesTieGoesToTheFirstAdded() throws {
        var c = Classifier()
        let a = try c.addFilter("[ ethernet | ip (proto = 17) | udp (dport = 9) | * ]", demuxID: 7)
        try c.addFilter("[ ethernet | ip (proto = 17) | udp (sport = 1024) | * ]", demuxID: 8)
        #expect(match(c, udp(sport: 1024)) == 7)   // both have 2 predicates: filter 0 wins
        try c.deleteFilter(a, demuxID: 7)
        #expect(match(c, udp(sport: 1024)) == 8)
    }

    @Test func firstMatchPolicyUsesPriority() throws {
        var c = Classifier(policy: .firstMatch)
        try c.addFilter("[ ethernet | ip (proto = 17) | udp (dport = 9) | * ]", demuxID: 1, priority: 10)
        try c.addFilter("[ ethernet (proto = ETHERTYPE_IP) | * ]", demuxID: 2, priority: 5)
        #expect(match(c, udp(sport: 1)) == 2)
    }

    /// Beyond Odyssey: IPv4 options (the IHL gives the header length), masks,
    /// prefixes, ranges, several predicates on one header, IPv6 addresses.
    @Test func extensions() throws {
        var c = Classifier()
        try c.addFilter("[ ethernet (proto = 0x0800) | ip (src = 198.18.0.0/15) (proto = IPPROTO_UDP) | udp (dport in 1024..65535) | * ]", demuxID: 1)
        try c.addFilter("[ ethernet (proto = ETHERTYPE_IP) | ip (tos & 0xfc = 0xb8) | * ]", demuxID: 2)
        try c.addFilter("[ ethernet (proto = ETHERTYPE_IPV6) | ipv6 (dst = fd00:19::/64) (proto = 17) | udp (sport = 7) | * ]", demuxID: 3)
        #expect(match(c, udp(sport: 5, dport: 5000)) == 1)
        #expect(match(c, udp(sport: 5, dport: 80)) == Classifier.noMatch)
        #expect(match(c, udp(sport: 5, dport: 5000, src: IPv4Address(10, 0, 0, 1))) == Classifier.noMatch)
        var ef = FrameSpec.IPv4Spec(source: IPv4Address(10, 0, 0, 1), destination: IPv4Address(10, 0, 0, 2))
        ef.tos = 0xB9
        #expect(match(c, frame(FrameSpec(network: .ipv4(ef), transport: .udp(source: 1, destination: 2)))) == 2)
        let v6 = frame(.udp6(from: IPv6Address("fd00:18::1")!, to: IPv6Address("fd00:19::42")!, sourcePort: 7))
        #expect(match(c, v6) == 3)
        // With IPv4 options the UDP header moves; the computed hdr_len follows it.
        var opt = FrameSpec.IPv4Spec(source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(198, 18, 1, 2))
        opt.options = [1, 1, 1, 1, 1, 1, 1, 1]
        #expect(match(c, frame(FrameSpec(network: .ipv4(opt), transport: .udp(source: 5, destination: 4000)))) == 1)
        // VLAN: skip the tag as its own header.
        var d = Classifier()
        try d.addFilter("[ ethernet (proto = ETHERTYPE_VLAN) | vlan (vid & 0x0fff = 100) (proto = ETHERTYPE_IP) | ip | udp (dport = 9) | * ]", demuxID: 4)
        #expect(match(d, frame(FrameSpec(vlanTags: [100], network: .ipv4(.init(source: IPv4Address(1, 1, 1, 1), destination: IPv4Address(2, 2, 2, 2))),
                                         transport: .udp(source: 1, destination: 9)))) == 4)
        // TCP's computed header length (data offset).
        var e = Classifier()
        try e.addFilter("[ ethernet | ip (proto = IPPROTO_TCP) | tcp (flags & TH_SYN = TH_SYN) (dport = 22) | * ]", demuxID: 5)
        let syn = frame(FrameSpec(network: .ipv4(.init(source: IPv4Address(1, 1, 1, 1), destination: IPv4Address(2, 2, 2, 2))),
                                  transport: .tcp(source: 40000, destination: 22, sequence: 1, acknowledgment: 0, flags: 0x02, window: 1)))
        #expect(match(e, syn) == 5)
    }

    /// Bad filters are refused with line and column; the classifier keeps its rules.
    @Test(arguments: [
        ("[ ethernet (proto = ETHERTYPE_IP) ]", "line 1, column 35: expected '|' after the predicates of 'ethernet' (a filter ends with '| *')"),
        ("[ ethrnet | * ]", "line 1, column 3: unknown protocol 'ethrnet' (known: ah, arp, ethernet, icmp, icmpv6, igmp, ip, ipv6, ipv6frag, ipv6opt, ipv6route, tcp, udp, vlan)"),
        ("[ ethernet (protocol = 1) | * ]", "line 1, column 13: protocol 'ethernet' has no field 'protocol' (known: dst, src, proto)"),
        ("[ ethernet (proto = 0x10000) | * ]", "line 1, column 21: value 0x10000 is wider than field 'proto' (2 bytes)"),
        ("[ ethernet | ip (src = 10.0.0.0/33) | * ]", "line 1, column 33: prefix length '33' does not fit field 'src' (32 bits)"),
        ("[ ethernet | udp (dport in 10..5) | * ]", "line 1, column 28: empty range 10..5"),
        ("[ ethernet | udp (dport in 1..70000) | * ]", "line 1, column 31: value 70000 is wider than field 'dport' (2 bytes)"),
        ("[ ethernet | ip (ttl = UNKNOWN_NAME) | * ]", "line 1, column 24: 'UNKNOWN_NAME' is not a number, address or defined name"),
        ("ethernet | *", "line 1, column 1: expected '[' starting the filter, found 'ethernet'"),
        ("[ ethernet | * ] extra", "line 1, column 18: unexpected 'extra' after the filter"),
        ("[ ethernet |\n  ip (proto 17) | * ]", "line 2, column 13: expected '=' or 'in', found '17'"),
    ])
    func badFilters(_ text: String, _ message: String) throws {
        var c = Classifier()
        try c.addFilter("[ ethernet | * ]", demuxID: 1)
        let before = c.rules
        do {
            try c.addFilter(text, demuxID: 2)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description == message)
        }
        #expect(c.rules == before)
    }

    @Test func deleteNeedsTheRightDemuxID() throws {
        var c = Classifier()
        let id = try c.addFilter("[ ethernet | * ]", demuxID: 3)
        #expect(throws: ClassifierError.self) { try c.deleteFilter(id, demuxID: 4) }
        #expect(c.rules.count == 1)
        try c.deleteFilter(id, demuxID: 3)
        #expect(c.rules.isEmpty)
        #expect(throws: ClassifierError.self) { try c.deleteFilter(id, demuxID: 3) }
        #expect(throws: ClassifierError.self) { try c.addFilter("[ ethernet | * ]", demuxID: -2) }
    }

    @Test func teachAProtocolAtRunTime() throws {
        var c = Classifier()
        try c.addProtocol("(protocol vxlan (field flags offset 0 length 1) (field vni offset 4 length 3) (hdr_len 8)) (define VXLAN_PORT 4789)")
        try c.addFilter("[ ethernet | ip | udp (dport = VXLAN_PORT) | vxlan (vni = 42) | * ]", demuxID: 9)
        let pkt = frame(FrameSpec(network: .ipv4(.init(source: IPv4Address(1, 1, 1, 1), destination: IPv4Address(2, 2, 2, 2))),
                                  transport: .udp(source: 1, destination: 4789), payload: [0x08, 0, 0, 0, 0, 0, 42, 0]))
        #expect(match(c, pkt) == 9)
    }

    /// Filters on the 5-tuple agree with Bowman's own parser on random
    /// packets and random rules (prefixes, ranges, protocols).
    @Test func agreesWithThePacketParserOnRandomTraffic() throws {
        var rng = SeededRandom(seed: 2024)
        for _ in 0..<200 {
            let plen = Int.random(in: 0...32, using: &rng)
            let net = IPv4Address(rawValue: UInt32.random(in: 0...UInt32.max, using: &rng) & (plen == 0 ? 0 : ~0 << (32 - plen)))
            let lo = UInt16.random(in: 0...65535, using: &rng), hi = UInt16.random(in: lo...65535, using: &rng)
            let proto = [6, 17][Int.random(in: 0...1, using: &rng)]
            let l4 = proto == 6 ? "tcp" : "udp"
            var c = Classifier()
            try c.addFilter("[ ethernet (proto = ETHERTYPE_IP) | ip (src = \(net)/\(plen)) (proto = \(proto)) | \(l4) (dport in \(lo)..\(hi)) | * ]", demuxID: 1)
            for _ in 0..<200 {
                let src = Bool.random(using: &rng) ? IPv4Address(rawValue: net.rawValue | UInt32.random(in: 0...255, using: &rng))
                                                   : IPv4Address(rawValue: UInt32.random(in: 0...UInt32.max, using: &rng))
                let dport = UInt16.random(in: 0...65535, using: &rng)
                let isTCP = Bool.random(using: &rng)
                var v4 = FrameSpec.IPv4Spec(source: src, destination: IPv4Address(9, 9, 9, 9))
                if Int.random(in: 0..<4, using: &rng) == 0 { v4.options = [1, 1, 1, 1] }
                let f = frame(FrameSpec(network: .ipv4(v4),
                                        transport: isTCP ? .tcp(source: 1, destination: dport, sequence: 0, acknowledgment: 0, flags: 2, window: 1)
                                                         : .udp(source: 1, destination: dport)))
                var m = PacketMetadata()
                f.withUnsafeBytes { p in _ = try? PacketParser.parse(ethernet: p, into: &m) }
                let expected = IPPrefix(address: .v4(net), length: plen)!.contains(.v4(IPv4Address(rawValue: UInt32(m.srcLow))))
                    && Int(m.l4Protocol) == proto && (lo...hi).contains(m.dstPort)
                #expect((match(c, f) == 1) == expected)
            }
        }
    }
}
