import BowmanIO
import BowmanPacket
import BowmanTestSupport
import Foundation
import Testing

/// Decodes one capture; nil when the file cannot be opened.
func decodeAll(_ path: String) throws -> (LinkType, [PacketDescription.Summary])? {
    guard var r = try? PcapReader(path: path) else { return nil }
    let lt = r.linkType
    var out: [PacketDescription.Summary] = []
    do {
        while let s = try r.next({ _, wire, bytes in PacketDescription.describe(bytes, linkType: lt, wireLength: wire) }) {
            out.append(s)
        }
    } catch is PcapError {
        // A file cut short mid-record: what was read stands.
    }
    return (lt, out)
}

@Suite struct CaptureCorpusTests {
    @Test func corpusIsPresent() {
        #expect(TestData.allCaptures.count > 400, "expected the shared pcap corpus at \(TestData.root.path)")
    }

    /// Every packet of every capture decodes without trapping; files libpcap
    /// refuses give a PcapError naming the file.
    @Test func everyCaptureDecodes() throws {
        var packets = 0, files = 0, refused = 0, malformed = 0
        for path in TestData.allCaptures {
            do {
                var r = try PcapReader(path: path)
                files += 1
                let lt = r.linkType
                while try r.next({ (_, wire, bytes) -> Void in
                    let s = PacketDescription.describe(bytes, linkType: lt, wireLength: wire)
                    if s.error != nil { malformed += 1 }
                    packets += 1
                }) != nil {}
            } catch let e as PcapError {
                refused += 1
                #expect(e.description.contains(path))
            }
        }
        #expect(files > 400 && packets > 5_000)
        // Most captures are well formed; the deliberately broken ones are a minority.
        #expect(malformed < packets / 5, "\(malformed) of \(packets) malformed, \(refused) files refused")
    }

    static let checksumFiles = TestData.files(under: "pcap/zeek/chksums", extensions: ["pcap"]).map { URL(fileURLWithPath: $0).lastPathComponent }

    /// zeek's good/bad checksum pairs: the verdict matches the file name.
    @Test(arguments: checksumFiles)
    func checksumVerdictMatchesFileName(_ name: String) throws {
        let (_, summaries) = try #require(try decodeAll(TestData.path("pcap/zeek/chksums/\(name)")))
        #expect(!summaries.isEmpty)
        if name.contains("-bad-") {
            let first = try #require(summaries.first)
            if name.hasPrefix("ip4-bad") {
                #expect(first.ipChecksum.isBad, "\(first.text)")
            } else {
                #expect(first.transportChecksum.isBad, "\(first.text)")
            }
        } else {
            for s in summaries {
                #expect(!s.hasBadChecksum, "\(s.text)")
            }
            #expect(summaries.contains { $0.transportChecksum == .good || $0.ipChecksum == .good })
        }
    }

    /// Deliberately truncated or malformed captures produce the right error.
    @Test(arguments: [
        ("trunc/ip4-trunc.pcap", 0, ParseError(.ipv4, .truncated(needed: 20, available: 6), at: 14)),
        ("trunc/ip6-trunc.pcap", 0, ParseError(.ipv6, .truncated(needed: 40, available: 34), at: 14)),
        ("trunc/ip6-ext-trunc.pcap", 0, ParseError(.ipv6Extension, .truncated(needed: 8, available: 0), at: 54)),
        ("trunc/ipv4-internally-truncated-header.pcap", 0, ParseError(.ipv4, .truncated(needed: 60, available: 20), at: 14)),
        ("trunc/trunc-hdr.pcap", 0, ParseError(.ethernet, .truncated(needed: 14, available: 1), at: 0)),
        ("trunc/icmp-header-trunc.pcap", 0, ParseError(.icmp, .truncated(needed: 8, available: 6), at: 34)),
        ("trunc/ip-discarder-truncated-tcp-oob.pcapng", 0, ParseError(.tcp, .truncated(needed: 20, available: 0), at: 34)),
        ("tcp/truncated-header.pcap", 0, ParseError(.tcp, .truncated(needed: 40, available: 34), at: 34)),
        ("ip-bogus-header-len.pcap", 0, ParseError(.ipv4, .badLength(0), at: 14)),
        ("icmp/icmp6-nd-short-options.pcap", 0, ParseError(.neighborDiscovery, .truncated(needed: 16, available: 12), at: 54)),
        // RFC 3810 §5.2: a record's sources and aux data must fit the message.
        ("icmp/icmp6-mldv2.pcap", 2, ParseError(.mld, .truncated(needed: 76, available: 60), at: 40)),
        ("icmp/icmp6-mldv2.pcap", 4, ParseError(.mld, .truncated(needed: 52, available: 44), at: 40)),
        ("icmp/icmp6-nd-short-options.pcap", 2, ParseError(.neighborDiscovery, .truncated(needed: 24, available: 16), at: 54)),
    ] as [(String, Int, ParseError)])
    func malformedCaptures(_ file: String, _ index: Int, _ expected: ParseError) throws {
        let (_, summaries) = try #require(try decodeAll(TestData.path("pcap/zeek/\(file)")))
        try #require(summaries.count > index)
        #expect(summaries[index].error == expected, "\(summaries[index].text)")
    }

    /// Well-formed captures of each kind parse with no error at all.
    @Test(arguments: ["tcpreplay-test.pcap", "zeek/http-vlan-0.pcap", "zeek/http-qinq-0.pcap", "zeek/icmp/icmp6-mldv1.pcap",
                      "zeek/igmp/igmp-many-groups.pcap", "zeek/arp-who-has.pcap", "zeek/ipv6-hbh-routing0.pcap",
                      "zeek/snap-arp.pcapng", "zeek/mpls-in-vlan.pcap"])
    func wellFormedCaptures(_ file: String) throws {
        let (_, summaries) = try #require(try decodeAll(TestData.path("pcap/\(file)")))
        #expect(!summaries.isEmpty)
        for s in summaries { #expect(s.error == nil, "\(s.text)") }
    }

    @Test func layersAreNamed() throws {
        let (_, qinq) = try #require(try decodeAll(TestData.path("pcap/zeek/http-qinq-0.pcap")))
        #expect(qinq[0].metadata.vlanCount == 2)
        #expect(qinq[0].text.contains("vlan"))
        let (_, arp) = try #require(try decodeAll(TestData.path("pcap/zeek/arp-who-has.pcap")))
        #expect(arp[0].text.contains("ARP, Request who-has"))
        let (_, mld) = try #require(try decodeAll(TestData.path("pcap/zeek/icmp/icmp6-mldv2.pcap")))
        #expect(mld[0].text.contains("multicast listener report v2, 4 group records"))
        let (_, igmp) = try #require(try decodeAll(TestData.path("pcap/zeek/igmp/igmp-many-groups.pcap")))
        #expect(igmp[0].text.contains("IGMP v2 report 239.0.0.1"))
    }
}
