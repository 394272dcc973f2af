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
            if m.flags.contains(.ipv4Options) { notes.append("options") }
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
            if doff > 20, let e = validateTCPOptions(p, l4, doff) { s.error = s.error ?? e }
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

    /// TCP options: kinds 0 (EOL) and 1 (NOP) are one byte; others carry a length ≥ 2 inside the header.
    static func validateTCPOptions(_ p: UnsafeRawBufferPointer, _ l4: Int, _ doff: Int) -> ParseError? {
        var o = l4 + 20
        let end = l4 + doff
        while o < end {
            let kind = p[o]
            if kind == 0 { return nil }
            if kind == 1 { o += 1; continue }
            guard end - o >= 2, p[o + 1] >= 2, end - o >= Int(p[o + 1]) else {
                return ParseError(.tcpOptions, .badOption(offset: o), at: l4)
            }
            o += Int(p[o + 1])
        }
        return nil
    }

    static func describeARP(_ p: UnsafeRawBufferPointer, _ m: PacketMetadata, _ s: inout Summary) -> String {
        let o = Int(m.l3Offset)
        guard s.error == nil, p.count - o >= 28, p[o + 4] == 6, p[o + 5] == 4 else {
            return s.error == nil && p.count - o >= 8 ? "ARP htype \(be16(p, o)) ptype 0x\(hex(be16(p, o + 2), width: 4))" : "ARP"
        }
        let op = be16(p, o + 6)
        let sha = MACAddress(loadingFrom: p, at: o + 8), spa = IPv4Address(loadingFrom: p, at: o + 14)
        let tpa = IPv4Address(loadingFrom: p, at: o + 24)
        switch op {
        case 1: return "ARP, Request who-has \(tpa) tell \(spa)"
        case 2: return "ARP, Reply \(spa) is-at \(sha)"
        default: return "ARP, op \(op)"
        }
    }

    static func describeIGMP(_ p: UnsafeRawBufferPointer, _ l4: Int, _ end: Int, _ s: inout Summary) -> String {
        let type = p[l4]
        let group = IPv4Address(loadingFrom: p, at: l4 + 4)
        let len = end - l4
        switch type {
        case 0x11:
            if len >= 12 {
                let n = Int(be16(p, l4 + 10))
                if len < 12 + 4 * n { s.error = s.error ?? ParseError(.igmp, .truncated(needed: 12 + 4 * n, available: len), at: l4) }
                return "IGMP v3 query \(group), \(n) source\(n == 1 ? "" : "s")"
            }
            return p[l4 + 1] == 0 ? "IGMP v1 query" : "IGMP v2 query \(group)"
        case 0x12: return "IGMP v1 report \(group)"
        case 0x16: return "IGMP v2 report \(group)"
        case 0x17: return "IGMP leave \(group)"
        case 0x22:
            let records = Int(be16(p, l4 + 6))
            var o = l4 + 8
            for _ in 0..<records {
                guard end - o >= 8 else {
                    s.error = s.error ?? ParseError(.igmp, .truncated(needed: o + 8 - l4, available: len), at: l4)
                    break
                }
                let size = 8 + Int(p[o + 1]) * 4 + Int(be16(p, o + 2)) * 4
                guard end - o >= size else {
                    s.error = s.error ?? ParseError(.igmp, .truncated(needed: o + size - l4, available: len), at: l4)
                    break
                }
                o += size
            }
            return "IGMP v3 report, \(records) group record\(records == 1 ? "" : "s")"
        default: return "IGMP type 0x\(hex(type, width: 2))"
        }
    }

    static func describeICMPv6(_ p: UnsafeRawBufferPointer, _ l4: Int, _ end: Int, _ s: inout Summary) -> String {
        let type = p[l4], code = p[l4 + 1]
        let len = end - l4
        func need(_ n: Int, _ layer: ParseError.Layer) -> Bool {
            if len >= n { return true }
            s.error = s.error ?? ParseError(layer, .truncated(needed: n, available: len), at: l4)
            return false
        }
        func ndOptions(from start: Int) {
            var o = start
            while o < end {
                guard end - o >= 2, p[o + 1] != 0, end - o >= Int(p[o + 1]) * 8 else {
                    s.error = s.error ?? ParseError(.neighborDiscovery, .badOption(offset: o), at: l4)
                    return
                }
                o += Int(p[o + 1]) * 8
            }
        }
        switch type {
        case 1: return "ICMP6, destination unreachable code \(code), length \(len)"
        case 2: return need(8, .icmpv6) ? "ICMP6, packet too big, mtu \(PacketParser.be32(p, l4 + 4)), length \(len)" : "ICMP6, packet too big"
        case 3: return "ICMP6, time exceeded code \(code), length \(len)"
        case 4: return "ICMP6, parameter problem code \(code), length \(len)"
        case 128, 129:
            guard need(8, .icmpv6) else { return "ICMP6, echo" }
            return "ICMP6, echo \(type == 128 ? "request" : "reply"), id \(be16(p, l4 + 4)), seq \(be16(p, l4 + 6)), length \(len)"
        case 130:
            guard need(24, .mld) else { return "ICMP6, multicast listener query" }
            let group = IPv6Address(loadingFrom: p, at: l4 + 8)
            if len >= 28 {
                let n = Int(be16(p, l4 + 26))
                _ = need(28 + 16 * n, .mld)
                return "ICMP6, multicast listener query v2 \(group), \(n) source\(n == 1 ? "" : "s")"
            }
            return "ICMP6, multicast listener query v1 \(group)"
        case 131, 132:
            guard need(24, .mld) else { return "ICMP6, multicast listener \(type == 131 ? "report" : "done")" }
            return "ICMP6, multicast listener \(type == 131 ? "report" : "done") \(IPv6Address(loadingFrom: p, at: l4 + 8))"
        case 143:
            guard need(8, .mld) else { return "ICMP6, multicast listener report v2" }
            let records = Int(be16(p, l4 + 6))
            var o = l4 + 8
            for _ in 0..<records {
                guard end - o >= 20 else { _ = need(o + 20 - l4, .mld); break }
                let size = 20 + Int(p[o + 1]) * 4 + Int(be16(p, o + 2)) * 16
                guard end - o >= size else { _ = need(o + size - l4, .mld); break }
                o += size
            }
            return "ICMP6, multicast listener report v2, \(records) group record\(records == 1 ? "" : "s")"
        case 133:
            guard need(8, .neighborDiscovery) else { return "ICMP6, router solicitation" }
            ndOptions(from: l4 + 8)
            return "ICMP6, router solicitation, length \(len)"
        case 134:
            guard need(16, .neighborDiscovery) else { return "ICMP6, router advertisement" }
            ndOptions(from: l4 + 16)
            return "ICMP6, router advertisement, lifetime \(be16(p, l4 + 6))s, length \(len)"
        case 135, 136:
            let name = type == 135 ? "neighbor solicitation" : "neighbor advertisement"
            guard need(24, .neighborDiscovery) else { return "ICMP6, \(name)" }
            ndOptions(from: l4 + 24)
            return "ICMP6, \(name), \(type == 135 ? "who has" : "tgt is") \(IPv6Address(loadingFrom: p, at: l4 + 8)), length \(len)"
        case 137:
            guard need(40, .neighborDiscovery) else { return "ICMP6, redirect" }
            ndOptions(from: l4 + 40)
            return "ICMP6, redirect \(IPv6Address(loadingFrom: p, at: l4 + 24)) to \(IPv6Address(loadingFrom: p, at: l4 + 8)), length \(len)"
        default:
            return "ICMP6, type \(type) code \(code), length \(len)"
        }
    }
}
