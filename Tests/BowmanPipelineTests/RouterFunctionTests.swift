import BowmanCore
import BowmanIO
import BowmanPacket
import BowmanPipeline
import BowmanRouting
import BowmanSystem
import BowmanTestSupport
import Glibc
import Testing

/// A forwarding function that sends packet k of every burst to port
/// `k % ports` (and every seventh to the drop egress): the per-packet
/// verdict of a router, without a router.
struct SpreadFunction: ForwardingFunction {
    let ports: Int
    var seen = 0
    mutating func process(_ burst: inout Burst, input: Int, pool: inout FramePool) -> BurstVerdict {
        for k in 0..<burst.count {
            burst.setEgress(seen % 7 == 6 ? Burst.dropEgress : UInt8(seen % ports), at: k)
            seen += 1
        }
        return .perPacket
    }
}

/// Runs `function` over a group of memory ports on its own thread until
/// `expected` packets were received.
func runGroup<F: ForwardingFunction>(_ ports: inout PortGroup<MemoryPort>, _ f: inout F, _ pool: inout FramePool, expected: UInt64) throws -> WorkerStats.Snapshot {
    let stats = WorkerStats(), stop = StopFlag()
    try withUnsafeMutablePointer(to: &ports) { pp in
        try withUnsafeMutablePointer(to: &f) { fp in
            try withUnsafeMutablePointer(to: &pool) { pl in
                nonisolated(unsafe) let (pp, fp, pl) = (pp, fp, pl)
                let t = try PinnedThread(name: "test-group", core: nil) {
                    Worker.run(&pp.pointee, function: &fp.pointee, pool: &pl.pointee, idle: .spin, stats: stats, stop: stop)
                }
                let deadline = SystemClock.monotonicNanoseconds + 10_000_000_000
                while stats.rxPackets.load(ordering: .relaxed) < expected && SystemClock.monotonicNanoseconds < deadline { usleep(200) }
                stop.set()
                t.join()
            }
        }
    }
    return stats.snapshot()
}

@Suite struct PerPacketEgressTests {
    @Test func aWorkerSpreadsBurstsOverFourPortsInOrder() throws {
        var pool = try FramePool(frameSize: 2048, frameCount: 512)
        var ports = PortGroup<MemoryPort>(capacity: 4)
        for i in 0..<4 { ports.append(MemoryPort(name: "p\(i)", receiveLimit: 37)) }
        let input = try frames(3000)
        for f in input { ports[0].enqueue(f) }
        var f = SpreadFunction(ports: 4)
        let s = try runGroup(&ports, &f, &pool, expected: UInt64(input.count))
        // Packet i went to port i % 4 unless it was the drop egress; each port's packets in order.
        var want: [[[UInt8]]] = [[], [], [], []]
        for (i, frame) in input.enumerated() where i % 7 != 6 { want[i % 4].append(frame) }
        for p in 0..<4 { #expect(ports[p].sent == want[p], "port \(p): \(ports[p].sent.count) of \(want[p].count)") }
        let dropped = input.indices.filter { $0 % 7 == 6 }.count
        #expect(s.rxPackets == 3000 && s.txPackets == UInt64(3000 - dropped) && s.dropped == UInt64(dropped) && s.txFull == 0)
        #expect(pool.audit() == FramePool.Audit(total: 512, free: 512, inFlight: 0))
    }

    @Test func aFullPortDropsOnlyItsShare() throws {
        var pool = try FramePool(frameSize: 2048, frameCount: 512)
        var ports = PortGroup<MemoryPort>(capacity: 3)
        ports.append(MemoryPort(name: "in"))
        ports.append(MemoryPort(name: "full", transmitLimit: 0))
        ports.append(MemoryPort(name: "ok"))
        let input = try frames(700)
        for f in input { ports[0].enqueue(f) }
        var f = SpreadFunction(ports: 3)
        let s = try runGroup(&ports, &f, &pool, expected: UInt64(input.count))
        let toFull = input.indices.filter { $0 % 7 != 6 && $0 % 3 == 1 }.count
        let toOthers = input.indices.filter { $0 % 7 != 6 && $0 % 3 != 1 }.count
        #expect(ports[1].sent.isEmpty && s.txFull == UInt64(toFull))
        #expect(ports[0].sent.count + ports[2].sent.count == toOthers && s.txPackets == UInt64(toOthers))
        #expect(pool.audit().isConsistent && pool.audit().inFlight == 0)
    }
}

/// The router function in a worker over memory ports: forwarded packets
/// leave by their route's port, rewritten; the rest reach the punt ring
/// with their reason and input port, byte for byte as received.
@Suite struct RouterFunctionTests {
    static let me = MACAddress(2, 0, 0, 0, 0, 0xAA), hostMAC = MACAddress(2, 0, 0, 0, 0, 0x22)

