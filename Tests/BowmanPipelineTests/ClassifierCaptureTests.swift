import BowmanClassifier
import BowmanCore
import BowmanIO
import BowmanPacket
import BowmanTestSupport
import Testing

/// The classifier's compiled forms against the reference on real traffic:
/// every Ethernet packet of every capture in shared/testdata/pcap, against
/// rules drawn from those packets' own addresses and ports (so many match),
/// IPv4 and IPv6, plus the protocol-level filters of the seed.
@Suite struct ClassifierCaptureTests {
    static func ethernetPackets() -> [[UInt8]] {
        var out: [[UInt8]] = []
        for path in TestData.allCaptures {
            guard var r = try? PcapReader(path: path), r.linkType == .ethernet else { continue }
            while let p = try? r.nextPacket() { out.append(p.bytes) }
        }
        return out
    }

    /// Filters built from real packets: their prefixes, ports and protocols.
    static func rules(from packets: [[UInt8]], count: Int, rng: inout SeededRandom) -> [String] {
        var out = [
            "[ ethernet (proto = ETHERTYPE_ARP) | * ]",
            "[ ethernet (proto = ETHERTYPE_IP) | ip (proto = IPPROTO_TCP) | tcp (flags & 0x02 = 0x02) | * ]",
            "[ ethernet (proto = ETHERTYPE_IP) | ip (proto = IPPROTO_UDP) | udp (dport = 53) | * ]",
            "[ ethernet (proto = ETHERTYPE_IPV6) | ipv6 (proto = IPPROTO_ICMPV6) | icmpv6 (type in 133..137) | * ]",
            "[ ethernet (proto = ETHERTYPE_IP) | ip (frag & 0x3fff = 0) | * ]",
            "[ ethernet (proto = ETHERTYPE_VLAN) | vlan (proto = ETHERTYPE_IP) | ip | * ]",
            "[ ethernet | * ]",
        ]
        while out.count < count {
            let p = packets.randomElement(using: &rng)!
            guard p.count >= 14 else { continue }
            let type = Int(p[12]) << 8 | Int(p[13])
            if type == 0x0800, p.count >= 34 {
                let ihl = Int(p[14] & 0x0F) * 4
                let src = "\(p[26]).\(p[27]).\(p[28]).\(p[29])", dst = "\(p[30]).\(p[31]).\(p[32]).\(p[33])"
                var ip = " (src = \(src)/\(Int.random(in: 8...32, using: &rng)))"
                if Bool.random(using: &rng) { ip += " (dst = \(dst)/\(Int.random(in: 0...32, using: &rng)))" }
                let proto = Int(p[23])
                if (proto == 6 || proto == 17), p.count >= 14 + ihl + 4, ihl >= 20 {
                    let sport = Int(p[14 + ihl]) << 8 | Int(p[15 + ihl]), dport = Int(p[16 + ihl]) << 8 | Int(p[17 + ihl])
                    let l4 = proto == 6 ? "tcp" : "udp"
                    let ports = Bool.random(using: &rng) ? " (dport = \(dport))" : " (sport in \(max(0, sport - 100))..\(min(65535, sport + 100)))"
                    out.append("[ ethernet (proto = ETHERTYPE_IP) | ip\(ip) (proto = \(proto)) | \(l4)\(ports) | * ]")
                } else {
                    out.append("[ ethernet (proto = ETHERTYPE_IP) | ip\(ip) | * ]")
                }
            } else if type == 0x86DD, p.count >= 54 {
                func addr(_ at: Int) -> String { stride(from: at, to: at + 16, by: 2).map { String(Int(p[$0]) << 8 | Int(p[$0 + 1]), radix: 16) }.joined(separator: ":") }
                var ip = " (src = \(addr(22))/\(Int.random(in: 16...128, using: &rng)))"
                if Bool.random(using: &rng) { ip += " (dst = \(addr(38))/\(Int.random(in: 0...128, using: &rng)))" }
                let nh = Int(p[20])
                if (nh == 6 || nh == 17), p.count >= 58 {
                    let dport = Int(p[56]) << 8 | Int(p[57])
                    out.append("[ ethernet (proto = ETHERTYPE_IPV6) | ipv6\(ip) (proto = \(nh)) | \(nh == 6 ? "tcp" : "udp") (dport in \(dport)..\(min(65535, dport + 10))) | * ]")
                } else {
                    out.append("[ ethernet (proto = ETHERTYPE_IPV6) | ipv6\(ip) | * ]")
                }
            }
        }
        return out
    }

    @Test(arguments: [MatchPolicy.mostPredicates, .firstMatch])
    func realCapturesAgree(_ policy: MatchPolicy) throws {
        let packets = Self.ethernetPackets()
        #expect(packets.count > 3000, "expected the shared pcap corpus")
        var rng = SeededRandom(seed: policy == .firstMatch ? 3 : 4)
        var c = Classifier(policy: policy)
        for (i, text) in Self.rules(from: packets, count: 300, rng: &rng).enumerated() {
            try c.addFilter(text, demuxID: i, priority: Int.random(in: 0...100, using: &rng))
        }
        let flat = FlatClassifier(c)
        let tables = ClassifierTables(c)
        let multiway = MultiwayTree(c)
        #expect(tables.base.tree != nil)
        var matched = 0
        for p in packets {
            let (a, b, t, m) = p.withUnsafeBytes { (c.match($0), flat.match($0), tables.match($0), multiway.match($0)) }
            #expect(a == b && a == t && a == m, "\(p.count)-byte packet: reference \(a), bit vectors \(b), tree \(t), multi-way tree \(m)")
            if a != b || a != t || a != m { return }
            if a >= 0 { matched += 1 }
        }
        #expect(matched > packets.count / 2)
        // And in bursts, as workers classify.
        _ = expectTablesAgreeInBursts(c, tables, packets)
    }
}

/// Bursts of 64 through `tables.view.match(burst:)` == the reference.
func expectTablesAgreeInBursts(_ c: Classifier, _ tables: ClassifierTables, _ packets: [[UInt8]]) -> Bool {
    let out = PacketBuffers(packets).answersInBursts { tables.view.match(burst: $0, into: $1) }
    for (k, p) in packets.enumerated() {
        let reference = p.withUnsafeBytes { c.match($0) }
        if out[k] != reference {
            Issue.record("burst packet \(k): reference \(reference), tables \(out[k])")
            return false
        }
    }
    return true
}
