import Bowman
import BowmanTestSupport
import Foundation
import Testing

/// `bowman spf`'s output on a real map and on a links file (no privileges needed).
@Suite struct SPFTests {
    @Test func abileneFromNewYork() throws {
        var out: [String] = []
        try SPF.run(topology: TestData.path("topology/Abilene.graphml"), from: nil) { out.append($0) }
        #expect(out.count == 10)
        #expect(out.first == "Chicago 1146 Chicago")
        for l in out { #expect(l.split(separator: " ").count == 3, "\(l)") }
    }

    @Test func linksFileWithUnreachableNodesAndMultiHome() throws {
        let dir = try TestData.temporaryDirectory()
        let p = dir.appendingPathComponent("links").path
        try "a+1 b,2 3\nb,2 c 4\nd e 1\na+1 d 10\nc e 1\n".write(toFile: p, atomically: true, encoding: .utf8)
        var out: [String] = []
        try SPF.run(topology: p, from: "b,2") { out.append($0) }
        #expect(out == ["a+1 unreachable", "c 4 c", "d unreachable", "e 5 c"])
        out = []
        try SPF.run(topology: p, from: "a+1", multiHome: [["d", "c"]]) { out.append($0) }
        #expect(out == ["b,2 3 b,2", "c 7 b,2", "d 7 b,2", "e 8 b,2"])
        #expect(throws: SPF.Failure.self) { try SPF.run(topology: p, from: "nobody") { _ in } }
    }
}
