import BowmanCore
import BowmanSystem
import CBowmanLinux
import CBowmanXDP
import Glibc

/// Attaching, detaching and inspecting Bowman's XDP program on an interface.
public enum XDPProgram {
    /// The program's name in the object (the function in bowman_xdp.c).
    public static let name = "bowman_xdp"
    public static let bpffs = "/sys/fs/bpf"

    /// Where the maps of the program on `interface` are pinned:
    /// `/sys/fs/bpf/bowman/ns<inode>/<interface>`, keyed by the calling
    /// thread's network namespace, since bpffs is shared by all namespaces
    /// and two of them may have an interface of the same name.
    public static func pinDirectory(_ interface: String) -> String { "\(namespaceDirectory())/\(interface)" }

    /// This network namespace's directory under /sys/fs/bpf/bowman.
    public static func namespaceDirectory() -> String {
        var st = stat()
        let inode = stat("/proc/thread-self/ns/net", &st) == 0 ? UInt64(st.st_ino) : 0
        return "\(bpffs)/bowman/ns\(inode)"
    }

    /// Removes pinned map directories of this namespace whose interface is
    /// gone or no longer carries Bowman's program (left by a killed run).
    /// Returns the interfaces cleaned.
    @discardableResult
    public static func removeStalePins() -> [String] {
        let dir = namespaceDirectory()
        guard let d = opendir(dir) else { return [] }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(d)
        var cleaned: [String] = []
        for n in names {
            let live = if_nametoindex(n) != 0 && ((try? programs(on: n)) ?? []).contains { $0.name == name }
            if live { continue }
            for m in [BOWMAN_MAP_XSKS, BOWMAN_MAP_HOST_V4, BOWMAN_MAP_HOST_V6, BOWMAN_MAP_PASS_PORT, BOWMAN_MAP_HOST_FILTER,
                      BOWMAN_MAP_COUNTERS] { unlink("\(dir)/\(n)/\(m)") }
            if rmdir("\(dir)/\(n)") == 0 { cleaned.append(n) }
        }
        rmdir(dir)
        return cleaned
    }

    /// Ports passed to the kernel whatever their address: SSH, GRASP (RFC 8990,
    /// UDP and TCP 7017), ALM 9998, ATM 9999, routing 9990, shim-UDP 3359, Hal 2001.
    public static let defaultPassPorts: [(UInt8, UInt16)] = [
        (6, 22), (17, 7017), (6, 7017), (17, 9998), (17, 9999), (17, 9990), (17, 3359), (6, 2001),
    ]

    /// The object built by `scripts/setup`: `$BOWMAN_BPF_OBJECT`, else
    /// `.build/bpf/bowman_xdp.o` found from the executable's location.
    public static func defaultObjectPath() -> String {
        if let env = getenv("BOWMAN_BPF_OBJECT") { return String(cString: env) }
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        if n > 0 {
            let exe = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            var dir = exe
            // .build/<triple>/<config>/bowman or .build/<config>/bowman: walk up to .build
            for _ in 0..<4 {
                dir = String(dir[..<(dir.lastIndex(of: "/") ?? dir.startIndex)])
                if dir.hasSuffix("/.build") { return dir + "/bpf/bowman_xdp.o" }
                if access(dir + "/bpf/bowman_xdp.o", F_OK) == 0 { return dir + "/bpf/bowman_xdp.o" }
            }
        }
        return ".build/bpf/bowman_xdp.o"
    }

    /// One XDP program found on an interface.
    public struct Attached: Sendable, Equatable {
        public var name: String
        public var id: UInt32
        public var priority: UInt32
        public var mode: XDPAttachMode?
        public var viaDispatcher: Bool
    }

