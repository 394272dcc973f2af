import BowmanControl
import BowmanCore
import Testing

func ip(_ s: String) -> IPAddress { IPAddress(s)! }

@Suite struct AddressSelectionTests {
    /// RFC 6724 §10.2-style cases, each derived from the rules.
    @Test(arguments: [
        // Prefer matching scope: the IPv4 destination's only source is link-local.
        (["2001:db8:1::2", "fe80::1", "169.254.13.78"], ["2001:db8:1::1", "198.51.100.121"],
         [("2001:db8:1::1", "2001:db8:1::2"), ("198.51.100.121", "169.254.13.78")]),
        // Prefer matching scope: now the IPv6 destination has only a link-local source.
        (["fe80::1", "198.51.100.117"], ["2001:db8:1::1", "198.51.100.121"],
         [("198.51.100.121", "198.51.100.117"), ("2001:db8:1::1", "fe80::1")]),
        // Prefer higher precedence: native IPv6 (40) over IPv4-mapped (35).
        (["2001:db8:1::2", "fe80::1", "10.1.2.4"], ["10.1.2.3", "2001:db8:1::1"],
         [("2001:db8:1::1", "2001:db8:1::2"), ("10.1.2.3", "10.1.2.4")]),
        // Prefer smaller scope.
        (["2001:db8:1::2", "fe80::2"], ["2001:db8:1::1", "fe80::1"],
         [("fe80::1", "fe80::2"), ("2001:db8:1::1", "2001:db8:1::2")]),
    ] as [([String], [String], [(String, String)])])
    func destinationOrder(_ sources: [String], _ destinations: [String], _ expected: [(String, String)]) {
        let got = AddressSelection.order(destinations: destinations.map(ip), sources: sources.map(ip))
        #expect(got.map { "\($0.destination) via \($0.source.map { "\($0)" } ?? "-")" } == expected.map { "\($0.0) via \($0.1)" })
    }

    @Test func sourceSelectionRules() {
        // Rule 1: the destination itself.
        #expect(AddressSelection.source(for: ip("fd00::5"), from: [ip("fd00::1"), ip("fd00::5")]) == ip("fd00::5"))
        // Rule 2: a global destination takes a global source, a link-local one a link-local source.
        #expect(AddressSelection.source(for: ip("2001:db8::9"), from: [ip("fe80::1"), ip("2001:db8::2")]) == ip("2001:db8::2"))
        #expect(AddressSelection.source(for: ip("fe80::9"), from: [ip("2001:db8::2"), ip("fe80::1")]) == ip("fe80::1"))
        // Rule 6: matching label (ULA fc00::/7 has its own label).
        #expect(AddressSelection.source(for: ip("fd00:19::2"), from: [ip("2001:db8::2"), ip("fd00:18::1")]) == ip("fd00:18::1"))
        // Rule 8: longest matching prefix.
        #expect(AddressSelection.source(for: ip("2001:db8:1::9"), from: [ip("2001:db8:2::1"), ip("2001:db8:1::1")]) == ip("2001:db8:1::1"))
        // No source of the family.
        #expect(AddressSelection.source(for: ip("198.18.0.2"), from: [ip("fd00::1")]) == nil)
        #expect(AddressSelection.scope(ip("ff02::13")) == 2 && AddressSelection.scope(ip("169.254.1.1")) == 2)
    }
}

@Suite struct SecondShimTests {
    let sources = [ip("fd00:18::1"), ip("fd00:28::1"), ip("198.18.0.1"), ip("198.18.2.1")]
    let destinations = [ip("fd00:19::2"), ip("fd00:29::2"), ip("198.18.1.2")]

