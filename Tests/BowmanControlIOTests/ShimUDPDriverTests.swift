import BowmanLab
import BowmanControlIO
import BowmanControl
import BowmanCore
import BowmanSystem
import BowmanTestSupport
import Foundation
import Testing

/// Two nodes in two namespaces allocate a shim-UDP flow by application name
/// and exchange data over real UDP sockets.
@Suite(.serialized, .enabled(if: TestData.isRoot, "needs root to create network namespaces"))
struct ShimUDPDriverTests {
    func exchange(v6: Bool, application: String) throws -> (String?, [ShimUDP.Action]) {
        let lab = VethLab(prefix: "bmu", tag: "\(v6 ? 6 : 4)\(getpid() % 10_000)")
        try lab.setUp()
        defer { lab.tearDown() }
        let serverAddress = IPAddress(v6 ? lab.rightIPv6 : lab.rightIPv4)!
        let clientAddress = IPAddress(v6 ? lab.leftIPv6 : lab.leftIPv4)!
        let stop = StopFlag(), ready = DispatchSemaphore(value: 0)
        let right = lab.right
        let server = try PinnedThread(name: "shim-server", core: nil) {
            do {
                try NetworkNamespace.enter(right)
                let node = try ShimUDPDriver(address: serverAddress)
                node.register("echo-app")
                ready.signal()
                while !stop.isSet {
                    for a in try node.poll(milliseconds: 20) {
                        switch a {
                        case .flowRequest(let f, _, _): _ = try node.accept(f)
                        case .deliver(let f, let data): _ = try node.write(f, Array(String(decoding: data, as: UTF8.self).uppercased().utf8))
                        default: break
                        }
                    }
                }
            } catch { ready.signal() }
        }
        defer { stop.set(); server.join() }
        _ = ready.wait(timeout: .now() + 5)
        let host = serverAddress.description
        return try inNamespace(lab.left) { () -> (String?, [ShimUDP.Action]) in
            var cfg = ShimUDP.Configuration()
            cfg.echoTimeout = 100
            cfg.retries = 2
            let node = try ShimUDPDriver(address: clientAddress, configuration: cfg)
            var seen: [ShimUDP.Action] = []
            let (f, first) = try node.allocate(to: application, host: host)
            seen += first
            let deadline = Date().addingTimeInterval(5)
            var reply: String?
            var wrote = false
            while Date() < deadline && reply == nil {
                for a in try node.poll(milliseconds: 20) {
                    seen.append(a)
                    if case .flowAllocated(f, _) = a, !wrote { _ = try node.write(f, Array("hello bowman".utf8)); wrote = true }
                    if case .deliver(f, let data) = a { reply = String(decoding: data, as: UTF8.self) }
                    if case .flowFailed(f, _) = a { return (nil, seen) }
                }
            }
            return (reply, seen)
        }
    }

    @Test(arguments: [false, true])
    func allocateByNameAndExchangeData(_ v6: Bool) throws {
        let (reply, _) = try exchange(v6: v6, application: "echo-app")
        #expect(reply == "HELLO BOWMAN")
    }

    @Test func unknownApplicationFailsCleanly() throws {
        let (reply, seen) = try exchange(v6: false, application: "nobody-here")
        #expect(reply == nil)
        #expect(seen.contains { if case .flowFailed(_, let r) = $0 { r.contains("after 3 tries") } else { false } })
    }

    /// The first destination does not answer (no host has it): under the
    /// second shim the allocation succeeds on the next pair; with policy
    /// "off" only the first is tried and the allocation fails.
    @Test(arguments: [SecondShim.Policy.allPairs, .off])
    func secondShimFindsAWorkingPair(_ policy: SecondShim.Policy) throws {
        let lab = VethLab(prefix: "bm2", tag: "\(policy == .off ? 0 : 1)\(getpid() % 10_000)")
        try lab.setUp()
        defer { lab.tearDown() }
        let stop = StopFlag(), ready = DispatchSemaphore(value: 0)
        let right = lab.right
        let server = try PinnedThread(name: "shim-server", core: nil) {
            do {
                try NetworkNamespace.enter(right)
                let node = try ShimUDPDriver(address: IPAddress("198.18.0.2")!)
                node.register("echo-app")
                ready.signal()
                while !stop.isSet {
                    for a in try node.poll(milliseconds: 20) { if case .flowRequest(let f, _, _) = a { _ = try node.accept(f) } }
                }
            } catch { ready.signal() }
        }
        defer { stop.set(); server.join() }
        _ = ready.wait(timeout: .now() + 5)
        let outcome = try inNamespace(lab.left) { () -> (String?, [SecondShim.Pair]) in
            var cfg = ShimUDP.Configuration()
            cfg.echoTimeout = 200
            cfg.retries = 1
            do {
                let r = try SecondShimAllocator.allocate(application: "echo-app", destinations: [IPAddress("198.18.0.99")!, IPAddress("198.18.0.2")!],
                                                         sources: [IPAddress("198.18.0.1")!], policy: policy, perAttempt: cfg)
                return ("\(r.pair)", r.attempted)
            } catch let e as SecondShimAllocator.Failure {
                return (nil, e.attempted)
            }
        }
        if policy == .allPairs {
            #expect(outcome.0 == "198.18.0.1 -> 198.18.0.2")
            #expect(outcome.1.map(\.destination) == [IPAddress("198.18.0.99")!, IPAddress("198.18.0.2")!])
        } else {
            #expect(outcome.0 == nil)
            #expect(outcome.1.map(\.destination) == [IPAddress("198.18.0.99")!])
        }
    }

    /// Only lookups that never leave the machine: /etc/hosts and literals.
    @Test func resolverUsesHostsAndLiterals() throws {
        #expect(try ShimUDPDriver.resolve("localhost", family: .v4(IPv4Address(0, 0, 0, 0))) == IPAddress("127.0.0.1"))
        #expect(try ShimUDPDriver.resolve("fd00:18::2", family: .v6(IPv6Address("::")!)) == IPAddress("fd00:18::2"))
    }
}
