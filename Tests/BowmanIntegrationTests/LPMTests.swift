import Bowman
import BowmanCore
import BowmanTestSupport
import Foundation
import Testing

/// `bowman lpm` on the RouteViews IPv6 table: every answer checked against a
/// scan of the same routes (no privileges needed).
@Suite struct LPMTests {
    @Test func routeViewsLookupsMatchAScan() throws {
        let routesPath = TestData.path("routing/ipv6-routes-852")
        let text = try String(contentsOfFile: routesPath, encoding: .utf8)
        var routes: [(IPPrefix, String)] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            routes.append((IPPrefix(f[0])!, String(f[1])))
        }
        // Addresses inside a sample of the table's prefixes (random low bits),
        // plus ones that miss.
        var rng = SeededRandom(seed: 852)
        var lookups: [IPAddress] = []
        for _ in 0..<300 {
            let (p, _) = routes[Int.random(in: 0..<routes.count, using: &rng)]
            guard case .v6(let a) = p.address else { continue }
            let l = Int(p.length)
            let hostHigh: UInt64 = l >= 64 ? 0 : (l == 0 ? ~0 : ~0 >> l)
            let hostLow: UInt64 = l >= 128 ? 0 : (l <= 64 ? ~0 : ~0 >> (l - 64))
            lookups.append(.v6(IPv6Address(high: a.high | (UInt64.random(in: 0...UInt64.max, using: &rng) & hostHigh),
                                           low: a.low | (UInt64.random(in: 0...UInt64.max, using: &rng) & hostLow))))
        }
        lookups += ["fd00::1", "::1", "198.18.0.1"].map { IPAddress($0)! }
        let dir = try TestData.temporaryDirectory()
        let lookupPath = dir.appendingPathComponent("lookups.txt").path
        try lookups.map(\.description).joined(separator: "\n").write(toFile: lookupPath, atomically: true, encoding: .utf8)

        var out: [String] = []
        let t = try LPM.run(routes: routesPath, lookups: lookupPath) { out.append($0) }
        #expect(t.lookups == lookups.count && out.count == lookups.count)
        for (i, a) in lookups.enumerated() {
            // The reference: the longest prefix holding the address; a later
            // line for the same prefix replaces an earlier one.
            var best: (Int, String)? = nil
            for (p, nh) in routes where p.contains(a) {
                if best == nil || Int(p.length) >= best!.0 { best = (Int(p.length), nh) }
            }
            #expect(out[i] == "\(a) \(best?.1 ?? "-")", "\(a)")
        }
    }

    @Test func malformedLinesNameFileLineAndColumn() throws {
        let dir = try TestData.temporaryDirectory()
        let r = dir.appendingPathComponent("routes").path, l = dir.appendingPathComponent("lookups").path
        try "198.18.0.0/15 a\r\n# comment\r\nfd00::/8 b\r\n".write(toFile: r, atomically: true, encoding: .utf8)
        try "198.18.1.1\n\n  fd00::/8\n".write(toFile: l, atomically: true, encoding: .utf8)
        do {
            _ = try LPM.run(routes: r, lookups: l) { _ in Issue.record("printed before checking") }
            Issue.record("accepted")
        } catch {
            #expect("\(error)" == "\(l):3:3: 'fd00::/8' is not an IPv4 or IPv6 address")
        }
        try "198.18.0.0/33 a\n".write(toFile: r, atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { try LPM.run(routes: r, lookups: l) { _ in } }
        do { _ = try LPM.run(routes: r, lookups: l) { _ in } } catch {
            #expect("\(error)" == "\(r):1:1: '198.18.0.0/33' is not an IPv4 or IPv6 prefix")
        }
    }
}
