import BowmanCore
import BowmanSystem
import CBowmanXDP
import Glibc

/// The pinned maps of one interface's Bowman XDP program
/// (`/sys/fs/bpf/bowman/IF/`): host addresses, management ports, the XSKMAP
/// and the per-CPU verdict counters.
public final class XDPMaps: @unchecked Sendable {
    public let directory: String
    let xsks: Int32, hostV4: Int32, hostV6: Int32, passPorts: Int32, hostFilter: Int32, counters: Int32

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
        hostFilter = try open(BOWMAN_MAP_HOST_FILTER)
        counters = try open(BOWMAN_MAP_COUNTERS)
    }

    deinit { for fd in [xsks, hostV4, hostV6, passPorts, hostFilter, counters] { close(fd) } }

    /// Marks an address as the host's own: traffic to it goes to the kernel.
    public func addHostAddress(_ a: IPAddress) throws(XDPError) {
        let one: UInt8 = 1
        let rc: Int32
        var slot: UInt32
        switch a {
        case .v4(let v4):
            var key = v4.rawValue.bigEndian
            // The BPF side hashes the address's words as loaded from the packet (network order in memory).
            slot = bowman_host_hash(key, 0, 0, 0)
            rc = withUnsafePointer(to: one) { cbowman_bpf_map_update(hostV4, &key, $0) }
        case .v6(let v6):
            var key = bowman_ipv6_key()
            withUnsafeMutableBytes(of: &key.addr) { v6.store(to: $0, at: 0) }
            let w = withUnsafeBytes(of: &key.addr) { b in (0..<4).map { b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self) } }
            slot = bowman_host_hash(w[0], w[1], w[2], w[3])
            rc = withUnsafePointer(to: one) { cbowman_bpf_map_update(hostV6, &key, $0) }
        }
        if rc != 0 { throw XDPError("cannot add host address \(a): \(Errno(-rc))") }
        let frc = withUnsafePointer(to: one) { cbowman_bpf_map_update(hostFilter, &slot, $0) }
        if frc != 0 { throw XDPError("cannot add host address \(a) to the filter: \(Errno(-frc))") }
    }

    /// A TCP or UDP port whose traffic always goes to the kernel.
    public func addPassPort(protocol proto: UInt8, port: UInt16) throws(XDPError) {
        var key = UInt32(port)
        var flags: UInt8 = 0
        _ = cbowman_bpf_map_lookup(passPorts, &key, &flags)
        flags |= proto == 6 ? UInt8(BOWMAN_PASS_TCP) : UInt8(BOWMAN_PASS_UDP)
        let rc = cbowman_bpf_map_update(passPorts, &key, &flags)
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
