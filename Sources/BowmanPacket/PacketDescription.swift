import BowmanCore

/// Human-readable one-line summaries of packets, in the spirit of
/// `tcpdump -nn`: layers, addresses, ports, VLANs, lengths, checksum
/// verdicts, and the parse error when there is one. Cold path (it builds
/// strings); the data path uses `PacketParser` directly.
public enum PacketDescription {
    /// Everything `describe` found, for tests and tools.
    public struct Summary: Sendable {
        public var metadata = PacketMetadata()
        public var text = ""
        /// The first problem found, at any layer (header parse or message body).
        public var error: ParseError?
        public var ipChecksum: Checksum.Verdict = .unverifiable
        public var transportChecksum: Checksum.Verdict = .unverifiable
        public var hasBadChecksum: Bool { ipChecksum.isBad || transportChecksum.isBad }
    }

    public static func describe(_ p: UnsafeRawBufferPointer, linkType: LinkType, wireLength: Int? = nil) -> Summary {
        var s = Summary()
        var parts: [String] = []
        do throws(ParseError) {
            try PacketParser.parse(p, linkType: linkType, into: &s.metadata)
        } catch {
            s.error = error
        }
        let m = s.metadata
        if linkType == .ethernet, p.count >= 14 {
            let src = MACAddress(loadingFrom: p, at: 6), dst = MACAddress(loadingFrom: p, at: 0)
            parts.append("\(src) > \(dst)")
            if m.vlanCount > 0 { parts.append("vlan \(m.vlanTCI.0 & 0xFFF) p \(m.vlanTCI.0 >> 13)") }
            if m.vlanCount > 1 { parts.append("vlan \(m.vlanTCI.1 & 0xFFF) p \(m.vlanTCI.1 >> 13)") }
            if m.flags.contains(.llc) { parts.append("llc") }
        } else if linkType != .ethernet {
            parts.append(linkType.description)
        }
        if m.mplsLabelCount > 0 { parts.append("mpls \(m.mplsLabelCount) label\(m.mplsLabelCount == 1 ? "" : "s")") }

        var body = ""
        switch m.etherType {
        case EtherType.ipv4 where m.ipVersion == 4: body = describeIP(p, &s, v6: false)
        case EtherType.ipv6 where m.ipVersion == 6: body = describeIP(p, &s, v6: true)
        case EtherType.arp: body = describeARP(p, m, &s)
        case 0 where m.flags.contains(.llc): body = ""
        case 0: body = ""
        case EtherType.ipv4: body = "IP"
        case EtherType.ipv6: body = "IP6"
        default: body = "ethertype 0x\(hex(m.etherType, width: 4))"
        }
        if !body.isEmpty { parts.append(body) }
        let captured = p.count
        parts.append("length \(wireLength ?? captured)")
        var text = parts.joined(separator: ", ")
        if let w = wireLength, w > captured { text += " (captured \(captured))" }
        if let e = s.error { text += " [error: \(e)]" }
        s.text = text
        return s
    }

