import BowmanCore
import BowmanPacket
import BowmanTestSupport
import Testing

private func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
private func bytes(_ a: IPv4Address) -> [UInt8] { [UInt8(a.rawValue >> 24), UInt8(a.rawValue >> 16 & 0xFF), UInt8(a.rawValue >> 8 & 0xFF), UInt8(a.rawValue & 0xFF)] }
private func bytes(_ a: IPv6Address) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: a.high >> (56 - 8 * $0)) } + (0..<8).map { UInt8(truncatingIfNeeded: a.low >> (56 - 8 * $0)) }
}

/// Builds a frame, parses it, and hands the bytes and metadata to `body`.
@discardableResult
private func withFrame<R>(_ spec: FrameSpec, _ body: (UnsafeRawBufferPointer, PacketMetadata) throws -> R) throws -> R {
    let f = try PacketBuilder.bytes(spec)
    var m = PacketMetadata()
    return try f.withUnsafeBytes { p in
        do throws(ParseError) { try PacketParser.parse(ethernet: p, into: &m) } catch { Issue.record("\(error)") }
        return try body(p, m)
    }
}

let h1 = IPv4Address(10, 0, 0, 1), g1 = IPv4Address(239, 1, 2, 3)
let ll = IPv6Address("fe80::1")!, mg = IPv6Address("ff02::16")!, grp = IPv6Address("ff05::101")!

@Suite struct HeaderViewTests {
    @Test func ethernetVLANAndIPv4() throws {
        var v4 = FrameSpec.IPv4Spec(source: h1, destination: g1, ttl: 9)
        v4.identification = 77; v4.dontFragment = true; v4.tos = 0x28
        v4.options = [7, 7, 4, 0, 0, 0, 0]   // record route, one empty slot
        let spec = FrameSpec(vlanTags: [0x6005], network: .ipv4(v4), transport: .udp(source: 5, destination: 6))
        try withFrame(spec) { p, m in
            let eth = try EthernetHeader(p)
            #expect(eth.source == spec.source && eth.destination == spec.destination && eth.etherType == EtherType.vlan)
            let tag = try VLANTag(p, at: 14)
            #expect(tag.vlanID == 5 && tag.priority == 3 && !tag.dropEligible && tag.etherType == EtherType.ipv4)
            let ip = try IPv4Header(p, at: Int(m.l3Offset))
            #expect(ip.ttl == 9 && ip.identification == 77 && ip.dontFragment && !ip.isFragment && ip.tos == 0x28)
            #expect(ip.source == h1 && ip.destination == g1 && ip.protocol == IPProtocol.udp && ip.isChecksumValid)
            let opts = try ip.options()
            #expect(opts.count == 1 && opts[0].type == 7 && opts[0].dataLength == 5)
            let udp = try UDPHeader(p, at: Int(m.l4Offset))
            #expect(udp.sourcePort == 5 && udp.destinationPort == 6 && udp.length == 8)
        }
    }

    @Test func badIPv4OptionLength() throws {
        var v4 = FrameSpec.IPv4Spec(source: h1, destination: g1)
        v4.options = [7, 9, 4, 0]   // length 9 runs past a 24-byte header
        try withFrame(FrameSpec(network: .ipv4(v4), transport: .udp(source: 1, destination: 2))) { p, _ in
            #expect(throws: ParseError(.ipv4Options, .badOption(offset: 34), at: 14)) { try IPv4Header(p, at: 14).options() }
        }
    }

    @Test func tcpOptions() throws {
        var f = try PacketBuilder.bytes(FrameSpec(network: .ipv4(.init(source: h1, destination: g1)),
                                                  transport: .tcp(source: 1, destination: 2, sequence: 9, acknowledgment: 0, flags: TCPHeader.syn, window: 100),
                                                  payload: [2, 4, 5, 0xB4, 1, 1, 4, 2]))
        f[46] = 7 << 4   // data offset 28: the "payload" becomes MSS, NOP, NOP, SACK-permitted
        try f.withUnsafeBytes { p in
            let t = try TCPHeader(p, at: 34)
            #expect(t.headerLength == 28 && t.sequenceNumber == 9 && t.flags == TCPHeader.syn)
            let o = try t.options()
            #expect(o.map(\.kind) == [2, 4])
        }
        f[61] = 0   // SACK-permitted with length 0
        _ = f.withUnsafeBytes { p in
            #expect(throws: ParseError(.tcpOptions, .badOption(offset: 60), at: 34)) { try TCPHeader(p, at: 34).options() }
        }
    }

