import BowmanCore
import BowmanPacket
import BowmanTestSupport
import Testing

func parse(_ bytes: [UInt8], linkType: LinkType = .ethernet) -> (PacketMetadata, ParseError?) {
    var m = PacketMetadata()
    var err: ParseError?
    bytes.withUnsafeBytes { p in
        do throws(ParseError) { try PacketParser.parse(p, linkType: linkType, into: &m) } catch { err = error }
    }
    return (m, err)
}

@Suite struct PacketParserTests {
    @Test func udp4FiveTuple() throws {
        let f = try PacketBuilder.bytes(.udp4(from: IPv4Address("198.18.0.1")!, to: IPv4Address("198.18.0.2")!,
                                              sourcePort: 1024, destinationPort: 9, frameLength: 64))
        #expect(f.count == 64)
        let (m, e) = parse(f)
        #expect(e == nil)
        #expect(m.ipVersion == 4 && m.l4Protocol == IPProtocol.udp)
        #expect(m.srcLow == 0xC612_0001 && m.dstLow == 0xC612_0002)
        #expect(m.srcPort == 1024 && m.dstPort == 9)
        #expect(m.l3Offset == 14 && m.l4Offset == 34 && m.l3End == 64)
        #expect(m.flags.contains(.hasL4))
        f.withUnsafeBytes { p in
            #expect(Checksum.verifyIPv4Header(p, m) == .good)
            #expect(Checksum.verifyTransport(p, m) == .good)
        }
    }

