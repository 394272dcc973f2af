import BowmanCore
import BowmanIO
import BowmanPacket
import BowmanPipeline
import BowmanSystem
import BowmanTestSupport
import Foundation
import Testing

/// A capture replayed through a worker into a capture: whole pipelines with
/// no privileges.
final class PcapRig: @unchecked Sendable {
    var pool: FramePool
    var input: PcapReplayPort
    var output: PcapCapturePort
    var function: L2ForwardFunction
    let stats = WorkerStats()
    let stop = StopFlag()

    init(input path: String, output: String, nextHop: MACAddress) throws {
        pool = try FramePool(frameSize: 2048, frameCount: 128)
        input = try PcapReplayPort(path: path)
        self.output = try PcapCapturePort(path: output, linkType: input.linkType)
        function = L2ForwardFunction(rewrite: [(nil, nil), (source: nil, destination: nextHop)])
    }

    func run(expected: UInt64) throws {
        let t = try PinnedThread(name: "pcap-worker", core: nil) { [self] in
            Worker.run(&input, &output, function: &function, pool: &pool, idle: .spin, stats: stats, stop: stop)
            output.close(returningFramesTo: &pool)
        }
        let deadline = SystemClock.monotonicNanoseconds + 20_000_000_000
        while stats.txPackets.load(ordering: .relaxed) < expected && SystemClock.monotonicNanoseconds < deadline { usleep(500) }
        stop.set()
        t.join()
    }
}

@Suite struct PcapPipelineTests {
    @Test(arguments: ["pcap/tcpreplay-test.pcap", "pcap/zeek/http-qinq-0.pcap", "pcap/zeek/icmp/icmp6-nd-options.pcap"])
    func l2ForwardCaptureIsGolden(_ file: String) throws {
        let dir = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var reader = try PcapReader(path: TestData.path(file))
        let original = try reader.readAll()
        let hop = MACAddress(2, 0, 0, 0, 0, 0x99)
        let out = dir.appendingPathComponent("out.pcap").path
        let rig = try PcapRig(input: TestData.path(file), output: out, nextHop: hop)
        try rig.run(expected: UInt64(original.count))
        #expect(rig.input.isFinished && rig.input.packets == UInt64(original.count))
        var back = try PcapReader(path: out)
        let forwarded = try back.readAll()
        #expect(forwarded.count == original.count)
        for (o, f) in zip(original, forwarded) {
            #expect(Array(f.bytes[0..<6]) == hop.octets)
            #expect(f.bytes[6...] == o.bytes[6...])
        }
        #expect(rig.pool.audit() == FramePool.Audit(total: 128, free: 128, inFlight: 0))
    }

    @Test func recordedPaceHoldsPacketsBack() throws {
        // tcpreplay-test.pcap spans several seconds: at recorded pace only the
        // first packets are due right away.
        var port = try PcapReplayPort(path: TestData.path("pcap/tcpreplay-test.pcap"), recordedPace: true)
        var pool = try FramePool(frameSize: 2048, frameCount: 512)
        var burst = Burst()
        var total = 0
        for _ in 0..<5 {
            total += port.receive(into: &burst, pool: &pool)
            pool.release(burst: &burst)
        }
        #expect(total > 0 && total < 259 && !port.isFinished)
        #expect(pool.audit().isConsistent)
        // The packet read but not yet due holds a frame; closing gives it back.
        port.close(returningFramesTo: &pool)
        #expect(pool.audit() == FramePool.Audit(total: 512, free: 512, inFlight: 0))
    }

    /// Packets longer than a frame are cut to the frame and counted; every
    /// frame comes back; the replay ends.
    @Test func longPacketsAreCutToTheFrameAndCounted() throws {
        let path = TestData.path("pcap/tcpreplay-test.pcap")
        var port = try PcapReplayPort(path: path)
        var reader = try PcapReader(path: path)
        let lengths = try reader.readAll().map(\.bytes.count)
        var pool = try FramePool(frameSize: 256, frameCount: 256)
        var burst = Burst()
        var got: [Int] = []
        while !port.isFinished {
            _ = port.receive(into: &burst, pool: &pool)
            for k in 0..<burst.count { got.append(Int(burst.length(at: k))) }
            pool.release(burst: &burst)
        }
        #expect(got == lengths.map { min($0, 256) })
        #expect(port.truncated == UInt64(lengths.filter { $0 > 256 }.count) && port.truncated > 0)
        #expect(port.packets == UInt64(lengths.count) && port.readError == nil)
        #expect(pool.audit() == FramePool.Audit(total: 256, free: 256, inFlight: 0))
    }

    @Test func missingCaptureIsAClearError() {
        #expect(throws: PcapError.self) { _ = try PcapReplayPort(path: "/nonexistent/x.pcap") }
    }
}
