import BowmanLab
import BowmanSystem
import BowmanTestSupport
import Foundation
import Testing

/// The lab leaves nothing behind: its namespaces are gone after tearDown,
/// also when set-up fails part-way.
@Suite(.serialized, .enabled(if: TestData.isRoot, "needs root to create network namespaces"))
struct LabTests {
    func namespaces() throws -> String { try Shell.run(["ip", "netns", "list"]) }

    @Test func vethLabComesAndGoes() throws {
        let lab = VethLab(prefix: "bmlt", tag: "\(getpid() % 10_000)")
        try lab.setUp()
        #expect(try namespaces().contains(lab.left) && namespaces().contains(lab.right))
        let seen = try inNamespace(lab.left) { try NetworkInterface.all().map(\.name) }
        #expect(seen.contains(lab.leftInterface))
        lab.tearDown()
        #expect(try !namespaces().contains(lab.left) && !namespaces().contains(lab.right))
    }

    @Test func failedSetUpCleansUp() throws {
        let a = LoopbackLab(prefix: "bmlt", tag: "d\(getpid() % 10_000)")
        try a.setUp()
        defer { a.tearDown() }
        // A second lab of the same name cannot be made, and must not remove the first's.
        let b = LoopbackLab(prefix: "bmlt", tag: "d\(getpid() % 10_000)")
        #expect(throws: Shell.Failure.self) { try b.setUp() }
        #expect(try namespaces().contains(a.namespace))
    }
}