    static func hex<T: BinaryInteger>(_ v: T, width: Int) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - h.count)) + h
    }

    static func address(_ m: PacketMetadata, source: Bool) -> String {
        if m.ipVersion == 4 {
            return IPv4Address(rawValue: UInt32(truncatingIfNeeded: source ? m.srcLow : m.dstLow)).description
        }
        return (source ? IPv6Address(high: m.srcHigh, low: m.srcLow) : IPv6Address(high: m.dstHigh, low: m.dstLow)).description
    }

    static func be16(_ p: UnsafeRawBufferPointer, _ o: Int) -> UInt16 { PacketParser.be16(p, o) }

    static func describeIP(_ p: UnsafeRawBufferPointer, _ s: inout Summary, v6: Bool) -> String {
        let m = s.metadata
        var out = v6 ? "IP6" : "IP"
        var notes: [String] = []
        if !v6 {
            s.ipChecksum = Checksum.verifyIPv4Header(p, m)
            if s.ipChecksum.isBad { notes.append("bad ip cksum \(s.ipChecksum)") }
            if m.flags.contains(.ipv4Options) {
                notes.append("options")
                if let ip = try? IPv4Header(p, at: Int(m.l3Offset)) {
                    do throws(ParseError) { _ = try ip.options() } catch { s.error = s.error ?? error }
                }
            }
        }
        notes.append("\(v6 ? "hlim" : "ttl") \(m.ttl)")
        if m.flags.contains(.fragment) { notes.append(m.flags.contains(.laterFragment) ? "fragment (later)" : "fragment (first)") }
        if m.extensionHeaderCount > 0 { notes.append("\(m.extensionHeaderCount) ext hdr") }
        if m.pseudoSourceOffset != 0 {
            notes.append("homeaddr \(IPv6Address(loadingFrom: p, at: Int(m.pseudoSourceOffset)))")
        }
        if m.pseudoDestinationOffset != 0 {
            notes.append("final-dst \(IPv6Address(loadingFrom: p, at: Int(m.pseudoDestinationOffset)))")
        }
        let src = address(m, source: true), dst = address(m, source: false)
        let hasL4 = m.flags.contains(.hasL4)
        let l4 = Int(m.l4Offset), end = Int(m.l3End)
        let segment = end - l4
        s.transportChecksum = hasL4 ? Checksum.verifyTransport(p, m) : .unverifiable
        let ck = s.transportChecksum
        switch m.l4Protocol {
        case IPProtocol.udp where hasL4:
            out += " \(src).\(m.srcPort) > \(dst).\(m.dstPort): UDP, length \(max(0, Int(be16(p, l4 + 4)) - 8))"
        case IPProtocol.tcp where hasL4:
            let doff = Int(p[l4 + 12] >> 4) * 4
            out += " \(src).\(m.srcPort) > \(dst).\(m.dstPort): Flags [\(tcpFlags(m.tcpFlags))], seq \(PacketParser.be32(p, l4 + 4))"
            if m.tcpFlags & 0x10 != 0 { out += ", ack \(PacketParser.be32(p, l4 + 8))" }
            out += ", win \(be16(p, l4 + 14)), length \(max(0, segment - doff))"
            if doff > 20, let tcp = try? TCPHeader(p, at: l4) {
                do throws(ParseError) { _ = try tcp.options() } catch { s.error = s.error ?? error }
            }
        case IPProtocol.icmp where hasL4:
            out += " \(src) > \(dst): ICMP \(icmpName(type: p[l4], code: p[l4 + 1]))"
            if p[l4] == 0 || p[l4] == 8 { out += ", id \(be16(p, l4 + 4)), seq \(be16(p, l4 + 6))" }
            out += ", length \(segment)"
        case IPProtocol.icmpv6 where hasL4:
            out += " \(src) > \(dst): " + describeICMPv6(p, l4, end, &s)
        case IPProtocol.igmp where hasL4:
            out += " \(src) > \(dst): " + describeIGMP(p, l4, end, &s)
        case IPProtocol.mobility where hasL4:
            out += " \(src) > \(dst): mobility header type \(p[l4 + 2])"
        default:
            let name = protocolName(m.l4Protocol)
            out += " \(src) > \(dst): \(name)"
            if segment >= 0 { out += ", length \(segment)" }
        }
        switch ck {
        case .bad: notes.append("bad \(protocolName(m.l4Protocol).lowercased()) cksum \(ck)")
        case .good: notes.append("\(protocolName(m.l4Protocol).lowercased()) cksum ok")
        default: break
        }
        return out + " (" + notes.joined(separator: ", ") + ")"
    }

    static func tcpFlags(_ f: UInt8) -> String {
        var s = ""
        if f & 0x02 != 0 { s += "S" }
        if f & 0x01 != 0 { s += "F" }
        if f & 0x04 != 0 { s += "R" }
        if f & 0x08 != 0 { s += "P" }
        if f & 0x20 != 0 { s += "U" }
        if f & 0x40 != 0 { s += "E" }
        if f & 0x80 != 0 { s += "W" }
        if f & 0x10 != 0 { s += "." }
        return s.isEmpty ? "none" : s
    }

    static func protocolName(_ p: UInt8) -> String {
        switch p {
        case IPProtocol.udp: "UDP"
        case IPProtocol.tcp: "TCP"
        case IPProtocol.icmp: "ICMP"
        case IPProtocol.icmpv6: "ICMP6"
        case IPProtocol.igmp: "IGMP"
        case IPProtocol.ipInIP: "IP-in-IP"
        case IPProtocol.ipv6: "IPv6-in-IP"
        case IPProtocol.gre: "GRE"
        case IPProtocol.esp: "ESP"
        case IPProtocol.ah: "AH"
        case IPProtocol.pim: "PIM"
        case IPProtocol.sctp: "SCTP"
        case IPProtocol.mobility: "MH"
        case IPProtocol.noNextHeader: "no-next-header"
        case IPProtocol.fragment: "frag"
        default: "ip-proto-\(p)"
        }
    }

    static func icmpName(type: UInt8, code: UInt8) -> String {
        switch type {
        case 0: "echo reply"
        case 3: "unreachable code \(code)"
        case 5: "redirect"
        case 8: "echo request"
        case 11: "time exceeded"
        case 12: "parameter problem"
        default: "type \(type) code \(code)"
        }
    }

    static func describeARP(_ p: UnsafeRawBufferPointer, _ m: PacketMetadata, _ s: inout Summary) -> String {
        guard let arp = try? ARPHeader(p, at: Int(m.l3Offset)) else { return "ARP" }
        guard arp.isEthernetIPv4, let spa = arp.senderIP, let tpa = arp.targetIP, let sha = arp.senderMAC else {
            return "ARP htype \(arp.hardwareType) ptype 0x\(hex(arp.protocolType, width: 4))"
        }
        switch arp.operation {
        case 1: return "ARP, Request who-has \(tpa) tell \(spa)"
        case 2: return "ARP, Reply \(spa) is-at \(sha)"
        default: return "ARP, op \(arp.operation)"
        }
    }

    static func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }

    static func describeIGMP(_ p: UnsafeRawBufferPointer, _ l4: Int, _ end: Int, _ s: inout Summary) -> String {
        do throws(ParseError) {
            switch try IGMPMessage(p, at: l4, length: end - l4).kind {
            case .queryV1: return "IGMP v1 query"
            case .queryV2(let g, _): return "IGMP v2 query \(g)"
            case .queryV3(let g, _, _, _, let src): return "IGMP v3 query \(g), \(plural(src.count, "source"))"
            case .reportV1(let g): return "IGMP v1 report \(g)"
            case .reportV2(let g): return "IGMP v2 report \(g)"
            case .leave(let g): return "IGMP leave \(g)"
            case .reportV3(let r): return "IGMP v3 report, \(plural(r.count, "group record"))"
            case .other(let t): return "IGMP type 0x\(hex(t, width: 2))"
            }
        } catch {
            s.error = s.error ?? error
            return "IGMP type 0x\(hex(p[l4], width: 2))"
        }
    }

    static func describeICMPv6(_ p: UnsafeRawBufferPointer, _ l4: Int, _ end: Int, _ s: inout Summary) -> String {
        let len = end - l4
        let msg: ICMPv6Message
        do throws(ParseError) { msg = try ICMPv6Message(p, at: l4, length: len) } catch {
            s.error = s.error ?? error
            return "ICMP6, " + icmpv6Name(p[l4]) + ", length \(len)"
        }
        switch msg.body {
        case .echoRequest(let id, let seq), .echoReply(let id, let seq):
            return "ICMP6, \(icmpv6Name(msg.type)), id \(id), seq \(seq), length \(len)"
        case .routerAdvertisement(_, let lifetime, _, _, _):
            return "ICMP6, router advertisement, lifetime \(lifetime)s, length \(len)"
        case .neighborSolicitation(let t, _): return "ICMP6, neighbor solicitation, who has \(t), length \(len)"
        case .neighborAdvertisement(let t, _, _, _, _): return "ICMP6, neighbor advertisement, tgt is \(t), length \(len)"
        case .redirect(let t, let d, _): return "ICMP6, redirect \(d) to \(t), length \(len)"
        case .mldQueryV1(let g, _): return "ICMP6, multicast listener query v1 \(g)"
        case .mldQueryV2(let g, _, let src): return "ICMP6, multicast listener query v2 \(g), \(plural(src.count, "source"))"
        case .mldReportV1(let g): return "ICMP6, multicast listener report \(g)"
        case .mldDone(let g): return "ICMP6, multicast listener done \(g)"
        case .mldReportV2(let r): return "ICMP6, multicast listener report v2, \(plural(r.count, "group record"))"
        case .routerSolicitation, .other:
            let codeText = msg.type < 5 ? " code \(msg.code)" : ""
            return "ICMP6, \(icmpv6Name(msg.type))\(codeText), length \(len)"
        }
    }

    static func icmpv6Name(_ t: UInt8) -> String {
        switch t {
        case 1: "destination unreachable"
        case 2: "packet too big"
        case 3: "time exceeded"
        case 4: "parameter problem"
        case 128: "echo request"
        case 129: "echo reply"
        case 130: "multicast listener query"
        case 131: "multicast listener report"
        case 132: "multicast listener done"
        case 133: "router solicitation"
        case 134: "router advertisement"
        case 135: "neighbor solicitation"
        case 136: "neighbor advertisement"
        case 137: "redirect"
        case 143: "multicast listener report v2"
        default: "type \(t)"
        }
    }
}
