import Bowman
import BowmanIO
import BowmanClassifier
import BowmanTestSupport
import Foundation
import Testing

/// `bowman classify`'s loading and output (no privileges needed).
@Suite struct ClassifyTests {
    func write(_ text: String) throws -> String {
        let dir = try TestData.temporaryDirectory()
        let p = dir.appendingPathComponent("rules.txt").path
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    @Test func seedRulesOverARealCapture() throws {
        let rules = try write("""
        ; Odyssey rules: DEMUX: [ filter ]
        0: [ ethernet (proto = ETHERTYPE_IP) | * ]
        1: [ ethernet (proto = ETHERTYPE_IP) | ip (proto = IPPROTO_UDP) | udp (dport = 53) | * ]
        """)
        let c = try Classify.load(rules: rules, format: .odyssey, policy: .mostPredicates)
        var out: [Int] = []
        let totals = try Classify.run(classifier: c, pcap: TestData.path("pcap/tcpreplay-test.pcap")) { out.append(Int($0)!) }
        #expect(totals.packets == out.count && out.contains(1) && out.contains(0))
        // Cross-check every verdict against the reference matcher.
        var reader = try PcapReader(path: TestData.path("pcap/tcpreplay-test.pcap"))
        var i = 0
        while let v = try reader.next({ (_, _, b) -> Int in c.match(b) }) { #expect(v == out[i]); i += 1 }
    }

    @Test func badRuleNamesFileLineAndColumn() throws {
        let rules = try write("0: [ ethernet | * ]\n  1: [ ethernet | ip (prot = 17) | * ]\n")
        do {
            _ = try Classify.load(rules: rules, format: .odyssey, policy: .mostPredicates)
            Issue.record("accepted")
        } catch {
            #expect("\(error)".hasSuffix("line 2, column 23: protocol 'ip' has no field 'prot' (known: vhl, tos, len, id, frag, ttl, proto, cksum, src, dst)"))
        }
    }

    @Test func classBenchTraceGivesRuleNumbers() throws {
        let rules = try write("""
        @10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t80 : 80\t0x06/0xFF\t0x0000/0x0000
        @0.0.0.0/0\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x00/0x00\t0x0000/0x0000
        """)
        let trace = try write("167772161 1 1000 80 6\n167772161 1 1000 81 6\n")
        let c = try Classify.load(rules: rules, format: .classbench, policy: .firstMatch)
        var out: [String] = []
        _ = try Classify.run(classifier: c, trace: trace) { out.append($0) }
        #expect(out == ["1", "2"])
    }
}
