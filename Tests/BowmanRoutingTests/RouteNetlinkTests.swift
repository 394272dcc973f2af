import BowmanCore
import BowmanRouting
import BowmanTestSupport
import Testing

/// rtnetlink messages built by hand as the kernel lays them out (host
/// order, 4-byte aligned attributes), decoded; every cut of them refused
/// with an offset, never a crash; and the mirror's rules on top.
@Suite struct RouteNetlinkTests {
    static func attr(_ type: UInt16, _ value: [UInt8]) -> [UInt8] {
        var b = le16(UInt16(4 + value.count)) + le16(type) + value
        while b.count % 4 != 0 { b.append(0) }
        return b
    }
    static func le16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func message(_ type: UInt16, flags: UInt16 = 0, seq: UInt32 = 0, _ payload: [UInt8]) -> [UInt8] {
        le32(UInt32(16 + payload.count)) + le16(type) + le16(flags) + le32(seq) + le32(0) + payload
    }
    /// rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
    static func rtmsg(family: UInt8, length: UInt8, type: UInt8 = 1) -> [UInt8] {
        [family, length, 0, 0, 254, 4, 0, type] + le32(0)
    }
    static let v4a: [UInt8] = [198, 18, 50, 0], gw1: [UInt8] = [198, 18, 0, 2], gw2: [UInt8] = [198, 18, 0, 3]

    static var ecmpRoute: [UInt8] {
        let hop1 = le16(16) + [0, 0] + le32(3) + attr(5, gw1)
        let hop2 = le16(16) + [0, 1] + le32(3) + attr(5, gw2)      // weight 2
        return message(24, flags: 0x400 | 0x200, seq: 7,
                       rtmsg(family: 2, length: 24) + attr(15, le32(254)) + attr(1, v4a) + attr(6, le32(20)) + attr(9, hop1 + hop2))
    }

