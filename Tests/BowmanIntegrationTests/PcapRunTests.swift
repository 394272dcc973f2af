import Bowman
import BowmanCore
import BowmanIO
import BowmanPacket
import BowmanPipeline
import BowmanSystem
import BowmanTestSupport
import Foundation
import Testing

/// `bowman run --port pcap:IN --port pcap-out:OUT`: a capture through the
/// forwarding function into a capture, offline and without privileges.
@Suite struct PcapRunTests {
    func options(_ ports: [PortSpec], _ forward: ForwardMode = .l2fwd) -> DataPlane.Options {
        var o = DataPlane.Options()
        o.ports = ports
        o.forward = forward
        o.frameCount = 512
        o.idle = .spin
        o.nextHopMACs = [MACAddress("02:00:00:00:00:01")!, MACAddress("02:00:00:00:00:02")!]
        return o
    }

    @Test(arguments: ["pcap/tcpreplay-test.pcap", "pcap/zeek/http-qinq-0.pcap"])
    func l2fwdFromACaptureIntoACapture(_ name: String) throws {
        let input = TestData.path(name)
        let out = try TestData.temporaryDirectory().appendingPathComponent("out.pcap").path
        let report = try DataPlane.run(options([.pcapIn(path: input), .pcapOut(path: out)]), seconds: 30, stop: StopFlag()) { _ in }
        var a = try PcapReader(path: input), b = try PcapReader(path: out)
        let sent = try a.readAll(), got = try b.readAll()
        #expect(got.count == sent.count && report.stats.txPackets == UInt64(sent.count), "\(report)")
        for (g, s) in zip(got, sent) {
            #expect(Array(g.bytes[0..<6]) == [2, 0, 0, 0, 0, 2])
            #expect(g.bytes[6...] == s.bytes[6...])
        }
        #expect(report.audit.isConsistent && report.audit.free == report.audit.total, "\(report.audit)")
        #expect(report.portNotes.contains { $0.contains("replayed \(sent.count) packets") })
    }

    @Test func pcapRunsRefuseWhatTheyCannotDo() {
        func failure(_ o: DataPlane.Options) -> String {
            do { _ = try DataPlane.run(o, seconds: 1, stop: StopFlag()) { _ in }; return "" } catch { return "\(error)" }
        }
        let input = TestData.path("pcap/tcpreplay-test.pcap")
        #expect(failure(options([.pcapOut(path: "/tmp/x.pcap"), .pcapIn(path: input)])).contains("pcap:IN.pcap then --port pcap-out:OUT.pcap"))
        #expect(failure(options([.pcapIn(path: input), .pcapOut(path: "/tmp/x.pcap")], .reflect)).contains("a replay cannot transmit"))
        #expect(failure(options([.pcapIn(path: input), .afPacket(interface: "lo")])).contains("one kind"))
        #expect(failure(options([.pcapIn(path: "/nonexistent/in.pcap"), .pcapOut(path: "/tmp/x.pcap")])).contains("/nonexistent/in.pcap"))
    }

    @Test func portSpecsForCaptures() throws {
        #expect(try PortSpec(parsing: "pcap:/tmp/a:b.pcap") == .pcapIn(path: "/tmp/a:b.pcap"))
        #expect(try PortSpec(parsing: "pcap-out:out.pcap") == .pcapOut(path: "out.pcap"))
        #expect(try PortSpec(parsing: "pcap-out:out.pcap").description == "pcap-out:out.pcap")
        #expect(throws: PortSpec.ParseError.self) { _ = try PortSpec(parsing: "pcap:") }
    }
}
