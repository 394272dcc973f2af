import Foundation

/// Two network namespaces joined by one veth pair, made for a demo or a
/// test and removed again by `tearDown()` (also on failure part-way).
/// Addresses come from the benchmarking range 198.18.0.0/15 and fd00::/8,
/// so traffic never leaves the namespaces.
public final class VethLab: @unchecked Sendable {
    public let left: String
    public let right: String
    public let leftInterface: String
    public let rightInterface: String
    public let leftIPv4 = "198.18.0.1"
    public let rightIPv4 = "198.18.0.2"
    public let leftIPv6 = "fd00:18::1"
    public let rightIPv6 = "fd00:18::2"
    public private(set) var leftMAC = ""
    public private(set) var rightMAC = ""
    private var up = false

    /// - Parameter tag: a short unique tag (the PID by default) so parallel
    ///   runs do not collide; names stay within IFNAMSIZ.
    public init(prefix: String = "bm", tag: String = String(getpid())) {
        left = "\(prefix)-a-\(tag)"
        right = "\(prefix)-b-\(tag)"
        leftInterface = "\(prefix)a\(tag)".prefix(15).description
        rightInterface = "\(prefix)b\(tag)".prefix(15).description
    }

    /// Creates the namespaces, the veth pair and the addresses; static
    /// neighbours so no ARP/ND is needed for the first packet.
    public func setUp() throws {
        do {
            try Shell.run(["ip", "netns", "add", left])
            up = true
            try Shell.run(["ip", "netns", "add", right])
            try Shell.run(["ip", "link", "add", leftInterface, "netns", left, "type", "veth",
                           "peer", "name", rightInterface, "netns", right])
            for (ns, ifc, v4, v6) in [(left, leftInterface, leftIPv4, leftIPv6), (right, rightInterface, rightIPv4, rightIPv6)] {
                try Shell.run(["ip", "-n", ns, "link", "set", "lo", "up"])
                try Shell.run(["ip", "-n", ns, "addr", "add", "\(v4)/24", "dev", ifc])
                try Shell.run(["ip", "-n", ns, "addr", "add", "\(v6)/64", "dev", ifc, "nodad"])
                try Shell.run(["ip", "-n", ns, "link", "set", ifc, "up"])
            }
            leftMAC = try mac(left, leftInterface)
            rightMAC = try mac(right, rightInterface)
            try Shell.run(["ip", "-n", left, "neigh", "replace", rightIPv4, "lladdr", rightMAC, "dev", leftInterface])
            try Shell.run(["ip", "-n", right, "neigh", "replace", leftIPv4, "lladdr", leftMAC, "dev", rightInterface])
        } catch {
            tearDown()
            throw error
        }
    }

    private func mac(_ ns: String, _ ifc: String) throws -> String {
        let text = try Shell.run(["ip", "-n", ns, "-o", "link", "show", ifc])
        guard let r = text.range(of: "link/ether ") else { return "" }
        return String(text[r.upperBound...].prefix(17))
    }

    /// Waits until both ends have a usable (no longer tentative) IPv6
    /// link-local address, as GRASP needs; false after `seconds`.
    public func waitForLinkLocal(seconds: Double = 5) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            let ready = [(left, leftInterface), (right, rightInterface)].allSatisfy { ns, ifc in
                guard let t = try? Shell.run(["ip", "-n", ns, "-6", "-o", "addr", "show", "dev", ifc, "scope", "link"]) else { return false }
                return t.contains("fe80") && !t.contains("tentative")
            }
            if ready { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    /// Deletes both namespaces (which deletes the veth pair). Idempotent.
    public func tearDown() {
        guard up else { return }
        up = false
        _ = try? Shell.run(["ip", "netns", "del", left])
        _ = try? Shell.run(["ip", "netns", "del", right])
    }

    deinit { tearDown() }
}