    @Test func arp() throws {
        let spec = FrameSpec(network: .arp(operation: 1, senderMAC: MACAddress(2, 0, 0, 0, 0, 9), senderIP: h1,
                                           targetMAC: .zero, targetIP: IPv4Address(10, 0, 0, 2)))
        try withFrame(spec) { p, _ in
            let a = try ARPHeader(p, at: 14)
            #expect(a.isEthernetIPv4 && a.operation == 1 && a.senderIP == h1 && a.targetIP == IPv4Address(10, 0, 0, 2))
            #expect(a.senderMAC == MACAddress(2, 0, 0, 0, 0, 9))
            #expect(throws: ParseError.self) { try ARPHeader(UnsafeRawBufferPointer(rebasing: p[0..<30]), at: 14) }
        }
    }

    static func igmp(_ type: UInt8, _ maxResp: UInt8, _ group: IPv4Address, _ extra: [UInt8] = []) -> FrameSpec {
        FrameSpec(network: .ipv4(.init(source: h1, destination: group, ttl: 1)),
                  transport: .igmp(type: type, maxResponse: maxResp, group: group, extra: extra))
    }

    @Test(arguments: [
        (igmp(0x11, 0, .init(rawValue: 0)), IGMPMessage.Kind.queryV1),
        (igmp(0x11, 100, g1), .queryV2(group: g1, maxResponseTenths: 100)),
        (igmp(0x11, 10, g1, [0x0A, 125] + be16(2) + bytes(h1) + bytes(IPv4Address(10, 0, 0, 2))),
         .queryV3(group: g1, maxResponseCode: 10, suppressRouterSide: true, robustness: 2, sources: [h1, IPv4Address(10, 0, 0, 2)])),
        (igmp(0x12, 0, g1), .reportV1(group: g1)),
        (igmp(0x16, 0, g1), .reportV2(group: g1)),
        (igmp(0x17, 0, g1), .leave(group: g1)),
        (igmp(0x22, 0, .init(rawValue: 0)), .reportV3(records: [])),
    ])
    func igmpKinds(_ spec: FrameSpec, _ expected: IGMPMessage.Kind) throws {
        try withFrame(spec) { p, m in
            let msg = try IGMPMessage(p, at: Int(m.l4Offset), length: Int(m.l3End - m.l4Offset))
            #expect(msg.kind == expected)
            #expect(Checksum.verifyTransport(p, m) == .good)
        }
    }

