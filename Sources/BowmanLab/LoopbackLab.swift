import Foundation

/// One network namespace with only its loopback, up, holding addresses of
/// the benchmarking range (198.18.0.1/32 and fd00:18::1/128): a place for
/// socket tests whose traffic never leaves the namespace. Removed by
/// `tearDown()`, also after a failed set-up.
public final class LoopbackLab: @unchecked Sendable {
    public let namespace: String
    public let ipv4 = "198.18.0.1"
    public let ipv6 = "fd00:18::1"
    private var up = false

    public init(prefix: String = "bmlo", tag: String = String(getpid() % 100_000)) {
        namespace = "\(prefix)-\(tag)"
    }

    public func setUp() throws {
        do {
            try Shell.run(["ip", "netns", "add", namespace])
            up = true
            try Shell.run(["ip", "-n", namespace, "link", "set", "lo", "up"])
            try Shell.run(["ip", "-n", namespace, "addr", "add", "\(ipv4)/32", "dev", "lo"])
            try Shell.run(["ip", "-n", namespace, "addr", "add", "\(ipv6)/128", "dev", "lo", "nodad"])
        } catch {
            tearDown()
            throw error
        }
    }

    /// Deletes the namespace. Idempotent.
    public func tearDown() {
        guard up else { return }
        up = false
        _ = try? Shell.run(["ip", "netns", "del", namespace])
    }

    deinit { tearDown() }
}
