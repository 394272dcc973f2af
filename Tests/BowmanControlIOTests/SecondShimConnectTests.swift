import BowmanLab
import BowmanControlIO
import BowmanControl
import BowmanCore
import BowmanSystem
import BowmanTestSupport
import Foundation
import Glibc
import Testing

/// TCP connects through the second shim, in namespaces: a server listens
/// on one address only; the first destination either never answers (no
/// host has 198.18.0.99) or refuses (an address with nothing listening).
@Suite(.serialized, .enabled(if: TestData.isRoot, "needs root to create network namespaces"))
struct SecondShimConnectTests {
    func run(_ destinations: [String], sources: [String], policy: SecondShim.Policy,
             serverOnLeft: Bool = false) throws -> (String?, [SecondShim.Pair], String?) {
        let lab = VethLab(prefix: "bmt", tag: "\(getpid() % 100_000)")
        try lab.setUp()
        defer { lab.tearDown() }
        let stop = StopFlag(), ready = DispatchSemaphore(value: 0)
        let right = serverOnLeft ? lab.left : lab.right
        let listenOn = serverOnLeft ? IPv4Address(198, 18, 0, 1) : IPv4Address(198, 18, 0, 2)
        let server = try PinnedThread(name: "tcp-server", core: nil) {
            do {
                try NetworkNamespace.enter(right)
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var one: Int32 = 1
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
                var sa = sockaddr_in()
                sa.sin_family = sa_family_t(AF_INET); sa.sin_port = UInt16(7777).bigEndian
                sa.sin_addr.s_addr = listenOn.rawValue.bigEndian
                _ = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                listen(fd, 8)
                _ = fcntl(fd, F_SETFL, O_NONBLOCK)
                ready.signal()
                while !stop.isSet {
                    let c = accept(fd, nil, nil)
                    if c >= 0 { _ = "bowman".withCString { write(c, $0, 6) }; close(c) } else { usleep(5_000) }
                }
                close(fd)
            } catch { ready.signal() }
        }
        defer { stop.set(); server.join() }
        _ = ready.wait(timeout: .now() + 5)
        return try inNamespace(lab.left) { () -> (String?, [SecondShim.Pair], String?) in
            do {
                let r = try SecondShimConnector.connect(destinations: destinations.map { IPAddress($0)! }, port: 7777,
                                                        sources: sources.map { IPAddress($0)! }, policy: policy, timeout: 4_000)
                var buf = [UInt8](repeating: 0, count: 16)
                let n = read(r.fd, &buf, 16)
                close(r.fd)
                return ("\(r.pair) " + String(decoding: buf[0..<max(0, n)], as: UTF8.self), r.attempted, nil)
            } catch let e as SecondShimConnector.Failure {
                return (nil, e.attempted, e.description)
            }
        }
    }

    @Test func silentFirstDestinationThenTheNextPairConnects() throws {
        let (won, tried, _) = try run(["198.18.0.99", "198.18.0.2"], sources: ["198.18.0.1"], policy: .allPairs)
        #expect(won == "198.18.0.1 -> 198.18.0.2 bowman")
        #expect(tried.map(\.destination.description) == ["198.18.0.99", "198.18.0.2"])
    }

    @Test func refusedFirstDestinationMovesOnAtOnce() throws {
        // The server listens on the client's own address this time; 198.18.0.2,
        // tried first, has nothing listening and refuses (RST): the next pair
        // starts at once instead of after the stagger delay.
        let (won, tried, _) = try run(["198.18.0.2", "198.18.0.1"], sources: ["198.18.0.1"], policy: .allPairs, serverOnLeft: true)
        #expect(won == "198.18.0.1 -> 198.18.0.1 bowman")
        #expect(tried.map(\.destination.description) == ["198.18.0.2", "198.18.0.1"], "\(tried)")
    }

    @Test func policyOffTriesOnlyTheFirstAndSaysWhy() throws {
        let (won, tried, why) = try run(["198.18.0.99", "198.18.0.2"], sources: ["198.18.0.1"], policy: .off)
        #expect(won == nil)
        #expect(tried.map(\.destination.description) == ["198.18.0.99"])
        #expect(why?.contains("port 7777") == true, "\(why ?? "")")
    }
}