    /// Programs on `interface` (in the calling thread's namespace).
    public static func programs(on interface: String) throws(XDPError) -> [Attached] {
        let index = try interfaceIndex(interface)
        var infos = [cbowman_xdp_prog_info](repeating: cbowman_xdp_prog_info(), count: 16)
        let n = cbowman_xdp_list(index, &infos, 16)
        guard n >= 0 else { throw XDPError("\(interface): cannot list XDP programs: \(Errno(-n))") }
        return infos[0..<Int(n)].map { i in
            var nameBuf = i.name
            let name = withUnsafeBytes(of: &nameBuf) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            return Attached(name: name, id: i.id, priority: i.priority, mode: XDPAttachMode(libxdpValue: i.mode),
                            viaDispatcher: i.is_dispatched != 0)
        }
    }

    static func interfaceIndex(_ interface: String) throws(XDPError) -> Int32 {
        guard !interface.isEmpty, interface.utf8.count < 16 else { throw XDPError("'\(interface)' is not a valid interface name") }
        let i = if_nametoindex(interface)
        guard i != 0 else { throw XDPError("no such interface: \(interface)") }
        return Int32(i)
    }

    /// Receive queues of an interface: ETHTOOL_GCHANNELS (namespace-aware),
    /// else /sys/class/net/IF/queues.
    public static func receiveQueueCount(_ interface: String) -> Int {
        let channels = cbowman_rx_queue_count(interface)
        if channels > 0 { return Int(channels) }
        guard let d = opendir("/sys/class/net/\(interface)/queues") else { return 1 }
        defer { closedir(d) }
        var n = 0
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix("rx-") { n += 1 }
        }
        return max(n, 1)
    }

    /// What `attach` did.
    public struct AttachReport: Sendable, CustomStringConvertible {
        public var interface: String
        public var programID: UInt32
        public var requestedMode: XDPAttachMode
        public var mode: XDPAttachMode?
        public var viaDispatcher: Bool
        public var hostAddresses: Int
        public var pinDirectory: String
        public var description: String {
            "attached \(XDPProgram.name) (id \(programID)) to \(interface) in \(mode?.description ?? "unknown") mode"
                + (viaDispatcher ? " through libxdp's dispatcher"
                    : " alone (libxdp's dispatcher did not load here; it needs kernel BTF and bpffs; BOWMAN_BPF_LOG=1 shows why)")
                + "; \(hostAddresses) host addresses pass to the kernel; maps pinned in \(pinDirectory)"
        }
    }

    /// Attaches the program to `interface`, pins its maps, and fills the
    /// host-address map with every address of this namespace (so traffic for
    /// the host reaches the kernel) and the management ports.
    /// Refuses, leaving the interface as it was, when the caller is not
    /// privileged, the interface or object is missing, `queues` exceeds the
    /// interface's queues, or a foreign program is attached outside libxdp's
    /// dispatcher (it would be replaced).
    /// - Parameter passHostAddresses: false leaves the host-address map empty
    ///   so every IP packet goes to the engine (benchmarks whose generator
    ///   targets the host's own address); ARP, ND, link-local traffic and
    ///   the management ports still pass.
    public static func attach(interface: String, mode: XDPAttachMode = .native, queues: Int? = nil,
                              objectPath: String? = nil, passHostAddresses: Bool = true) throws(XDPError) -> AttachReport {
        guard geteuid() == 0 else { throw XDPError("attaching an XDP program needs root (CAP_NET_ADMIN and CAP_BPF)") }
        let index = try interfaceIndex(interface)
        let object = objectPath ?? defaultObjectPath()
        guard access(object, R_OK) == 0 else {
            throw XDPError("XDP object \(object) not found: build it with scripts/setup (or set BOWMAN_BPF_OBJECT)")
        }
        let available = receiveQueueCount(interface)
        if let q = queues, q < 1 || q > available {
            throw XDPError("\(interface) has \(available) receive queue\(available == 1 ? "" : "s"); --queues \(q) is out of range")
        }
        let existing = try programs(on: interface)
        if let mine = existing.first(where: { $0.name == name }) {
            throw XDPError("\(interface) already carries \(name) (id \(mine.id)); run `bowman xdp detach --iface \(interface)` first")
        }
        if let foreign = existing.first(where: { !$0.viaDispatcher }) {
            throw XDPError("\(interface) carries XDP program \(foreign.name) (id \(foreign.id)) outside libxdp's dispatcher; "
                           + "attaching would replace it. Detach it first (ip link set dev \(interface) xdp off)")
        }
        ensureBPFFS()
        let pin = pinDirectory(interface)
        var id: UInt32 = 0
        var err = [CChar](repeating: 0, count: 512)
        let rc = cbowman_xdp_attach(object, index, mode.libxdpValue, pin, &id, &err, err.count)
        guard rc == 0 else {
            var text = String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if mode == .offload && -rc == EINVAL || -rc == EOPNOTSUPP { text += " (\(interface) does not support \(mode) mode)" }
            throw XDPError("\(interface): \(text)")
        }
        do {
            let maps = try XDPMaps(directory: pin)
            var hosts = 0
            if passHostAddresses { for a in localAddresses() { try maps.addHostAddress(a); hosts += 1 } }
            for (p, port) in defaultPassPorts { try maps.addPassPort(protocol: p, port: port) }
            let now = try programs(on: interface).first { $0.name == name }
            return AttachReport(interface: interface, programID: id, requestedMode: mode, mode: now?.mode,
                                viaDispatcher: now?.viaDispatcher ?? false, hostAddresses: hosts, pinDirectory: pin)
        } catch {
            _ = try? detach(interface: interface)
            throw error
        }
    }

    /// Detaches Bowman's program from `interface` and removes its pinned
    /// maps. Returns false when no Bowman program was attached.
    @discardableResult
    public static func detach(interface: String) throws(XDPError) -> Bool {
        let index = try interfaceIndex(interface)
        var err = [CChar](repeating: 0, count: 512)
        let n = cbowman_xdp_detach(index, name, pinDirectory(interface), &err, err.count)
        rmdir(namespaceDirectory())   // only when no other interface's maps are pinned there
        guard n >= 0 else {
            throw XDPError("\(interface): " + String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return n > 0
    }

    /// Interfaces of this namespace that carry Bowman's program (stale
    /// attachments of a crashed run among them).
    public static func interfacesCarryingBowman() -> [String] {
        allInterfaces().filter { ((try? programs(on: $0)) ?? []).contains { $0.name == name } }
    }

    /// Mounts bpffs at /sys/fs/bpf if it is not there (libxdp's dispatcher
    /// and map pinning need it).
    public static func ensureBPFFS() {
        if cbowman_is_bpffs(bpffs) == 0 { _ = cbowman_mount_bpffs(bpffs) }
    }

    /// Every IPv4/IPv6 address configured in this namespace.
    public static func localAddresses() -> [IPAddress] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }
        var out: [IPAddress] = []
        var p: UnsafeMutablePointer<ifaddrs>? = first
        while let a = p {
            if let sa = a.pointee.ifa_addr {
                switch Int32(sa.pointee.sa_family) {
                case AF_INET:
                    sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                        out.append(.v4(IPv4Address(rawValue: UInt32(bigEndian: $0.pointee.sin_addr.s_addr))))
                    }
                case AF_INET6:
                    sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { s in
                        var addr = s.pointee.sin6_addr
                        let v6 = withUnsafeBytes(of: &addr) { IPv6Address(loadingFrom: $0, at: 0) }
                        out.append(.v6(v6))
                    }
                default: break
                }
            }
            p = a.pointee.ifa_next
        }
        return Array(Set(out)).sorted { $0.description < $1.description }
    }

    /// Names of this namespace's interfaces.
    public static func allInterfaces() -> [String] {
        guard let list = if_nameindex() else { return [] }
        defer { if_freenameindex(list) }
        var out: [String] = []
        var p = list
        while p.pointee.if_index != 0 {
            out.append(String(cString: p.pointee.if_name))
            p += 1
        }
        return out
    }
}
