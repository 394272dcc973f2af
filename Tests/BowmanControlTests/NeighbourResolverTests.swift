import BowmanControl
import BowmanCore
import BowmanPacket
import Testing

/// The resolver's timing on an injected clock, and the frames it sends and
/// learns from, parsed back.
@Suite struct NeighbourResolverTests {
    let k = NeighbourResolver.Key(interface: 2, address: IPAddress("198.18.0.2")!)
    let mac = MACAddress(2, 0, 0, 0, 0, 2)

    @Test func queriesWaitTogetherRetransmitAndTimeOutAfterThreeSeconds() {
        var r = NeighbourResolver()
        #expect(r.query(k, id: 1, now: 0) == [.solicit(k)])
        #expect(r.query(k, id: 2, now: 100) == [])
        #expect(r.nextDeadline == 1_000)
        #expect(r.tick(now: 999) == [])
        #expect(r.tick(now: 1_000) == [.solicit(k)])
        #expect(r.tick(now: 2_000) == [.solicit(k)])
        #expect(r.tick(now: 3_000) == [.failed(query: 1, k), .failed(query: 2, k)])
        #expect(r.pendingCount == 0 && r.nextDeadline == nil)
        // Again, answered this time; later queries answer from the table.
        #expect(r.query(k, id: 3, now: 5_000) == [.solicit(k)])
        #expect(r.learn(k, mac: mac, now: 5_010) == [.resolved(query: 3, k, mac)])
        #expect(r.query(k, id: 4, now: 9_000) == [.resolved(query: 4, k, mac)])
        // Traffic refreshes (and may move) the entry.
        let moved = MACAddress(2, 0, 0, 0, 0, 3)
        #expect(r.learn(k, mac: moved, now: 9_500) == [])
        #expect(r.lookup(k) == moved && r.entries[k]?.seen == 9_500)
        r.forget(k)
        #expect(r.lookup(k) == nil)
    }

    @Test func requestFramesParseBackAndTeach() throws {
        let me = MACAddress(2, 0, 0, 0, 0, 1)
        let arp = try #require(NeighbourFrames.request(for: IPAddress("198.18.0.2")!, mac: me, source: IPAddress("198.18.0.1")!))
        #expect(arp.withUnsafeBytes { PacketDescription.describe($0, linkType: .ethernet).text }.contains("ARP, Request who-has 198.18.0.2 tell 198.18.0.1"))
        // An ARP request teaches its sender.
        let learned = arp.withUnsafeBytes { NeighbourFrames.learned(from: $0) }
        #expect(learned.count == 1 && learned[0].0 == IPAddress("198.18.0.1")! && learned[0].1 == me)
        let ns = try #require(NeighbourFrames.request(for: IPAddress("fd00:18::2")!, mac: me, source: IPAddress("fd00:18::1")!))
        // To ff02::1:ff00:2 at 33:33:ff:00:00:02, hop limit 255, checksum right.
        #expect(Array(ns[0..<6]) == [0x33, 0x33, 0xFF, 0, 0, 2] && ns[14 + 7] == 255)
        var m = PacketMetadata()
        try ns.withUnsafeBytes { try PacketParser.parse(ethernet: $0, into: &m) }
        let d = ns.withUnsafeBytes { PacketDescription.describe($0, linkType: .ethernet) }
        #expect(d.text.contains("neighbor solicitation, who has fd00:18::2") && !d.hasBadChecksum && d.transportChecksum != .unverifiable, "\(d.text)")
        let fromNS = ns.withUnsafeBytes { NeighbourFrames.learned(from: $0) }
        #expect(fromNS.count == 1 && fromNS[0].0 == IPAddress("fd00:18::1")! && fromNS[0].1 == me)
        // Families must match; cut frames teach nothing and do not crash.
        #expect(NeighbourFrames.request(for: IPAddress("fd00::1")!, mac: me, source: IPAddress("198.18.0.1")!) == nil)
        for cut in 0..<ns.count { _ = Array(ns[0..<cut]).withUnsafeBytes { NeighbourFrames.learned(from: $0) } }
        #expect(Array(ns[0..<60]).withUnsafeBytes { NeighbourFrames.learned(from: $0) }.isEmpty)
    }
}