    func udp(_ dst: String, ttl: UInt8 = 64) -> [UInt8] {
        let d = IPAddress(dst)!
        let net: FrameSpec.Network = switch d {
        case .v4(let a): .ipv4(.init(source: IPv4Address(198, 18, 0, 1), destination: a, ttl: ttl))
        case .v6(let a): .ipv6(.init(source: IPv6Address("fd00:18::1")!, destination: a, hopLimit: ttl))
        }
        return try! PacketBuilder.bytes(FrameSpec(source: MACAddress(2, 0, 0, 0, 0, 1), destination: Self.me, network: net,
                                                  transport: .udp(source: 1000, destination: 9), payload: [1, 2, 3, 4]))
    }

    @Test func forwardsPuntsAndCounts() throws {
        let routes = RouteTable(name: "rt", wordsV4: 1 << 16, groupsV6: 64)
        var adj = Adjacencies()
        try routes.add(IPPrefix("198.18.1.0/24")!, channel: 0)           // connected on port 2
        adj.append([(.init(kind: .glean, port: 2, source: Self.me), 1)])
        try routes.add(IPPrefix("198.18.9.0/24")!, channel: 1)           // via an unresolved gateway
        adj.append([(.init(kind: .unresolved, port: 1, source: Self.me), 1)])
        try routes.add(IPPrefix("fd00:19::/64")!, channel: 2)
        adj.append([(.init(kind: .forward, port: 3, source: Self.me, destination: Self.hostMAC), 1)])
        try routes.add(IPPrefix("198.18.66.0/24")!, channel: 3)
        adj.append([(.init(kind: .blackhole), 1)])
        let hosts: [IPAddress: Adjacencies.Hop] = [IPAddress("198.18.1.2")!: .init(kind: .forward, port: 2, source: Self.me, destination: Self.hostMAC)]
        let tables = RouterTables(adj, hosts: hosts)
        let publisher = TablePublisher(tables.view, workers: 1)
        let punts = PuntRing(capacity: 16), counters = RouterCounters()
        var f = RouterFunction(routes: routes, tables: publisher, punts: punts, counters: counters, worker: 0)

        var pool = try FramePool(frameSize: 2048, frameCount: 256)
        var ports = PortGroup<MemoryPort>(capacity: 4)
        for i in 0..<4 { ports.append(MemoryPort(name: "p\(i)")) }
        let input = [udp("198.18.1.2"), udp("198.18.1.3"), udp("198.18.9.9"), udp("fd00:19::2"), udp("198.18.1.2", ttl: 1),
                     udp("198.18.200.1"), udp("198.18.66.6"), [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 2, 0, 0, 0, 0, 1, 0x08, 0x06] + [UInt8](repeating: 0, count: 46)]
        for x in input { ports[0].enqueue(x) }
        let s = try runGroup(&ports, &f, &pool, expected: UInt64(input.count))
        #expect(s.rxPackets == 8 && s.txPackets == 2 && s.dropped == 6)
        #expect(ports[2].sent.count == 1 && ports[3].sent.count == 1)
        #expect(Array(ports[2].sent[0][0..<12]) == Self.hostMAC.octets + Self.me.octets && ports[2].sent[0][14 + 8] == 63)
        #expect(ports[3].sent[0][14 + 7] == 63)
        var got: [(PuntReason, Int, [UInt8])] = []
        _ = punts.pop(max: 16) { h, b in got.append((PuntReason(rawValue: h.reason)!, Int(h.input), Array(b))) }
        #expect(got.map(\.0) == [.glean, .unresolved, .timeExceeded, .noRoute])
        #expect(got.map(\.2) == [input[1], input[2], input[4], input[5]])
        #expect(got.allSatisfy { $0.1 == 0 })
        #expect(counters.forwarded.load(ordering: .relaxed) == 2 && counters.blackholed.load(ordering: .relaxed) == 1
                && counters.malformed.load(ordering: .relaxed) == 1 && counters.punted(.glean) == 1)
        #expect(pool.audit() == FramePool.Audit(total: 256, free: 256, inFlight: 0))
    }

    @Test func aFullPuntRingDropsAndCounts() {
        let r = PuntRing(capacity: 4)
        let bytes = [UInt8](repeating: 7, count: 3000)
        bytes.withUnsafeBytes { b in
            for _ in 0..<6 { _ = r.push(.noRoute, input: 1, packet: b) }
        }
        #expect(r.count == 4 && r.overflow.load(ordering: .relaxed) == 2)
        var lengths: [Int] = []
        var inputs: [UInt8] = []
        let n = r.pop(max: 10) { h, b in lengths.append(b.count); inputs.append(h.input) }
        #expect(n == 4 && inputs == [1, 1, 1, 1])
        #expect(lengths == [2048, 2048, 2048, 2048])   // a slot keeps one frame's worth
        bytes.withUnsafeBytes { b in #expect(r.push(.kernel, input: 0, packet: UnsafeRawBufferPointer(rebasing: b[0..<60]))) }
        var seen: [(UInt8, Int)] = []
        _ = r.pop(max: 10) { h, b in seen.append((h.reason, b.count)) }
        #expect(seen.count == 1 && seen[0].0 == PuntReason.kernel.rawValue && seen[0].1 == 60)
    }
}
