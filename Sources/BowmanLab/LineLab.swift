import Foundation

/// Three network namespaces in a line, generator — device under test —
/// sink, joined by two veth pairs (the shape of ../shared/perf/netns.sh):
///
///     gen: vA 198.18.0.1/24, fd00:18::1  ──  dut: vB 198.18.0.2, fd00:18::2
///     dut: vC 198.18.1.1/24, fd00:19::1  ──  sink: vD 198.18.1.2, fd00:19::2
///
/// Routes send 198.18.1.0/24 and fd00:19::/64 from gen through the dut (and
/// back from the sink), with static neighbours so no ARP/ND is needed.
/// Removed by `tearDown()`, also after a failed set-up.
public final class LineLab: @unchecked Sendable {
    public let gen: String, dut: String, sink: String
    public let vA: String, vB: String, vC: String, vD: String
    public private(set) var mac: [String: String] = [:]
    private var up = false

    public init(tag: String = String(getpid() % 100_000)) {
        gen = "bml-g-\(tag)"; dut = "bml-d-\(tag)"; sink = "bml-s-\(tag)"
        vA = "bla\(tag)"; vB = "blb\(tag)"; vC = "blc\(tag)"; vD = "bld\(tag)"
    }

    /// - Parameter queues: receive/transmit queues per veth (several workers
    ///   serve one queue each).
    ///   - staticNeighbours: false leaves every neighbour to ARP/ND (a router
    ///     under test resolves its next hops itself).
    public func setUp(dutForwarding: Bool = false, queues: Int = 1, staticNeighbours: Bool = true) throws {
        do {
            for n in [gen, dut, sink] { try Shell.run(["ip", "netns", "add", n]); up = true }
            let q = ["numrxqueues", "\(queues)", "numtxqueues", "\(queues)"]
            try Shell.run(["ip", "link", "add", vA, "netns", gen] + q + ["type", "veth", "peer", "name", vB, "netns", dut] + q)
            try Shell.run(["ip", "link", "add", vC, "netns", dut] + q + ["type", "veth", "peer", "name", vD, "netns", sink] + q)
            let plan = [(gen, vA, "198.18.0.1/24", "fd00:18::1/64"), (dut, vB, "198.18.0.2/24", "fd00:18::2/64"),
                        (dut, vC, "198.18.1.1/24", "fd00:19::1/64"), (sink, vD, "198.18.1.2/24", "fd00:19::2/64")]
            for (ns, ifc, v4, v6) in plan {
                try Shell.run(["ip", "-n", ns, "link", "set", "lo", "up"])
                try Shell.run(["ip", "-n", ns, "addr", "add", v4, "dev", ifc])
                try Shell.run(["ip", "-n", ns, "addr", "add", v6, "dev", ifc, "nodad"])
                try Shell.run(["ip", "-n", ns, "link", "set", ifc, "up"])
                let text = try Shell.run(["ip", "-n", ns, "-o", "link", "show", ifc])
                if let r = text.range(of: "link/ether ") { mac[ifc] = String(text[r.upperBound...].prefix(17)) }
            }
            try Shell.run(["ip", "-n", gen, "route", "add", "198.18.1.0/24", "via", "198.18.0.2"])
            try Shell.run(["ip", "-n", gen, "-6", "route", "add", "fd00:19::/64", "via", "fd00:18::2"])
            try Shell.run(["ip", "-n", sink, "route", "add", "198.18.0.0/24", "via", "198.18.1.1"])
            try Shell.run(["ip", "-n", sink, "-6", "route", "add", "fd00:18::/64", "via", "fd00:19::1"])
            for (ns, addr, m, ifc) in [(gen, "198.18.0.2", mac[vB]!, vA), (gen, "fd00:18::2", mac[vB]!, vA),
                                       (dut, "198.18.0.1", mac[vA]!, vB), (dut, "fd00:18::1", mac[vA]!, vB),
                                       (dut, "198.18.1.2", mac[vD]!, vC), (dut, "fd00:19::2", mac[vD]!, vC),
                                       (sink, "198.18.1.1", mac[vC]!, vD), (sink, "fd00:19::1", mac[vC]!, vD)] where staticNeighbours {
                try Shell.run(["ip", "-n", ns, "neigh", "replace", addr, "lladdr", m, "dev", ifc])
            }
            if dutForwarding {
                try Shell.run(["ip", "netns", "exec", dut, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
            }
        } catch {
            tearDown()
            throw error
        }
    }

    /// Deletes the three namespaces (and so the veth pairs). Idempotent.
    public func tearDown() {
        guard up else { return }
        up = false
        for n in [gen, dut, sink] { _ = try? Shell.run(["ip", "netns", "del", n]) }
    }

    deinit { tearDown() }
}
