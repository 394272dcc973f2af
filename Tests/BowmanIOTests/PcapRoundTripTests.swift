import BowmanIO
import BowmanPacket
import BowmanTestSupport
import Foundation
import Testing

/// Runs `tcpdump -nn -tt --nano -r FILE` and returns its standard output.
func tcpdumpText(_ path: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["tcpdump", "-nn", "-tt", "--nano", "-r", path]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

@Suite struct PcapRoundTripTests {
    /// Reading a capture and writing it back keeps every packet's bytes,
    /// wire length and timestamp (checked by re-reading with libpcap and by
    /// comparing tcpdump's rendering of both files).
    @Test func roundTripWholeCorpus() throws {
        let dir = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let hasTcpdump = (try? tcpdumpText("/dev/null")) != nil
        var checked = 0, viaTcpdump = 0
        for (n, path) in TestData.allCaptures.enumerated() {
            guard var reader = try? PcapReader(path: path) else { continue }
            guard let packets = try? reader.readAll() else { continue }   // damaged file: skipped, covered elsewhere
            let precision = reader.storedPrecision
            // Classic pcap holds 32-bit seconds: captures with later stamps
            // (two pcapng files) must be refused by the writer, not wrapped.
            let fits = packets.allSatisfy { $0.timestamp.seconds >= 0 && $0.timestamp.seconds <= Int64(UInt32.max) }
            let out = dir.appendingPathComponent("\(n).pcap").path
            do {
                var w = try PcapWriter(path: out, linkType: reader.linkType, snapshotLength: max(reader.snapshotLength, 65535),
                                       precision: precision)
                if !fits {
                    #expect(throws: PcapError.self) { for p in packets { try w.write(p) } }
                    continue
                }
                for p in packets { try w.write(p) }
                try w.close()
            }
            var back = try PcapReader(path: out)
            let again = try back.readAll()
            #expect(back.linkType == reader.linkType)
            #expect(again == packets, "\(path)")
            checked += 1
            // tcpdump's view of both files must be identical (it only renders
            // up to its own snap length; a few exotic link types differ not at all).
            if hasTcpdump && n % 4 == 0 && reader.format == .pcap {
                #expect(try tcpdumpText(path) == tcpdumpText(out), "\(path)")
                viaTcpdump += 1
            }
        }
        #expect(checked > 400)
        if hasTcpdump { #expect(viaTcpdump > 50) }
    }

    @Test func nanosecondTimestampsSurvive() throws {
        let dir = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("ns.pcap").path
        let frame: [UInt8] = Array(repeating: 0xAB, count: 60)
        let stamps = [PcapTimestamp(seconds: 1, nanoseconds: 1), PcapTimestamp(seconds: 1_700_000_000, nanoseconds: 999_999_999)]
        do {
            var w = try PcapWriter(path: path, linkType: .ethernet, precision: .nanoseconds)
            for t in stamps { try w.write(PcapPacket(timestamp: t, wireLength: 1514, bytes: frame)) }
        }
        var r = try PcapReader(path: path)
        #expect(r.storedPrecision == .nanoseconds)
        let got = try r.readAll()
        #expect(got.map(\.timestamp) == stamps)
        #expect(got.allSatisfy { $0.wireLength == 1514 && $0.bytes == frame })
    }

    @Test func notACaptureIsAClearError() throws {
        let dir = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = dir.appendingPathComponent("notes.txt").path
        try "hello, this is not a capture file\n".write(toFile: text, atomically: true, encoding: .utf8)
        #expect(throws: PcapError.self) { _ = try PcapReader(path: text) }
        do { _ = try PcapReader(path: text) } catch { #expect(error.description.contains("notes.txt")) }
        let empty = dir.appendingPathComponent("empty.pcap").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        #expect(throws: PcapError.self) { _ = try PcapReader(path: empty) }
        #expect(throws: PcapError.self) { _ = try PcapReader(path: dir.appendingPathComponent("missing.pcap").path) }
        #expect(throws: PcapError.self) { _ = try PcapWriter(path: "/nonexistent-dir/x.pcap", linkType: .ethernet) }
    }

    /// A capture cut in the middle of a record: the packets before the cut
    /// are read, then a read error is reported, never a crash.
    @Test func truncatedFileKeepsEarlierPackets() throws {
        let dir = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = TestData.path("pcap/tcpreplay-test.pcap")
        let data = try Data(contentsOf: URL(fileURLWithPath: src))
        let cut = dir.appendingPathComponent("cut.pcap")
        try data.prefix(data.count / 2 + 3).write(to: cut)
        var r = try PcapReader(path: cut.path)
        var n = 0
        var failed = false
        do { while try r.nextPacket() != nil { n += 1 } } catch { failed = true }
        #expect(n > 50)
        // libpcap reports a record cut short as an error.
        #expect(failed)
    }
}
