import BowmanCore
import BowmanLab
import BowmanSystem
import BowmanTestSupport
import Foundation
import Testing

/// The typed socket wrappers, on the loopback of a namespace of their own
/// (198.18.0.1 and fd00:18::1: nothing leaves it).
@Suite(.serialized, .enabled(if: TestData.isRoot, "needs root to create a network namespace"))
struct SocketTests {
    func inLab<T: Sendable>(_ body: @escaping @Sendable (LoopbackLab) throws -> T) throws -> T {
        let lab = LoopbackLab(tag: "\(getpid() % 100_000)")
        try lab.setUp()
        defer { lab.tearDown() }
        return try inNamespace(lab.namespace) { try body(lab) }
    }

    @Test(arguments: [false, true])
    func udpSendReceiveAndEmpty(v6: Bool) throws {
        try inLab { lab in
            let host = IPAddress(v6 ? lab.ipv6 : lab.ipv4)!
            let family: AddressFamily = v6 ? .v6 : .v4
            let a = try UDPSocket(family), b = try UDPSocket(family)
            try a.bind(SocketAddress(host, port: 0))
            try b.bind(SocketAddress(host, port: 0))
            let bAddr = try #require(b.localAddress)
            #expect(bAddr.address == host && bAddr.port != 0)
            var buf = [UInt8](repeating: 0, count: 64)
            // Nothing waiting: nil, not an error.
            #expect(try buf.withUnsafeMutableBytes { try b.receive(into: $0) } == nil)
            // UDP may lose a datagram when another test floods this CPU's
            // backlog: send again rather than fail on one loss.
            var ready = false
            for _ in 0..<5 where !ready {
                #expect(try a.send([1, 2, 3], to: bAddr))
                ready = Poll.wait(for: b.descriptor, milliseconds: 1_000)
            }
            #expect(ready)
            let got = try #require(try buf.withUnsafeMutableBytes { try b.receive(into: $0) })
            #expect(got.count == 3 && Array(buf[0..<3]) == [1, 2, 3])
            #expect(got.from == a.localAddress)
        }
    }

    @Test func bindToAnAddressNotHereSaysWhich() throws {
        try inLab { _ in
            let s = try UDPSocket(.v4)
            let where_ = SocketAddress(IPAddress("198.19.9.9")!, port: 7)
            #expect { try s.bind(where_) } throws: { e in
                guard let e = e as? SocketError else { return false }
                return e.errno == .addressNotAvailable && e.description.contains("bind 198.19.9.9:7")
            }
        }
    }

    @Test(arguments: [false, true])
    func tcpListenConnectAcceptExchange(v6: Bool) throws {
        try inLab { lab in
            let host = IPAddress(v6 ? lab.ipv6 : lab.ipv4)!
            let family: AddressFamily = v6 ? .v6 : .v4
            let l = try TCPListener(family)
            try l.reuseAddress()
            try l.bind(SocketAddress(host, port: 0))
            try l.listen()
            let to = try #require(l.localAddress)
            #expect(try l.accept() == nil)
            let c = try TCPConnection(family)
            _ = try c.startConnect(to: to)
            #expect(Poll.wait(for: c.descriptor, writable: true, milliseconds: 1_000))
            #expect(c.pendingError == nil)
            #expect(Poll.wait(for: l.descriptor, milliseconds: 1_000))
            let (server, from) = try #require(try l.accept())
            #expect(from == c.localAddress)
            try c.writeAll(Array(0..<100))
            c.shutdownWrite()
            var got: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 32)
            while true {
                _ = Poll.wait(for: server.descriptor, milliseconds: 1_000)
                guard let n = try buf.withUnsafeMutableBytes({ try server.read(into: $0) }) else { continue }
                if n == 0 { break }
                got += buf[0..<n]
            }
            #expect(got == Array(0..<100))
        }
    }

    @Test func refusedConnectIsAPendingError() throws {
        try inLab { lab in
            let c = try TCPConnection(.v4)
            _ = try? c.startConnect(to: SocketAddress(IPAddress(lab.ipv4)!, port: 9))   // nothing listens
            #expect(Poll.wait(for: c.descriptor, writable: true, milliseconds: 1_000))
            #expect(c.pendingError == Errno.connectionRefused)
        }
    }

    @Test func interfacesAndResolver() throws {
        try inLab { lab in
            let all = try NetworkInterface.all()
            let lo = try #require(all.first { $0.name == "lo" })
            #expect(lo.isUp && lo.isLoopback)
            #expect(lo.addresses.contains(IPAddress(lab.ipv4)!) && lo.addresses.contains(IPAddress(lab.ipv6)!))
            #expect(try Resolver.resolve(lab.ipv6) == [IPAddress(lab.ipv6)!])
            #expect(throws: Resolver.Failure.self) { try Resolver.resolve(lab.ipv6, family: .v4) }
        }
    }
}

@Suite struct SocketAddressTests {
    @Test func describesLikeTheTools() {
        #expect(SocketAddress(IPAddress("198.18.0.1")!, port: 80).description == "198.18.0.1:80")
        #expect(SocketAddress(IPAddress("fe80::1")!, port: 7017, scope: 3).description == "[fe80::1%3]:7017")
        #expect(SocketAddress.any(.v6, port: 7017).description == "[::]:7017")
    }

    @Test func resolverTakesLiteralsAndHosts() throws {
        #expect(try Resolver.resolve("198.18.0.2") == [IPAddress("198.18.0.2")!])
        #expect(try Resolver.resolve("localhost", family: .v4) == [IPAddress("127.0.0.1")!])
    }
}