    @Test func igmpV3ReportRecordsAndTruncation() throws {
        // The 8-byte v3 report header is [type, 0, cksum, 0, 0, n records]: the builder's
        // "group" field carries reserved + record count.
        let record: [UInt8] = [1, 0] + be16(1) + bytes(g1) + bytes(h1)
        let spec = Self.igmp(0x22, 0, IPv4Address(rawValue: 2), record + record)
        try withFrame(spec) { p, m in
            let msg = try IGMPMessage(p, at: Int(m.l4Offset), length: Int(m.l3End - m.l4Offset))
            #expect(msg.kind == .reportV3(records: Array(repeating: .init(type: 1, group: g1, sources: [h1], auxDataWords: 0), count: 2)))
        }
        let short = Self.igmp(0x22, 0, IPv4Address(rawValue: 3), record + record)
        try withFrame(short) { p, m in
            #expect(throws: ParseError(.igmp, .truncated(needed: 40, available: 32), at: 34)) {
                try IGMPMessage(p, at: Int(m.l4Offset), length: Int(m.l3End - m.l4Offset))
            }
        }
        try withFrame(Self.igmp(0x11, 1, g1, [0, 0])) { p, m in
            #expect(throws: ParseError(.igmp, .badLength(10), at: 34)) { try IGMPMessage(p, at: 34, length: Int(m.l3End - m.l4Offset)) }
        }
    }

    static func icmp6(_ type: UInt8, _ body: [UInt8], to dst: IPv6Address = mg) -> FrameSpec {
        FrameSpec(network: .ipv6(.init(source: ll, destination: dst, hopLimit: 255)), transport: .icmp(type: type, code: 0, body: body))
    }

    @Test func neighborDiscovery() throws {
        let target = IPv6Address("fe80::2")!
        let slla: [UInt8] = [1, 1, 2, 0, 0, 0, 0, 7]
        try withFrame(Self.icmp6(135, [0, 0, 0, 0] + bytes(target) + slla, to: target)) { p, m in
            let msg = try ICMPv6Message(p, at: Int(m.l4Offset), length: Int(m.l3End - m.l4Offset))
            guard case .neighborSolicitation(let t, let opts) = msg.body else { Issue.record("\(msg)"); return }
            #expect(t == target && opts.count == 1 && opts[0].linkLayerAddress == MACAddress(2, 0, 0, 0, 0, 7))
            #expect(Checksum.verifyTransport(p, m) == .good)
        }
        try withFrame(Self.icmp6(136, [0xE0, 0, 0, 0] + bytes(target))) { p, m in
            let msg = try ICMPv6Message(p, at: Int(m.l4Offset), length: Int(m.l3End - m.l4Offset))
            #expect(msg.body == .neighborAdvertisement(target: target, router: true, solicited: true, override: true, options: []))
        }
        // RFC 4861 §4.6: an option of length 0 is invalid.
        try withFrame(Self.icmp6(135, [0, 0, 0, 0] + bytes(target) + [1, 0, 0, 0, 0, 0, 0, 0])) { p, m in
            #expect(throws: ParseError(.neighborDiscovery, .badOption(offset: 78), at: 54)) {
                try ICMPv6Message(p, at: Int(m.l4Offset), length: Int(m.l3End - m.l4Offset))
            }
        }
    }

    @Test func multicastListenerDiscovery() throws {
        try withFrame(Self.icmp6(130, [0, 10, 0, 0] + bytes(grp))) { p, m in
            let body = try ICMPv6Message(p, at: 54, length: Int(m.l3End) - 54).body
            #expect(body == .mldQueryV1(group: grp, maxDelay: 10))
        }
        try withFrame(Self.icmp6(130, [0, 10, 0, 0] + bytes(grp) + [2, 125] + be16(1) + bytes(ll))) { p, m in
            let body = try ICMPv6Message(p, at: 54, length: Int(m.l3End) - 54).body
            #expect(body == .mldQueryV2(group: grp, maxResponseCode: 10, sources: [ll]))
        }
        try withFrame(Self.icmp6(130, [0, 10, 0, 0] + bytes(grp) + [2, 0])) { p, m in
            #expect(throws: ParseError(.mld, .badLength(26), at: 54)) { try ICMPv6Message(p, at: 54, length: Int(m.l3End) - 54) }
        }
        let record: [UInt8] = [4, 0] + be16(0) + bytes(grp)
        try withFrame(Self.icmp6(143, [0, 0] + be16(2) + record + record)) { p, m in
            let body = try ICMPv6Message(p, at: 54, length: Int(m.l3End) - 54).body
            #expect(body == .mldReportV2(records: Array(repeating: .init(type: 4, group: grp, sources: [], auxDataWords: 0), count: 2)))
            #expect(Checksum.verifyTransport(p, m) == .good)
        }
        try withFrame(Self.icmp6(131, [0, 0, 0, 0] + bytes(grp))) { p, m in
            let body = try ICMPv6Message(p, at: 54, length: Int(m.l3End) - 54).body
            #expect(body == .mldReportV1(group: grp))
        }
    }

    @Test func ipv6ExtensionWalk() throws {
        var v6 = FrameSpec.IPv6Spec(source: ll, destination: grp)
        v6.extensionHeaders = [.hopByHop(options: [5, 2, 0, 0]), .routing(type: 0, segmentsLeft: 1, addresses: [ll]),
                               .fragment(offset: 0, more: true, identification: 1)]
        try withFrame(FrameSpec(network: .ipv6(v6), transport: .udp(source: 1, destination: 2))) { p, _ in
            let ip = try IPv6Header(p, at: 14)
            let (hdrs, upper, off) = try ip.extensionHeaders()
            #expect(hdrs.map(\.type) == [IPProtocol.hopByHop, IPProtocol.routing, IPProtocol.fragment])
            #expect(hdrs[1].segmentsLeft == 1 && hdrs[2].moreFragments == true && hdrs[2].fragmentOffset == 0)
            #expect(upper == IPProtocol.udp && off == 54 + 8 + 24 + 8)
            #expect(ip.source == ll && ip.hopLimit == 64)
        }
    }

    /// Every cut inside a message's fixed part or a declared record is a
    /// typed error (a cut at an option boundary can leave a valid message).
    @Test func viewsRefuseTruncation() throws {
        let cases: [(FrameSpec, Int, Int)] = [   // spec, L4 offset, bytes that must be present
            (Self.icmp6(135, [0, 0, 0, 0] + bytes(ll) + [1, 1, 2, 0, 0, 0, 0, 7]), 54, 24),
            (Self.igmp(0x16, 0, g1), 34, 8),
            (Self.icmp6(143, [0, 0] + be16(1) + [4, 0] + be16(0) + bytes(grp)), 54, 28),
        ]
        for (spec, l4, minimum) in cases {
            let full = try PacketBuilder.bytes(spec)
            for cut in 0..<full.count {
                let b = Array(full[0..<cut])
                b.withUnsafeBytes { p in
                    let ok: Bool
                    if case .igmp = spec.transport {
                        ok = (try? IGMPMessage(p, at: l4, length: cut - l4)) != nil
                    } else {
                        ok = (try? ICMPv6Message(p, at: l4, length: cut - l4)) != nil
                    }
                    if cut - l4 < minimum { #expect(!ok, "cut \(cut)") }
                    _ = try? IPv4Header(p, at: 14); _ = try? IPv6Header(p, at: 14); _ = try? EthernetHeader(p)
                    _ = try? TCPHeader(p, at: l4); _ = try? UDPHeader(p, at: l4); _ = try? ARPHeader(p, at: 14)
                }
            }
        }
    }
}
