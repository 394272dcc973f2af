import BowmanCBOR
import BowmanControl
import BowmanCore
import Testing

/// The Bowman.ALM machine on a manual clock: what it asks of GRASP, what it reports.
@Suite struct ALMNeighboursTests {
    let me = IPAddress("fe80::1")!, peer = IPAddress("fe80::2")!, other = IPAddress("fe80::3")!
    func locator(_ a: IPAddress) -> GRASPLocator {
        guard case .v6(let v6) = a else { fatalError() }
        return .ipv6(v6, transport: 6, port: GRASP.port)
    }
    func value(_ addr: String, _ port: UInt16) -> CBOR { ALMNeighbours.value(ShimUDP.Endpoint(IPAddress(addr)!, port)) }

    @Test func discoversOnItsIntervalAndSynchronisesWithOthersOnly() {
        var m = ALMNeighbours(interval: 1_000, ownAddresses: [me])
        #expect(m.handle([], now: 5_000).requests == [.discover])
        #expect(m.nextDeadline == 6_000)
        #expect(m.handle([], now: 5_999).requests.isEmpty)
        let r = m.handle([.discovered(objective: ALMNeighbours.objective, locators: [locator(me), locator(peer), locator(other)])], now: 5_999)
        #expect(r.requests == [.synchronize(with: peer), .synchronize(with: other)])
        // Another objective's discovery is not ours.
        #expect(m.handle([.discovered(objective: "Other", locators: [locator(peer)])], now: 5_999).requests.isEmpty)
        #expect(m.handle([], now: 6_000).requests == [.discover])
    }

    @Test func reportsNewAndChangedNeighboursAndForgetsSilentOnes() {
        var m = ALMNeighbours(interval: 1_000, ownAddresses: [me])
        _ = m.handle([], now: 0)
        let v1 = value("198.18.0.2", 3359)
        let a = m.handle([.synchronized(objective: ALMNeighbours.objective, value: v1, from: peer)], now: 100)
        #expect(a.changed.count == 1 && a.changed[0].alm == ShimUDP.Endpoint(IPAddress("198.18.0.2")!, 3359))
        // The same value again: seen, not changed.
        #expect(m.handle([.synchronized(objective: ALMNeighbours.objective, value: v1, from: peer)], now: 900).changed.isEmpty)
        #expect(m.neighbours[peer]?.lastSeen == 900)
        // A new value is a change; a value that is not an endpoint is kept, without an endpoint.
        let v2 = value("198.18.0.9", 3359)
        #expect(m.handle([.synchronized(objective: ALMNeighbours.objective, value: v2, from: peer)], now: 1_000).changed.map(\.grasp) == [peer])
        let odd = m.handle([.synchronized(objective: ALMNeighbours.objective, value: .text("?"), from: other)], now: 1_000).changed
        #expect(odd.count == 1 && odd[0].alm == nil)
        // Three intervals of silence: gone.
        _ = m.handle([], now: 4_000)
        #expect(m.neighbours.count == 2)
        _ = m.handle([], now: 4_001)
        #expect(m.neighbours.isEmpty)
    }

    @Test func endpointValuesRoundTripAndBadOnesAreRefused() {
        let e = ShimUDP.Endpoint(IPAddress("fd00:18::2")!, 3359)
        #expect(ALMNeighbours.endpoint(ALMNeighbours.value(e)) == e)
        #expect(ALMNeighbours.endpoint(.array([.text("198.18.0.2"), .unsigned(0)])) == nil)
        #expect(ALMNeighbours.endpoint(.array([.text("198.18.0.2"), .unsigned(70_000)])) == nil)
        #expect(ALMNeighbours.endpoint(.array([.text("not-an-address"), .unsigned(1)])) == nil)
        #expect(ALMNeighbours.endpoint(.array([.text("198.18.0.2")])) == nil)
        let o = ALMNeighbours.offer(e)
        #expect(o.name == ALMNeighbours.objective && o.flags.contains(.discovery) && o.flags.contains(.synchronization))
    }
}
