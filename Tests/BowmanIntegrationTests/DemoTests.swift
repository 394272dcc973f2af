import Bowman
import BowmanLab
import BowmanPacket
import BowmanTestSupport
import Foundation
import Testing

/// Tests that need root: they make their own network namespaces (removed
/// again even when the test fails) and send traffic only inside them.
@Suite(.serialized, .enabled(if: TestData.isRoot, "needs root to create network namespaces and veth pairs"))
struct DemoTests {
    /// The demo's own namespaces (other suites make theirs in parallel).
    func namespaces() -> [String] {
        ((try? Shell.run(["ip", "netns", "list"])) ?? "").split(separator: "\n").map { String($0.split(separator: " ")[0]) }
            .filter { $0.hasPrefix("bmdemo-") }
    }

    @Test func demoMovesPacketsThroughBowman() throws {
        var o = Demo.Options()
        o.seconds = 1
        let before = Set(namespaces())
        let r = try Demo.run(o) { _ in }
        #expect(r.received > 1000, "\(r)")
        #expect(r.matched > 1000 && r.malformed == 0, "\(r)")
        #expect(r.received <= r.sent + 100, "received more than was sent (plus a little ND noise): \(r)")
        #expect(r.audit.isConsistent, "\(r.audit)")
        #expect(Set(namespaces()) == before, "namespaces left behind")
    }

    @Test(arguments: [60, 1514])
    func demoFrameSizes(_ size: Int) throws {
        var o = Demo.Options()
        o.seconds = 0.5
        o.frameSize = size
        let r = try Demo.run(o) { _ in }
        #expect(r.frameSize == size && r.matched > 0 && r.audit.isConsistent, "\(r)")
    }

    /// The XDP object the set-up built passes the kernel verifier and
    /// attaches natively to a veth, and detaches cleanly.
    @Test func xdpObjectLoadsOnVeth() throws {
        let object = TestData.repositoryRoot.appendingPathComponent(".build/bpf/bowman_xdp.o").path
        try #require(FileManager.default.fileExists(atPath: object), "\(object) missing: run scripts/setup --deps")
        let lab = VethLab(prefix: "bmx", tag: String(getpid() % 100_000))
        try lab.setUp()
        defer { lab.tearDown() }
        try Shell.run(["ip", "-n", lab.right, "link", "set", "dev", lab.rightInterface, "xdpdrv", "obj", object, "sec", "xdp"])
        let shown = try Shell.run(["ip", "-n", lab.right, "-d", "link", "show", lab.rightInterface])
        #expect(shown.contains("prog/xdp") && shown.contains("bowman_xdp"), "\(shown)")
        // With the program attached and no AF_XDP socket, host traffic still
        // reaches the kernel: ping the far side.
        let ping = try Shell.run(["ip", "netns", "exec", lab.left, "ping", "-c", "2", "-i", "0.2", "-W", "1", lab.rightIPv4])
        #expect(ping.contains("2 received"), "\(ping)")
        try Shell.run(["ip", "-n", lab.right, "link", "set", "dev", lab.rightInterface, "xdpdrv", "off"])
        let after = try Shell.run(["ip", "-n", lab.right, "-d", "link", "show", lab.rightInterface])
        #expect(!after.contains("prog/xdp"))
    }
}