    @Test func routesWithECMPNeighboursDoneAndErrors() throws {
        let neigh = Self.message(28, [2, 0, 0, 0] + Self.le32(3) + Self.le16(0x02) + [0, 1]
                                      + Self.attr(1, Self.gw1) + Self.attr(2, [2, 0, 0, 0, 0, 9]))
        let done = Self.message(3, flags: 0x2 | 0x10, seq: 7, Self.le32(0))
        let err = Self.message(2, seq: 8, Self.le32(UInt32(bitPattern: -17)) + [UInt8](repeating: 0, count: 16))
        let bytes = Self.ecmpRoute + neigh + done + err
        let events = try bytes.withUnsafeBytes { try RouteNetlink.events($0) }
        #expect(events.count == 4)
        guard case .addRoute(let r, let replace) = events[0] else { Issue.record("\(events[0])"); return }
        #expect(!replace && r.prefix == IPPrefix("198.18.50.0/24")! && r.table == 254 && r.priority == 20 && r.type == .unicast)
        #expect(r.nextHops == [RouteNetlink.NextHop(gateway: IPAddress("198.18.0.2"), interface: 3),
                               RouteNetlink.NextHop(gateway: IPAddress("198.18.0.3"), interface: 3, weight: 2)])
        guard case .addNeighbour(let n) = events[1] else { Issue.record("\(events[1])"); return }
        #expect(n.address == IPAddress("198.18.0.2")! && n.interface == 3 && n.mac == MACAddress(2, 0, 0, 0, 0, 9) && n.isUsable)
        #expect(events[2] == .done(sequence: 7, interrupted: true))
        #expect(events[3] == .error(sequence: 8, code: -17))
    }

    @Test func ipv6RouteAndADumpRequest() throws {
        let dst: [UInt8] = [0xfd, 0, 0, 0x60] + [UInt8](repeating: 0, count: 12)
        let gw: [UInt8] = [0xfd, 0, 0, 0x18] + [UInt8](repeating: 0, count: 11) + [2]
        let m = Self.message(25, Self.rtmsg(family: 10, length: 64) + Self.attr(1, dst) + Self.attr(5, gw) + Self.attr(4, Self.le32(5)))
        let e = try m.withUnsafeBytes { try RouteNetlink.events($0) }
        #expect(e == [.deleteRoute(RouteNetlink.Route(prefix: IPPrefix("fd00:60::/64")!, table: 254, type: .unicast, protocolID: 4,
                                                       priority: 0, nextHops: [RouteNetlink.NextHop(gateway: IPAddress("fd00:18::2"), interface: 5)]))])
        let req = RouteNetlink.dumpRequest(RouteNetlink.getRoute, family: 0, sequence: 9)
        #expect(req == Self.le32(28) + Self.le16(26) + Self.le16(0x301) + Self.le32(9) + Self.le32(0) + [UInt8](repeating: 0, count: 12))
    }

    @Test func everyCutIsRefusedWithAnOffset() {
        let whole = Self.ecmpRoute
        for cut in 0..<whole.count {
            var part = Array(whole[0..<cut])
            // Keep the header's length honest where a header is whole, so the
            // cut lands inside the payload's own fields.
            if cut >= 16 { part.replaceSubrange(0..<4, with: Self.le32(UInt32(cut))) }
            do throws(RouteNetlink.Failure) {
                let e = try part.withUnsafeBytes { p in Result { () throws(RouteNetlink.Failure) in try RouteNetlink.events(p) } }.get()
                // Some cuts end between attributes: a shorter but well-formed route.
                #expect(cut == 0 || cut >= 28, "cut \(cut) accepted: \(e)")
            } catch {
                #expect(error.offset >= 0 && error.offset <= cut, "cut \(cut): \(error)")
            }
        }
        // Lengths that lie.
        var bad = Self.ecmpRoute
        bad.replaceSubrange(0..<4, with: Self.le32(9))
        #expect(throws: RouteNetlink.Failure.self) { try bad.withUnsafeBytes { try RouteNetlink.events($0) } }
        bad = Self.ecmpRoute
        bad.replaceSubrange(28..<30, with: Self.le16(200))          // first attribute longer than the message
        #expect { try bad.withUnsafeBytes { try RouteNetlink.events($0) } } throws: { e in
            (e as? RouteNetlink.Failure)?.description == "netlink message at byte 28: route attribute 15 has length 200, \(bad.count - 28) bytes left"
        }
    }

    func route(_ p: String, _ gws: [String], priority: UInt32 = 0, type: RouteNetlink.RouteType = .unicast, table: UInt32 = 254) -> RouteNetlink.Route {
        RouteNetlink.Route(prefix: IPPrefix(p)!, table: table, type: type, protocolID: 4, priority: priority,
                           nextHops: gws.map { RouteNetlink.NextHop(gateway: IPAddress($0), interface: 2) })
    }

    @Test func mirrorKeepsPrioritiesECMPSiblingsAndKinds() throws {
        let t = RouteTable(name: "main")
        let m = FIBMirror(routes: t)
        func hops(_ a: String) -> String? { t.lookup(IPAddress(a)!).flatMap { m.nextHops(channel: $0)?.description } }
        #expect(try m.apply(.addRoute(route("198.18.70.0/24", ["198.18.0.2"], priority: 10), replace: false)))
        #expect(try m.apply(.addRoute(route("198.18.70.0/24", ["198.18.0.3"], priority: 5), replace: false)))
        #expect(hops("198.18.70.1") == "via 198.18.0.3 dev 2")
        #expect(try m.apply(.deleteRoute(route("198.18.70.0/24", ["198.18.0.3"], priority: 5))))
        #expect(hops("198.18.70.1") == "via 198.18.0.2 dev 2")
        // Another table's routes and local routes are not this mirror's.
        #expect(try !m.apply(.addRoute(route("198.18.71.0/24", ["198.18.0.2"], table: 100), replace: false)))
        #expect(try !m.apply(.addRoute(route("198.18.0.1/32", [], type: .local, table: 255), replace: false)))
        // IPv6 ECMP siblings arrive one by one and leave one by one.
        _ = try m.apply(.addRoute(route("fd00:60::/64", ["fd00:18::2"]), replace: false))
        _ = try m.apply(.addRoute(route("fd00:60::/64", ["fd00:18::3"]), replace: false))
        #expect(hops("fd00:60::1") == "via fd00:18::2 dev 2, via fd00:18::3 dev 2")
        _ = try m.apply(.deleteRoute(route("fd00:60::/64", ["fd00:18::2"])))
        #expect(hops("fd00:60::1") == "via fd00:18::3 dev 2")
        // A replace replaces.
        _ = try m.apply(.addRoute(route("fd00:60::/64", ["fd00:18::4"]), replace: true))
        #expect(hops("fd00:60::1") == "via fd00:18::4 dev 2")
        _ = try m.apply(.deleteRoute(route("fd00:60::/64", [])))
        #expect(t.lookup(IPAddress("fd00:60::1")!) == nil)
        // Blackholes are routes too; the same next-hop set is one channel.
        _ = try m.apply(.addRoute(route("198.18.80.0/24", [], type: .blackhole), replace: false))
        #expect(hops("198.18.80.9") == "blackhole")
        _ = try m.apply(.addRoute(route("198.18.90.0/24", ["198.18.0.2"]), replace: false))
        #expect(t.lookup(IPAddress("198.18.90.1")!) == t.lookup(IPAddress("198.18.70.1")!))
        try m.reset()
        #expect(t.count == 0)
    }
}
