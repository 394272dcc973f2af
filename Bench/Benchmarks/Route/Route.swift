import BenchSupport
import Benchmark
import BowmanCore
import BowmanPacket
import BowmanPipeline
import BowmanRouting

/// Mallocs and retains per lookup (one iteration = 4096 lookups or router
/// steps): must be 0 per lookup for CompactTable and StrideTable, single
/// and in bursts of 64, and for the router's per-packet step (LPM, TTL,
/// checksum, MACs). The table: 20,000 random prefixes of /8 to /32 per
/// family (the full table's build would dominate start-up; lookups touch
/// the same code).
final class Workload: @unchecked Sendable {
    let compact = CompactTable()
    let stride = StrideTable(width: 128, groupCapacity: 1 << 16)
    var v4: [UInt32] = [], v6: [RouteKey] = []
    var out = [Int](repeating: 0, count: 4096)
    /// The frames, 64 bytes apart in one block (no array of arrays to retain).
    let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096 * 64, alignment: 64)
    var frameLength = 0
    let step: RouterStep

    init() {
        var r = SplitMix(state: 7)
        var changes: [CompactTable.Change] = []
        for i in 0..<20_000 {
            changes.append(.add(address: UInt32(truncatingIfNeeded: r.next()), length: Int(8 + r.next() % 25), nextHop: i % 64))
            try! stride.insert(RouteKey(high: 0x2000_0000_0000_0000 | (r.next() >> 3), low: r.next()), length: Int(16 + r.next() % 49), nextHop: i % 64)
        }
        try! compact.apply(changes + [.add(address: 0, length: 0, nextHop: 1)])
        try! stride.insert(RouteKey(high: 0, low: 0), length: 0, nextHop: 1)
        v4 = (0..<4096).map { _ in UInt32(truncatingIfNeeded: r.next()) }
        v6 = (0..<4096).map { _ in RouteKey(high: 0x2000_0000_0000_0000 | (r.next() >> 3), low: r.next()) }
        let t = RouteTable(name: "bench")
        try! t.add(IPPrefix("0.0.0.0/0")!, channel: 0)
        var adj = Adjacencies()
        adj.append([(.init(kind: .forward, port: 1, source: MACAddress(2, 0, 0, 0, 0, 1), destination: MACAddress(2, 0, 0, 0, 0, 2)), 1)])
        step = RouterStep(routes: t, adjacencies: adj)
        for i in 0..<4096 {
            let f = try! PacketBuilder.bytes(FrameSpec(network: .ipv4(.init(source: IPv4Address(rawValue: 0xC612_0001), destination: IPv4Address(rawValue: v4[i]), ttl: 255)),
                                                       transport: .udp(source: 1, destination: 2), payload: [0, 0]))
            frameLength = f.count
            f.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: block[(i * 64)..<(i * 64 + f.count)]).copyMemory(from: $0) }
        }
    }

    func compactSingles() -> Int { var s = 0; for a in v4 { s &+= compact.lookup(a) }; return s }
    func compactBursts() -> Int {
        v4.withUnsafeBufferPointer { a in out.withUnsafeMutableBufferPointer { o in
            var i = 0
            while i < a.count { compact.lookup(UnsafeBufferPointer(rebasing: a[i..<(i + 64)]), into: o.baseAddress! + i); i += 64 }
            return o[17]
        } }
    }
    func strideSingles() -> Int { var s = 0; for k in v6 { s &+= stride.lookup(k) }; return s }
    func routerSteps() -> Int {
        var n = 0
        let step = self.step      // one copy of the step per iteration, as a worker holds it
        for i in 0..<4096 {
            let p = UnsafeMutableRawBufferPointer(rebasing: block[(i * 64)..<(i * 64 + frameLength)])
            // Put the TTL back (255) with the checksum it had: every iteration forwards.
            let ttl = p[22], c = UInt16(p[24]) << 8 | UInt16(p[25])
            p[22] = 255
            let back = Checksum.update(c, old: UInt16(ttl) << 8 | UInt16(p[23]), new: 0xFF << 8 | UInt16(p[23]))
            p[24] = UInt8(back >> 8); p[25] = UInt8(back & 0xFF)
            if case .forward(let port) = step.decide(p) { n &+= port }
        }
        return n
    }
}

let workload = Workload()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal, .retainCount, .releaseCount],
                                           warmupIterations: 2, maxDuration: .seconds(2), maxIterations: 200)
    Benchmark("CompactTable, 4096 IPv4 lookups one by one") { b in for _ in b.scaledIterations { blackHole(workload.compactSingles()) } }
    Benchmark("CompactTable, 4096 IPv4 lookups in bursts of 64") { b in for _ in b.scaledIterations { blackHole(workload.compactBursts()) } }
    Benchmark("StrideTable, 4096 IPv6 lookups one by one") { b in for _ in b.scaledIterations { blackHole(workload.strideSingles()) } }
    Benchmark("RouterStep, 4096 IPv4 frames (checksum reset + decide)") { b in for _ in b.scaledIterations { blackHole(workload.routerSteps()) } }
}
