import BowmanLab
import BowmanControlIO
import BowmanCBOR
import BowmanControl
import BowmanCore
import BowmanSystem
import BowmanTestSupport
import Foundation
import Glibc
import Testing

/// Two nodes on a veth link in two namespaces speak GRASP over real
/// sockets (link-local multicast to ff02::13 port 7017, TCP unicast): one
/// offers Bowman's ALM objective, the other discovers it and synchronises
/// its value; a decline, a flood, and garbage sent to port 7017 too.
@Suite(.serialized, .enabled(if: TestData.isRoot, "needs root to create network namespaces"))
struct GRASPDriverTests {
    @Test func discoverAndSynchroniseAcrossAVethLink() throws {
        let lab = VethLab(prefix: "bmg", tag: "\(getpid() % 100_000)")
        try lab.setUp()
        defer { lab.tearDown() }
        try #require(lab.waitForLinkLocal(), "link-local addresses stayed tentative")
        let stop = StopFlag(), ready = DispatchSemaphore(value: 0)
        let right = lab.right, rightIf = lab.rightInterface
        let value = CBOR.array([.text("fd00:18::2"), .unsigned(3359)])
        final class Box: @unchecked Sendable {
            var flooded: [GRASPNode.Action] = [], ended: [GRASPNode.Action] = []
            var dropped = 0
            var error: String?
            var endedSession: UInt32 {
                if case .negotiationEnded(let s, _, _, _, _)? = ended.first { s } else { 0 }
            }
        }
        let box = Box()
        let server = try PinnedThread(name: "grasp-offer", core: nil) {
            do {
                try NetworkNamespace.enter(right)
                let node = try GRASPDriver(interfaces: [rightIf])
                node.offer(GRASPObjective(name: "Bowman.ALM", flags: [.discovery, .synchronization], loopCount: 1, value: value),
                           at: node.listenerLocator)
                node.offer(GRASPObjective(name: "Bowman.Bandwidth", flags: [.discovery, .negotiation], loopCount: 1), at: node.listenerLocator)
                ready.signal()
                while !stop.isSet {
                    for a in node.poll(milliseconds: 20) {
                        switch a {
                        case .flooded: box.flooded.append(a)
                        case .negotiationRequest(let s, let o, _):
                            // Counter with half of what was asked.
                            if case .unsigned(let v)? = o.value { _ = node.negotiate(session: s, .counter(.unsigned(v / 2))) }
                        case .negotiationEnded: box.ended.append(a)
                        default: break
                        }
                    }
                }
                box.dropped = node.engine.droppedMessages
            } catch {
                box.error = "\(error)"
                ready.signal()
            }
        }
        defer { stop.set(); server.join() }
        _ = ready.wait(timeout: .now() + 10)
        try #require(box.error == nil, "\(box.error ?? "")")
        let leftIf = lab.leftInterface
        let outcome = try inNamespace(lab.left) { () -> [String] in
            let node = try GRASPDriver(interfaces: [leftIf])
            func wait(_ first: [GRASPNode.Action], _ ms: UInt64 = 4_000) -> GRASPNode.Action? {
                if let a = first.first { return a }
                let end = GRASPDriver.now() + ms
                while GRASPDriver.now() < end { if let a = node.poll(milliseconds: 20).first { return a } }
                return nil
            }
            var log: [String] = []
            // Garbage to the GRASP port first: the offering node must shrug it off.
            let fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6); sa.sin6_port = GRASP.port.bigEndian; sa.sin6_scope_id = if_nametoindex(leftIf)
            withUnsafeMutableBytes(of: &sa.sin6_addr) { GRASP.allGraspNeighbors.store(to: $0, at: 0) }
            for junk in [[0xFF, 0x00], [0x84, 0x01], Array(repeating: UInt8(0x81), count: 300)] as [[UInt8]] {
                _ = junk.withUnsafeBytes { b in withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } } }
            }
            close(fd)
            guard case .discovered(_, let ls)? = wait(node.discover("Bowman.ALM")),
                  case .ipv6(let a, let t, let p)? = ls.first else { return ["no discovery"] }
            log.append("discovered [\(a)]:\(p) proto \(t)")
            switch wait(node.synchronize("Bowman.ALM", with: .v6(a))) {
            case .synchronized(_, let v, _)?: log.append("value \(v)")
            case let other: log.append("sync: \(String(describing: other))")
            }
            switch wait(node.synchronize("Not.Offered", with: .v6(a))) {
            case .synchronizationFailed(_, let why)?: log.append("declined: \(why)")
            case let other: log.append("sync2: \(String(describing: other))")
            }
            // Negotiation over one TCP connection: ask 100, get a counter of 50, accept.
            let (ns, first) = node.negotiate(GRASPObjective(name: "Bowman.Bandwidth", flags: .negotiation, loopCount: 4, value: .unsigned(100)),
                                             with: .v6(a))
            if let ns, case .negotiationStep(ns, let o)? = wait(first) {
                log.append("counter \(o.value.map { "\($0)" } ?? "none") loop \(o.loopCount)")
                for r in node.negotiate(session: ns, .accept) {
                    if case .negotiationEnded(_, _, let ok, let v, _) = r { log.append("ended \(ok) \(v.map { "\($0)" } ?? "none")") }
                }
            } else { log.append("no counter-offer") }
            _ = node.flood(GRASPObjective(name: "Bowman.Prefix", flags: .synchronization, loopCount: 1, value: .text("fd00:1::/64")), locator: nil)
            return log
        }
        Thread.sleep(forTimeInterval: 0.3)
        stop.set()
        server.join()
        #expect(outcome.count == 5, "\(outcome)")
        #expect(outcome.dropFirst(3).first == "counter 50 loop 3", "\(outcome)")
        #expect(outcome.dropFirst(4).first == "ended true 50", "\(outcome)")
        #expect(box.ended == [.negotiationEnded(session: box.endedSession, objective: "Bowman.Bandwidth", accepted: true, value: .unsigned(50), reason: nil)],
                "\(box.ended)")
        #expect(outcome.first?.hasPrefix("discovered [fe80:") == true && outcome.first?.hasSuffix(":7017 proto 6") == true, "\(outcome)")
        #expect(outcome.dropFirst().first == "value \(value)", "\(outcome)")
        #expect(outcome.dropFirst(2).first?.contains("declined") == true && outcome.dropFirst(2).first?.contains("Not.Offered") == true, "\(outcome)")
        #expect(box.flooded.count == 1, "\(box.flooded)")
        #expect(box.dropped >= 3, "garbage was not counted: \(box.dropped)")
    }

    /// Both nodes advertise Bowman.ALM and each finds the other's ALM endpoint.
    @Test func almNeighboursFindEachOther() throws {
        let lab = VethLab(prefix: "bmn", tag: "\(getpid() % 100_000)")
        try lab.setUp()
        defer { lab.tearDown() }
        try #require(lab.waitForLinkLocal(), "link-local addresses stayed tentative")
        final class Box: @unchecked Sendable { var seen: [ALMNeighbours.Neighbour] = []; var error: String? }
        let box = Box(), stop = StopFlag()
        let right = lab.right, rightIf = lab.rightInterface, leftIf = lab.leftInterface
        let server = try PinnedThread(name: "alm-right", core: nil) {
            do {
                try NetworkNamespace.enter(right)
                let alm = ALMDriver(node: try GRASPDriver(interfaces: [rightIf]),
                                        alm: ShimUDP.Endpoint(IPAddress("fd00:18::2")!, 3359), interval: 300)
                while !stop.isSet { box.seen += alm.poll(milliseconds: 20) }
            } catch { box.error = "\(error)" }
        }
        defer { stop.set(); server.join() }
        let mine = try inNamespace(lab.left) { () -> [ALMNeighbours.Neighbour] in
            let alm = ALMDriver(node: try GRASPDriver(interfaces: [leftIf]),
                                    alm: ShimUDP.Endpoint(IPAddress("198.18.0.1")!, 3359), interval: 300)
            var seen: [ALMNeighbours.Neighbour] = []
            let end = GRASPDriver.now() + 5_000
            // Keep answering until the other side has found us too.
            while GRASPDriver.now() < end && (seen.isEmpty || box.seen.isEmpty) { seen += alm.poll(milliseconds: 20) }
            return seen
        }
        stop.set()
        server.join()
        #expect(box.error == nil, "\(box.error ?? "")")
        #expect(mine.map { $0.alm?.description } == ["[fd00:18::2]:3359"], "\(mine)")
        #expect(box.seen.map { $0.alm?.description } == ["198.18.0.1:3359"], "\(box.seen)")
        #expect(mine.first?.grasp.description.hasPrefix("fe80:") == true)
    }
}