    /// Build → parse agrees with the spec on random frames, and every
    /// checksum the builder wrote verifies.
    @Test func randomFramesRoundTrip() throws {
        var rng = SeededRandom(seed: 0xB0A)
        for _ in 0..<3000 {
            let spec = RandomFrames.spec(&rng)
            let bytes = try PacketBuilder.bytes(spec)
            let (m, e) = parse(bytes)
            #expect(e == nil, "\(spec)")
            #expect(Int(m.vlanCount) == spec.vlanTags.count)
            if let t = spec.vlanTags.first { #expect(m.vlanTCI.0 == t) }
            switch spec.network {
            case .ipv4(let v4):
                #expect(m.ipVersion == 4 && m.srcLow == UInt64(v4.source.rawValue) && m.dstLow == UInt64(v4.destination.rawValue))
                #expect(m.ttl == v4.ttl && m.tos == v4.tos)
                #expect(m.flags.contains(.ipv4Options) == !v4.options.isEmpty)
            case .ipv6(let v6):
                #expect(m.ipVersion == 6 && m.srcHigh == v6.source.high && m.srcLow == v6.source.low)
                #expect(Int(m.extensionHeaderCount) == v6.extensionHeaders.count)
                #expect(m.ttl == v6.hopLimit)
            default: Issue.record("unexpected network")
            }
            switch spec.transport {
            case .udp(let s, let d), .tcp(let s, let d, _, _, _, _):
                #expect(m.srcPort == s && m.dstPort == d && m.flags.contains(.hasL4))
            case .echo, .icmp, .igmp: #expect(m.flags.contains(.hasL4))
            case .none(let p): #expect(m.l4Protocol == p && !m.flags.contains(.hasL4))
            }
            #expect(Int(m.l3End) == bytes.count)
            bytes.withUnsafeBytes { p in
                if m.ipVersion == 4 { #expect(Checksum.verifyIPv4Header(p, m) == .good) }
                if m.flags.contains(.hasL4) { #expect(Checksum.verifyTransport(p, m) == .good, "\(spec)") }
            }
        }
    }

    /// Every prefix of a valid frame either parses (when the headers are
    /// whole: then the datagram is flagged truncated) or fails with a
    /// truncation error located at or before the cut.
    @Test func everyTruncationIsATypedError() throws {
        var rng = SeededRandom(seed: 42)
        for _ in 0..<300 {
            let spec = RandomFrames.spec(&rng)
            let bytes = try PacketBuilder.bytes(spec)
            let (full, _) = parse(bytes)
            // ICMPv6's fixed part is 4 bytes (type, code, checksum); the rest is per message.
            let l4Length = full.l4Protocol == IPProtocol.icmpv6 ? 4 : PacketBuilder.transportHeaderLength(spec.transport)
            let headersEnd = Int(full.l4Offset) + l4Length
            for cut in 0..<bytes.count {
                let (m, e) = parse(Array(bytes[0..<cut]))
                if cut < headersEnd {
                    let err = try #require(e, "cut \(cut) of \(bytes.count) parsed: \(spec)")
                    #expect(err.isTruncation, "\(err)")
                    #expect(err.offset <= cut)
                } else {
                    #expect(e == nil, "cut \(cut): \(String(describing: e))")
                    #expect(m.flags.contains(.truncatedL3))
                    #expect(m.srcPort == full.srcPort && m.dstPort == full.dstPort)
                }
            }
        }
    }

    static let v4 = FrameSpec.udp4(from: IPv4Address(10, 0, 0, 1), to: IPv4Address(10, 0, 0, 2), frameLength: 64)

    /// Hand-broken frames (bytes patched at offsets) and the exact error each must produce.
    @Test(arguments: [
        ("IPv4 version 5", [(14, 0x55)], ParseError(.ipv4, .badVersion(5), at: 14)),
        ("IPv4 IHL 4", [(14, 0x44)], ParseError(.ipv4, .badHeaderLength(16), at: 14)),
        ("IPv4 IHL past capture", [(14, 0x4F)], ParseError(.ipv4, .truncated(needed: 60, available: 50), at: 14)),
        ("IPv4 total < IHL", [(16, 0), (17, 10)], ParseError(.ipv4, .badLength(10), at: 14)),
        ("UDP length 7", [(38, 0), (39, 7)], ParseError(.udp, .badLength(7), at: 34)),
        ("UDP length past datagram", [(38, 0x10), (39, 0)], ParseError(.udp, .badLength(4096), at: 34)),
    ] as [(String, [(Int, UInt8)], ParseError)])
    func malformedIPv4(_ name: String, _ patches: [(Int, UInt8)], _ expected: ParseError) throws {
        var b = try PacketBuilder.bytes(Self.v4)
        for (o, v) in patches { b[o] = v }
        let (_, e) = parse(b)
        #expect(e == expected, "\(name)")
    }

    @Test func tcpDataOffsetBelowFive() throws {
        var b = try PacketBuilder.bytes(FrameSpec(network: .ipv4(.init(source: IPv4Address(1, 1, 1, 1), destination: IPv4Address(2, 2, 2, 2))),
                                                  transport: .tcp(source: 1, destination: 2, sequence: 0, acknowledgment: 0, flags: 2, window: 1)))
        b[46] = 0x40
        #expect(parse(b).1 == ParseError(.tcp, .badHeaderLength(16), at: 34))
    }

    @Test func threeVLANTagsAreRefused() throws {
        var b = try PacketBuilder.bytes(FrameSpec(vlanTags: [1, 2], network: .none(etherType: EtherType.vlan), payload: [0, 3, 0x08, 0]))
        b += [UInt8](repeating: 0, count: 40)
        #expect(parse(b).1 == ParseError(.vlan, .tooManyVLANTags, at: 22))
    }

    @Test func ipv6BadOptionAndTooManyHeaders() throws {
        let src = IPv6Address("fd00::1")!, dst = IPv6Address("fd00::2")!
        var v6 = FrameSpec.IPv6Spec(source: src, destination: dst)
        v6.extensionHeaders = [.hopByHop(options: [5, 9, 0, 0])]   // option length 9 runs past the header
        let bad = try PacketBuilder.bytes(FrameSpec(network: .ipv6(v6), transport: .udp(source: 1, destination: 2)))
        #expect(parse(bad).1 == ParseError(.ipv6Extension, .badOption(offset: 56), at: 54))

        v6.extensionHeaders = Array(repeating: .destinationOptions(options: []), count: 9)
        let many = try PacketBuilder.bytes(FrameSpec(network: .ipv6(v6), transport: .udp(source: 1, destination: 2)))
        #expect(parse(many).1 == ParseError(.ipv6Extension, .tooManyExtensionHeaders, at: 54 + 8 * 8))
    }

    @Test func ipv6FragmentsAndPseudoHeaderAddresses() throws {
        let src = IPv6Address("fd00::1")!, dst = IPv6Address("fd00::2")!, final = IPv6Address("fd00::ff")!
        var v6 = FrameSpec.IPv6Spec(source: src, destination: dst)
        v6.extensionHeaders = [.routing(type: 0, segmentsLeft: 1, addresses: [final])]
        let routed = try PacketBuilder.bytes(FrameSpec(network: .ipv6(v6), transport: .udp(source: 5, destination: 6), payload: [1, 2, 3]))
        let (m, e) = parse(routed)
        #expect(e == nil)
        #expect(m.pseudoDestinationOffset == 54 + 8)
        routed.withUnsafeBytes { #expect(Checksum.verifyTransport($0, m) == .good) }

        v6.extensionHeaders = [.fragment(offset: 100, more: false, identification: 7)]
        let later = try PacketBuilder.bytes(FrameSpec(network: .ipv6(v6), transport: .none(protocol: IPProtocol.udp), payload: [1, 2]))
        let (lm, le) = parse(later)
        #expect(le == nil)
        #expect(lm.flags.contains(.laterFragment) && !lm.flags.contains(.hasL4) && lm.l4Protocol == IPProtocol.udp)
    }

    @Test func ipv4LaterFragmentHasNoTransport() throws {
        var s = FrameSpec.IPv4Spec(source: IPv4Address(1, 2, 3, 4), destination: IPv4Address(5, 6, 7, 8))
        s.fragmentOffset = 185
        let b = try PacketBuilder.bytes(FrameSpec(network: .ipv4(s), transport: .none(protocol: IPProtocol.tcp), payload: [1]))
        let (m, e) = parse(b)
        #expect(e == nil && m.flags.contains(.laterFragment) && !m.flags.contains(.hasL4))
    }

    @Test func otherLinkTypes() throws {
        let eth = try PacketBuilder.bytes(Self.v4)
        let ip = Array(eth[14...])
        for lt in [LinkType.raw, .ipv4, .rawDLT12] {
            let (m, e) = parse(ip, linkType: lt)
            #expect(e == nil && m.dstPort == 9 && m.l3Offset == 0)
        }
        let null = [2, 0, 0, 0] + ip   // BSD loopback, family AF_INET in host (little-endian) order
        #expect(parse(null, linkType: .null).0.dstPort == 9)
        let loop = [0, 0, 0, 2] + ip
        #expect(parse(loop, linkType: .loop).0.dstPort == 9)
        var sll = [UInt8](repeating: 0, count: 16); sll[14] = 0x08
        #expect(parse(sll + ip, linkType: .linuxSLL).0.dstPort == 9)
        #expect(parse(ip, linkType: LinkType(147)).1 == ParseError(.link, .unsupportedLinkType(147), at: 0))
    }

    @Test func snapAndMPLS() throws {
        let eth = try PacketBuilder.bytes(Self.v4)
        let ip = Array(eth[14...])
        let snap = Array(eth[0..<12]) + [0, UInt8(ip.count + 8), 0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00] + ip
        let (sm, se) = parse(snap)
        #expect(se == nil && sm.flags.contains(.llc) && sm.dstPort == 9)
        let mpls = Array(eth[0..<12]) + [0x88, 0x47, 0, 0x01, 0x00, 64, 0, 0x02, 0x01, 64] + ip
        let (mm, me) = parse(mpls)
        #expect(me == nil && mm.mplsLabelCount == 2 && mm.dstPort == 9)
        let endless = Array(eth[0..<12]) + [0x88, 0x47] + [UInt8](repeating: 0, count: 40)
        #expect(parse(endless).1 == ParseError(.mpls, .tooManyLabels, at: 14 + 32))
    }

    /// Random bytes never trap the parser or the describer.
    @Test func randomBytesNeverTrap() {
        var rng = SeededRandom(seed: 99)
        let base = (try? PacketBuilder.bytes(Self.v4)) ?? []
        for i in 0..<50_000 {
            var b: [UInt8]
            if i % 2 == 0 {
                b = (0..<Int.random(in: 0...120, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                b = base   // a valid frame with a few random bytes changed
                for _ in 0..<Int.random(in: 1...6, using: &rng) { b[Int.random(in: 0..<b.count, using: &rng)] = .random(in: 0...255, using: &rng) }
                b = Array(b[0..<Int.random(in: 0...b.count, using: &rng)])
            }
            let lt = [LinkType.ethernet, .raw, .linuxSLL, .null][i % 4]
            _ = parse(b, linkType: lt)
            _ = b.withUnsafeBytes { PacketDescription.describe($0, linkType: lt).text }
        }
    }
}
