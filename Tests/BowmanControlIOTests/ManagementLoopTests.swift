import BowmanLab
import BowmanControlIO
import BowmanControl
import BowmanCore
import BowmanSystem
import BowmanTestSupport
import Foundation
import Testing

/// The management core end to end: one node runs shim-UDP, GRASP and
/// Bowman.ALM in one event loop pinned to the first CPU; the other finds it
/// through GRASP, allocates a shim-UDP flow to its application at the
/// advertised ALM endpoint, and exchanges data.
@Suite(.serialized, .enabled(if: TestData.isRoot, "needs root to create network namespaces"))
struct ManagementLoopTests {
    @Test func discoverTheALMEndpointThenAllocateAFlowThere() throws {
        let lab = VethLab(prefix: "bmm", tag: "\(getpid() % 100_000)")
        try lab.setUp()
        defer { lab.tearDown() }
        try #require(lab.waitForLinkLocal(), "link-local addresses stayed tentative")
        final class Box: @unchecked Sendable { var error: String?; var rounds = 0; var core: CoreID? }
        let box = Box(), stop = StopFlag()
        let right = lab.right, rightIf = lab.rightInterface, leftIf = lab.leftInterface
        let almAddress = IPAddress(lab.rightIPv4)!
        let core = Affinity.allowedCPUs.first
        box.core = core
        let server = try PinnedThread(name: "management", core: core) {
            do {
                try NetworkNamespace.enter(right)
                let shim = try ShimUDPDriver(address: almAddress)
                shim.register("echo-app")
                let grasp = try GRASPDriver(interfaces: [rightIf])
                let alm = ALMDriver(node: grasp, alm: ShimUDP.Endpoint(almAddress, ShimUDP.listenPort), interval: 300)
                let loop = ManagementLoop(shim: shim, grasp: grasp, alm: alm)
                loop.onShim = { a in
                    switch a {
                    case .flowRequest(let f, _, _): _ = try? shim.accept(f)
                    case .deliver(let f, let data): _ = try? shim.write(f, Array(String(decoding: data, as: UTF8.self).uppercased().utf8))
                    default: break
                    }
                }
                loop.run(until: stop)
                box.rounds = loop.rounds
                if !loop.errors.isEmpty { box.error = loop.errors.joined(separator: "; ") }
            } catch { box.error = "\(error)" }
        }
        defer { stop.set(); server.join() }
        let reply = try inNamespace(lab.left) { () -> String in
            // Find the neighbour's ALM endpoint over GRASP.
            let grasp = try GRASPDriver(interfaces: [leftIf])
            let alm = ALMDriver(node: grasp, alm: ShimUDP.Endpoint(IPAddress("198.18.0.1")!, ShimUDP.listenPort), interval: 300)
            var endpoint: ShimUDP.Endpoint?
            let end = GRASPDriver.now() + 5_000
            while endpoint == nil && GRASPDriver.now() < end { endpoint = alm.poll(milliseconds: 20).first?.alm }
            guard let ep = endpoint else { return "no neighbour" }
            // Allocate a flow to the application there, by name, and talk.
            let node = try ShimUDPDriver(address: IPAddress("198.18.0.1")!, clientOnly: true)
            let (f, _) = try node.allocate(to: "echo-app", address: ep.address)
            var wrote = false
            while GRASPDriver.now() < end + 3_000 {
                for a in try node.poll(milliseconds: 20) {
                    if case .flowAllocated(f, _) = a, !wrote { _ = try node.write(f, Array("found you".utf8)); wrote = true }
                    if case .deliver(f, let d) = a { return "\(ep) " + String(decoding: d, as: UTF8.self) }
                    if case .flowFailed(f, let why) = a { return "failed: \(why)" }
                }
            }
            return "timeout"
        }
        stop.set()
        server.join()
        #expect(box.error == nil, "\(box.error ?? "")")
        #expect(reply == "198.18.0.2:3359 FOUND YOU")
        #expect(box.rounds > 0)
    }
}
