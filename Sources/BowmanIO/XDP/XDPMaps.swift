import BowmanCore
import BowmanSystem
import CBowmanXDP
import Glibc

/// The pinned maps of one interface's Bowman XDP program
/// (`/sys/fs/bpf/bowman/IF/`): host addresses, management ports, the XSKMAP
/// and the per-CPU verdict counters.
public final class XDPMaps: @unchecked Sendable {
    public let directory: String
    let xsks: Int32, hostV4: Int32, hostV6: Int32, passPorts: Int32, counters: Int32

    /// Verdict counters, in the order of `enum bowman_counter`.
    public enum Counter: Int, CaseIterable, Sendable, CustomStringConvertible {
        case redirected, passHostAddress, passARP, passND, passLinkLocal, passPort, passNoSocket, passOther, dropRunt
        public var description: String {
            switch self {
            case .redirected: "redirected"
            case .passHostAddress: "pass_host_address"
            case .passARP: "pass_arp"
            case .passND: "pass_nd"
            case .passLinkLocal: "pass_link_local"
            case .passPort: "pass_port"
            case .passNoSocket: "pass_no_socket"
            case .passOther: "pass_other"
            case .dropRunt: "drop_runt"
            }
        }
    }

    public init(directory: String) throws(XDPError) {
        self.directory = directory
        func open(_ name: String) throws(XDPError) -> Int32 {
            let fd = cbowman_bpf_obj_get("\(directory)/\(name)")
            guard fd >= 0 else { throw XDPError("cannot open pinned map \(directory)/\(name): \(Errno(-fd))") }
            return fd
        }
        xsks = try open(BOWMAN_MAP_XSKS)
        hostV4 = try open(BOWMAN_MAP_HOST_V4)
        hostV6 = try open(BOWMAN_MAP_HOST_V6)
        passPorts = try open(BOWMAN_MAP_PASS_PORT)
        counters = try open(BOWMAN_MAP_COUNTERS)
    }

    deinit { for fd in [xsks, hostV4, hostV6, passPorts, counters] { close(fd) } }

    /// Marks an address as the host's own: traffic to it goes to the kernel.
    public func addHostAddress(_ a: IPAddress) throws(XDPError) {
        let one: UInt8 = 1
        let rc: Int32
        switch a {
        case .v4(let v4):
            var key = v4.rawValue.bigEndian
            rc = withUnsafePointer(to: one) { cbowman_bpf_map_update(hostV4, &key, $0) }
        case .v6(let v6):
            var key = bowman_ipv6_key()
            withUnsafeMutableBytes(of: &key.addr) { v6.store(to: $0, at: 0) }
            rc = withUnsafePointer(to: one) { cbowman_bpf_map_update(hostV6, &key, $0) }
        }
        if rc != 0 { throw XDPError("cannot add host address \(a): \(Errno(-rc))") }
    }

    /// A TCP or UDP port whose traffic always goes to the kernel.
    public func addPassPort(protocol proto: UInt8, port: UInt16) throws(XDPError) {
        var key = bowman_port_key(protocol: proto, pad: 0, port: port.bigEndian)
        let one: UInt8 = 1
        let rc = withUnsafePointer(to: one) { cbowman_bpf_map_update(passPorts, &key, $0) }
        if rc != 0 { throw XDPError("cannot add pass port \(proto)/\(port): \(Errno(-rc))") }
    }

    /// Points the queue's XSKMAP slot at an AF_XDP socket.
    public func setSocket(queue: UInt32, fd: Int32) throws(XDPError) {
        var k = queue, v = UInt32(bitPattern: fd)
        let rc = cbowman_bpf_map_update(xsks, &k, &v)
        if rc != 0 { throw XDPError("cannot register AF_XDP socket for queue \(queue): \(Errno(-rc))") }
    }

    /// Empties the queue's XSKMAP slot (traffic then passes to the kernel).
    public func clearSocket(queue: UInt32) {
        var k = queue
        _ = cbowman_bpf_map_delete(xsks, &k)
    }

    /// Packets and bytes per verdict, summed over CPUs.
    public func readCounters() -> [(Counter, packets: UInt64, bytes: UInt64)] {
        Counter.allCases.map { c in
            var p: UInt64 = 0, b: UInt64 = 0
            _ = cbowman_counter_sum(counters, UInt32(c.rawValue), &p, &b)
            return (c, p, b)
        }
    }

    /// Number of entries in the host-address maps.
    public func hostAddressCount() -> Int {
        func count(_ fd: Int32, keySize: Int) -> Int {
            var n = 0
            var key = [UInt8](repeating: 0, count: keySize), next = key
            var rc = cbowman_bpf_map_next_key(fd, nil, &next)
            while rc == 0 && n < 10_000 { n += 1; key = next; rc = cbowman_bpf_map_next_key(fd, key, &next) }
            return n
        }
        return count(hostV4, keySize: 4) + count(hostV6, keySize: 16)
    }
}
