import BowmanControlIO
import BowmanCore
import BowmanLab
import BowmanRouting
import BowmanSystem
import BowmanTestSupport
import Foundation
import Testing

/// The kernel's main table followed into a route table, in a namespace of
/// its own: the dump, then `ip route add/replace/del`, ECMP (IPv4 and
/// IPv6), metrics, blackholes and neighbours as they happen.
@Suite(.serialized, .enabled(if: TestData.isRoot, "needs root to create network namespaces"))
struct KernelFIBTests {
    @Test func routesChangedWithIPShowUpInTheMirror() throws {
        let lab = VethLab(prefix: "bmfib", tag: "\(getpid() % 100_000)")
        try lab.setUp()
        defer { lab.tearDown() }
        let ns = lab.left, dev = lab.leftInterface
        let latencies = try inNamespace(ns) { () throws -> [Double] in
            let table = RouteTable(name: "main")
            let driver = try KernelFIBDriver(mirror: FIBMirror(routes: table))
            let m = driver.mirror
            func hops(_ a: String) -> String? { table.lookup(IPAddress(a)!).flatMap { m.nextHops(channel: $0)?.description } }
            let ifindex = Int32(try #require(try NetworkInterface.all().first { $0.name == dev }).index)
            // The dump: the connected routes of the veth's addresses.
            #expect(hops("198.18.0.77") == "dev \(ifindex)")
            #expect(hops("fd00:18::77") == "dev \(ifindex)")
            var latencies: [Double] = []
            /// Runs `ip ARGS` in the namespace, then pumps until `check` holds (2 s at most).
            func change(_ args: [String], until check: () -> Bool, _ what: String) throws {
                let t0 = SystemClock.monotonicNanoseconds
                try Shell.run(["ip", "-n", ns] + args)
                while !check() {
                    guard SystemClock.monotonicNanoseconds - t0 < 2_000_000_000 else { Issue.record("\(what): not seen in 2 s"); return }
                    _ = Poll.wait(for: driver.descriptor, milliseconds: 50)
                    try driver.pump()
                }
                latencies.append(Double(SystemClock.monotonicNanoseconds - t0) / 1e6)
            }
            let via2 = "via 198.18.0.2 dev \(ifindex)", via3 = "via 198.18.0.3 dev \(ifindex)"
            try change(["route", "add", "198.18.50.0/24", "via", "198.18.0.2"], until: { hops("198.18.50.9") == via2 }, "add")
            try change(["route", "replace", "198.18.50.0/24", "via", "198.18.0.3"], until: { hops("198.18.50.9") == via3 }, "replace")
            try change(["route", "del", "198.18.50.0/24"], until: { hops("198.18.50.9") == nil }, "del")
            try change(["route", "add", "198.18.60.0/24", "nexthop", "via", "198.18.0.2", "nexthop", "via", "198.18.0.3", "weight", "3"],
                       until: { hops("198.18.60.1") == "\(via2), \(via3) weight 3" }, "ECMP")
            try change(["-6", "route", "add", "fd00:60::/64", "nexthop", "via", "fd00:18::2", "nexthop", "via", "fd00:18::3"],
                       until: { hops("fd00:60::1") == "via fd00:18::2 dev \(ifindex), via fd00:18::3 dev \(ifindex)" }, "IPv6 ECMP")
            try change(["-6", "route", "del", "fd00:60::/64", "via", "fd00:18::2"],
                       until: { hops("fd00:60::1") == "via fd00:18::3 dev \(ifindex)" }, "IPv6 ECMP sibling deleted")
            try change(["route", "add", "198.18.70.0/24", "via", "198.18.0.2", "metric", "10"], until: { hops("198.18.70.1") == via2 }, "metric 10")
            try change(["route", "add", "198.18.70.0/24", "via", "198.18.0.3", "metric", "5"], until: { hops("198.18.70.1") == via3 }, "metric 5")
            try change(["route", "del", "198.18.70.0/24", "metric", "5"], until: { hops("198.18.70.1") == via2 }, "metric 5 gone")
            try change(["route", "add", "blackhole", "198.18.80.0/24"], until: { hops("198.18.80.1") == "blackhole" }, "blackhole")
            try change(["neigh", "replace", "198.18.0.9", "lladdr", "02:00:00:00:00:09", "dev", dev],
                       until: { m.neighbours[FIBMirror.NeighbourKey(interface: ifindex, address: IPAddress("198.18.0.9")!)]?.mac == MACAddress(2, 0, 0, 0, 0, 9) },
                       "neighbour")
            // A fresh dump gives the same table.
            let before = table.entries.map { "\($0.prefix) \(m.nextHops(channel: $0.channel)!)" }.sorted()
            try driver.synchronize()
            #expect(table.entries.map { "\($0.prefix) \(m.nextHops(channel: $0.channel)!)" }.sorted() == before)
            return latencies
        }
        #expect(latencies.count == 11)
        let median = latencies.sorted()[latencies.count / 2]
        print("kernel FIB change to Bowman's table: median \(median) ms, max \(latencies.max() ?? 0) ms")
        #expect(median < 100, "median \(median) ms: \(latencies)")
    }
}