    @Test func policies() {
        let off = SecondShim.pairs(destinations: destinations, sources: sources, policy: .off)
        #expect(off.count == 1 && off[0].destination == ip("fd00:19::2"))
        let so = SecondShim.pairs(destinations: destinations, sources: sources, policy: .sourcesOnly)
        #expect(so.allSatisfy { $0.destination == ip("fd00:19::2") })
        #expect(Set(so.map(\.source)) == [ip("fd00:18::1"), ip("fd00:28::1")])
        let all = SecondShim.pairs(destinations: destinations, sources: sources, policy: .allPairs)
        #expect(all.count == 6 && Set(all).count == 6)
        // Families alternate from the preferred one (RFC 8305 §4). RFC 6724's
        // default table ranks ULAs (fc00::/7, precedence 3) below IPv4 (35),
        // so IPv4 leads here: v4, v6, v6.
        let firstOfEach = all.map(\.destination).reduce(into: [IPAddress]()) { if $0.last != $1 { $0.append($1) } }
        #expect(firstOfEach == [ip("198.18.1.2"), ip("fd00:19::2"), ip("fd00:29::2")])
        // With global IPv6 (precedence 40) IPv6 leads and the families alternate: v6, v4, v6.
        let global = SecondShim.pairs(destinations: [ip("2001:db8:9::2"), ip("2001:db8:8::2"), ip("198.51.100.2")],
                                      sources: [ip("2001:db8:1::1"), ip("198.51.100.1")], policy: .allPairs)
        #expect(global.map(\.destination) == [ip("2001:db8:9::2"), ip("198.51.100.2"), ip("2001:db8:8::2")])
        #expect(SecondShim.pairs(destinations: [], sources: sources, policy: .allPairs).isEmpty)
    }

    @Test func raceIsStaggeredAndStopsAtTheFirstSuccess() {
        let pairs = SecondShim.pairs(destinations: destinations, sources: sources, policy: .allPairs)
        var race = SecondShim.Race(pairs: pairs, now: 0)
        var attempts: [(UInt64, SecondShim.Pair)] = []
        func run(_ t: UInt64) { for a in race.tick(now: t) { if case .attempt(let p) = a { attempts.append((t, p)) } } }
        for t in stride(from: UInt64(0), through: 600, by: 50) { run(t) }
        #expect(attempts.map(\.0) == [0, 250, 500])
        // The second attempt fails: the fourth starts at once, not at 750.
        for a in race.failed(attempts[1].1, now: 620) { if case .attempt(let p) = a { attempts.append((620, p)) } }
        #expect(attempts.count == 4 && attempts[3].0 == 620)
        // The third answers: every other running attempt is cancelled, and the race is over.
        let done = race.succeeded(attempts[2].1, now: 700)
        #expect(done.last == .succeeded(attempts[2].1))
        #expect(Set(done.compactMap { if case .cancel(let p) = $0 { p } else { nil } }) == [attempts[0].1, attempts[3].1])
        #expect(race.winner == attempts[2].1 && race.tick(now: 5000).isEmpty)
    }

    @Test func everyPairFailing() {
        let pairs = SecondShim.pairs(destinations: [ip("198.18.1.2")], sources: [ip("198.18.0.1"), ip("198.18.2.1")], policy: .allPairs)
        var race = SecondShim.Race(pairs: pairs, now: 0)
        var started = race.tick(now: 0) + race.tick(now: 250)
        #expect(started.count == 2)
        started = race.failed(pairs[0], now: 300)
        #expect(started.isEmpty)
        #expect(race.failed(pairs[1], now: 310) == [.failed("every pair failed")])
    }

    @Test func overallTimeout() {
        var race = SecondShim.Race(pairs: SecondShim.pairs(destinations: destinations, sources: sources, policy: .allPairs), now: 0,
                                   attemptDelay: 100, timeout: 1000)
        var last: [SecondShim.Race.Action] = []
        for t in stride(from: UInt64(0), through: 1000, by: 100) { last = race.tick(now: t) }
        #expect(last.last == .failed("no pair answered within 1000 ms"))
        #expect(last.filter { if case .cancel = $0 { true } else { false } }.count == 6)
    }
}
