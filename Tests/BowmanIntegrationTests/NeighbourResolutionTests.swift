import BowmanControl
import BowmanCore
import BowmanIO
import BowmanLab
import BowmanPacket
import BowmanSystem
import BowmanTestSupport
import Foundation
import Testing

/// Bowman's ARP request and neighbour solicitation, sent on a veth, are
/// answered by the Linux kernel at the other end, and the replies resolve
/// the resolver's waiting queries: the frames are right by the kernel's
/// own judgement. Then a query for an address nobody has times out.
@Suite(.serialized, .enabled(if: TestData.isRoot, "needs root to create network namespaces"))
struct NeighbourResolutionTests {
    @Test func theKernelAnswersOurARPAndNS() throws {
        let lab = VethLab(prefix: "bmnd", tag: "\(getpid() % 100_000)")
        try lab.setUp()
        defer { lab.tearDown() }
        let ifc = lab.leftInterface
        let mac = try #require(MACAddress(lab.leftMAC)), peer = try #require(MACAddress(lab.rightMAC))
        let (v4, v6, p4, p6) = (IPAddress(lab.leftIPv4)!, IPAddress(lab.leftIPv6)!, IPAddress(lab.rightIPv4)!, IPAddress(lab.rightIPv6)!)
        let outcome = try inNamespace(lab.left) { () throws -> [NeighbourResolver.Action] in
            var pool = try FramePool(frameSize: 2048, frameCount: 256)
            let s = try PacketSocket(interface: ifc)
            var r = NeighbourResolver()
            r.timeout = 600; r.retransmit = 200
            let index = s.interfaceIndex
            var actions: [NeighbourResolver.Action] = []
            func act(_ a: [NeighbourResolver.Action]) {
                for x in a {
                    if case .solicit(let k) = x {
                        let src: IPAddress = if case .v4 = k.address { v4 } else { v6 }
                        if let f = NeighbourFrames.request(for: k.address, mac: mac, source: src) { _ = s.send(frames: [f]) }
                    } else { actions.append(x) }
                }
            }
            let now = { SystemClock.monotonicMilliseconds }
            act(r.query(.init(interface: index, address: p4), id: 1, now: now()))
            act(r.query(.init(interface: index, address: p4), id: 2, now: now()))     // waits with 1
            act(r.query(.init(interface: index, address: p6), id: 3, now: now()))
            act(r.query(.init(interface: index, address: IPAddress("198.18.0.99")!), id: 4, now: now()))
            var burst = Burst()
            let end = now() + 2_000
            while now() < end, r.pendingCount > 0 {
                act(r.tick(now: now()))
                if (try? s.receiveBurst(into: &burst, pool: &pool)) ?? 0 == 0 { _ = s.waitReadable(timeoutMilliseconds: 20); continue }
                for k in 0..<burst.count {
                    for (a, m) in NeighbourFrames.learned(from: UnsafeRawBufferPointer(burst.packet(at: k, in: pool))) {
                        act(r.learn(.init(interface: index, address: a), mac: m, now: now()))
                    }
                }
                pool.release(burst: &burst)
            }
            return actions
        }
        let idx = outcome.compactMap { a -> Int32? in if case .resolved(_, let k, _) = a { k.interface } else { nil } }.first ?? 0
        #expect(outcome.contains(.resolved(query: 1, .init(interface: idx, address: p4), peer)))
        #expect(outcome.contains(.resolved(query: 2, .init(interface: idx, address: p4), peer)))
        #expect(outcome.contains(.resolved(query: 3, .init(interface: idx, address: p6), peer)))
        #expect(outcome.contains(.failed(query: 4, .init(interface: idx, address: IPAddress("198.18.0.99")!))))
        #expect(outcome.count == 4, "\(outcome)")
    }
}
