import BowmanCBOR
import BowmanControl
import BowmanCore
import Glibc

/// Runs a `GRASPNode` on real sockets, as RFC 8990 §2.5 lays them out:
/// - per interface, a UDP socket bound to the interface's link-local
///   address that sends multicast to ff02::13 port 7017 (hop limit 1,
///   multicast loopback off);
/// - one UDP listener on port 7017 joined to ff02::13 on every interface
///   (the arrival interface is the scope of the link-local sender);
/// - one TCP listener on port 7017 for unicast messages: discovery
///   responses and synchronisation requests. A synchronisation answer goes
///   back on the connection the request came on; a discovery response is
///   sent on a new connection to the initiator's port 7017 (what graspy
///   does); a synchronisation request opens a connection and reads the
///   answer from it.
/// One thread; the caller drives it with `poll(milliseconds:)`.
public final class GRASPSocketNode {
    public struct Interface: Sendable, CustomStringConvertible {
        public var name: String
        public var index: UInt32
        public var linkLocal: IPv6Address
        public var description: String { "\(name) (\(linkLocal))" }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public private(set) var engine: GRASPNode
    public let interfaces: [Interface]
    var senders: [Int32] = []                 // per interface
    var udpListener: Int32 = -1
    var tcpListener: Int32 = -1
    struct Connection {
        var peer: IPAddress
        var buffer: [UInt8]
        var deadline: UInt64
        /// Outbound connect still in progress: `outgoing` waits for it.
        var connecting = false
        var outgoing: [(GRASP.MessageType, [UInt8])] = []
        /// Keep the connection after sending (a session waiting for answers).
        var keepOpen = true
    }
    var connections: [Int32: Connection] = [:]
    var scopes: [IPv6Address: UInt32] = [:]   // link-local peer -> interface index
    var sessionConnections: [UInt32: Int32] = [:]   // open negotiation/synchronisation session -> its TCP connection
    /// Messages written, by type name, and TCP connections that failed.
    public private(set) var sent: [String: Int] = [:]
    public private(set) var connectFailures = 0

    /// The node's usable interfaces: up, multicast, not loopback, with an
    /// IPv6 link-local address (and not tentative: binding it must work).
    public static func findInterfaces(only names: [String] = []) throws -> [Interface] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { throw Failure(description: "getifaddrs: \(String(cString: strerror(errno)))") }
        defer { freeifaddrs(list) }
        var out: [Interface] = []
        var p = list
        while let i = p {
            defer { p = i.pointee.ifa_next }
            guard let sa = i.pointee.ifa_addr, Int32(sa.pointee.sa_family) == AF_INET6 else { continue }
            let flags = i.pointee.ifa_flags
            guard flags & UInt32(IFF_UP) != 0, flags & UInt32(IFF_MULTICAST) != 0,
                  flags & UInt32(IFF_LOOPBACK) == 0 else { continue }
            let name = String(cString: i.pointee.ifa_name)
            guard names.isEmpty || names.contains(name) else { continue }
            let a = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { q -> IPv6Address in
                var addr = q.pointee.sin6_addr
                return withUnsafeBytes(of: &addr) { IPv6Address(loadingFrom: $0, at: 0) }
            }
            guard Self.isLinkLocal(a), !out.contains(where: { $0.name == name }) else { continue }
            out.append(Interface(name: name, index: if_nametoindex(name), linkLocal: a))
        }
        if let missing = names.first(where: { n in !out.contains { $0.name == n } }) {
            throw Failure(description: "interface \(missing): not found, down, or without an IPv6 link-local address")
        }
        return out.sorted { $0.index < $1.index }
    }

    static func isLinkLocal(_ a: IPv6Address) -> Bool {
        var b = [UInt8](repeating: 0, count: 16)
        b.withUnsafeMutableBytes { a.store(to: $0, at: 0) }
        return b[0] == 0xFE && b[1] & 0xC0 == 0x80
    }

    /// Opens the sockets on `interfaces` (all usable ones when empty).
    /// The initiator address of our messages is the first interface's link-local address.
    public init(interfaces names: [String] = [], configuration: GRASPNode.Configuration = .init()) throws {
        let found = try Self.findInterfaces(only: names)
        guard let first = found.first else {
            throw Failure(description: "no interface is up with an IPv6 link-local address (GRASP runs on link-local IPv6)")
        }
        interfaces = found
        var cfg = configuration
        var rng = SystemRandomNumberGenerator()
        cfg.seed = rng.next()
        engine = GRASPNode(address: .v6(first.linkLocal), configuration: cfg)
        do {
            for i in found {
                let fd = try Self.socket(SOCK_DGRAM)
                senders.append(fd)
                var idx = Int32(i.index), hops: Int32 = 1, loop: Int32 = 0
                setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_IF, &idx, 4)
                setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_HOPS, &hops, 4)
                setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_LOOP, &loop, 4)
                // A link-local address is tentative for a second or two after
                // the link comes up (DAD); wait for it rather than fail.
                var tries = 0
                while true {
                    do { try Self.bind(fd, i.linkLocal, port: 0, scope: i.index); break } catch {
                        tries += 1
                        guard errno == EADDRNOTAVAIL, tries < 50 else { throw error }
                        usleep(100_000)
                    }
                }
            }
            udpListener = try Self.socket(SOCK_DGRAM)
            try Self.bind(udpListener, IPv6Address("::")!, port: GRASP.port, scope: 0)
            for i in found {
                var m = ipv6_mreq()
                withUnsafeMutableBytes(of: &m.ipv6mr_multiaddr) { GRASP.allGraspNeighbors.store(to: $0, at: 0) }
                m.ipv6mr_interface = i.index
                guard setsockopt(udpListener, Int32(IPPROTO_IPV6), IPV6_ADD_MEMBERSHIP, &m, socklen_t(MemoryLayout<ipv6_mreq>.size)) == 0 else {
                    throw Failure(description: "cannot join ff02::13 on \(i.name): \(String(cString: strerror(errno)))")
                }
            }
            tcpListener = try Self.socket(SOCK_STREAM)
            try Self.bind(tcpListener, IPv6Address("::")!, port: GRASP.port, scope: 0)
            guard listen(tcpListener, 64) == 0 else { throw Failure(description: "listen: \(String(cString: strerror(errno)))") }
        } catch {
            closeAll()
            throw error
        }
    }

    deinit { closeAll() }

    func closeAll() {
        for fd in senders + [udpListener, tcpListener] + Array(connections.keys) where fd >= 0 { close(fd) }
        senders = []; udpListener = -1; tcpListener = -1; connections = [:]
    }

    public static func now() -> UInt64 { ShimUDPNode.now() }

    // MARK: Calls

    public func offer(_ objective: GRASPObjective, at locator: GRASPLocator?) { engine.offer(objective, at: locator) }
    /// The locator of this node's own GRASP listener (where it answers synchronisation).
    public var listenerLocator: GRASPLocator { .ipv6(interfaces[0].linkLocal, transport: UInt8(IPPROTO_TCP), port: GRASP.port) }
    public func discover(_ name: String, loopCount: UInt8 = 1, bypassCache: Bool = false) -> [GRASPNode.Action] {
        perform(engine.discover(name, loopCount: loopCount, bypassCache: bypassCache, now: Self.now()), replyOn: nil)
    }
    public func synchronize(_ name: String, with peer: IPAddress) -> [GRASPNode.Action] {
        perform(engine.synchronize(name, with: peer, now: Self.now()), replyOn: nil)
    }
    /// Opens a negotiation with `peer` (its GRASP port); see `GRASPNode.negotiate`.
    public func negotiate(_ objective: GRASPObjective, with peer: IPAddress) -> (UInt32?, [GRASPNode.Action]) {
        let (s, a) = engine.negotiate(objective, with: peer, now: Self.now())
        return (s, perform(a, replyOn: nil))
    }
    /// The local answer in an open negotiation.
    public func negotiate(session: UInt32, _ answer: GRASPNode.NegotiationAnswer) -> [GRASPNode.Action] {
        perform(engine.negotiate(session: session, answer, now: Self.now()), replyOn: nil)
    }
    public func flood(_ objective: GRASPObjective, locator: GRASPLocator?) -> [GRASPNode.Action] {
        perform(engine.flood(objective, locator: locator, now: Self.now()), replyOn: nil)
    }

    /// Waits up to `milliseconds` for messages or timers; returns the results.
    public func poll(milliseconds: Int32) -> [GRASPNode.Action] {
        var fds = pollDescriptors
        var wait = milliseconds
        if let d = nextDeadline { wait = min(wait, Int32(clamping: max(0, Int64(d) - Int64(Self.now())))) }
        _ = Glibc.poll(&fds, nfds_t(fds.count), wait)
        return service(readable: Set(fds.filter { $0.revents != 0 }.map(\.fd)))
    }

    /// What to watch (for a shared event loop): input everywhere, and
    /// writability on connections whose connect is still in progress.
    public var pollDescriptors: [pollfd] {
        [pollfd(fd: udpListener, events: Int16(POLLIN), revents: 0), pollfd(fd: tcpListener, events: Int16(POLLIN), revents: 0)]
            + connections.map { pollfd(fd: $0.key, events: Int16($0.value.connecting ? POLLOUT : POLLIN), revents: 0) }
    }
    /// When the next timer (engine or connection) is due.
    public var nextDeadline: UInt64? { ([engine.nextDeadline].compactMap { $0 } + connections.values.map(\.deadline)).min() }

    /// Reads what is readable (or hung up), runs the timers; returns the results.
    public func service(readable: Set<Int32>) -> [GRASPNode.Action] {
        let conns = Array(connections.keys)
        var out: [GRASPNode.Action] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        if readable.contains(udpListener) {
            while true {
                var from = sockaddr_in6()
                var len = socklen_t(MemoryLayout<sockaddr_in6>.size)
                let n = buf.withUnsafeMutableBytes { b in
                    withUnsafeMutablePointer(to: &from) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(udpListener, b.baseAddress, b.count, Int32(MSG_DONTWAIT), $0, &len) }
                    }
                }
                if n < 0 { break }
                let (peer, scope) = Self.address(from)
                let iface = interfaces.firstIndex { $0.index == scope } ?? (interfaces.count == 1 ? 0 : -1)
                if scope != 0 { scopes[peer] = scope }
                guard iface >= 0, peer != interfaces[iface].linkLocal else { continue }
                out += perform(engine.handle(.message(bytes: Array(buf[0..<n]), from: .v6(peer), interface: iface), now: Self.now()), replyOn: nil)
            }
        }
        if readable.contains(tcpListener) {
            while true {
                var from = sockaddr_in6()
                var len = socklen_t(MemoryLayout<sockaddr_in6>.size)
                let fd = withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(tcpListener, $0, &len) }
                }
                if fd < 0 { break }
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                let (peer, scope) = Self.address(from)
                if scope != 0 { scopes[peer] = scope }
                if connections.count >= 256 { close(fd); continue }
                connections[fd] = Connection(peer: .v6(peer), buffer: [], deadline: Self.now() + 5_000)
            }
        }
        for fd in conns where readable.contains(fd) {
            guard var c = connections[fd] else { continue }
            if c.connecting {
                finishConnect(fd)
                continue
            }
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { c.buffer += buf[0..<n] }
            // A TCP stream carries one CBOR item per message, back to back.
            var items: [[UInt8]] = []
            var garbage = false
            while !c.buffer.isEmpty {
                var d = CBORDecoder(c.buffer)
                do {
                    _ = try d.next()
                    items.append(Array(c.buffer[0..<d.offset]))
                    c.buffer.removeFirst(d.offset)
                } catch {
                    if error.reason != .truncated { garbage = true }
                    break
                }
            }
            if garbage || c.buffer.count > 65536 { items.append(c.buffer); c.buffer = [] }
            c.deadline = Self.now() + engine.configuration.negotiationTimeout + 5_000
            connections[fd] = c
            for item in items {
                let m = try? GRASPMessage(decoding: item)
                if let m, let s = m.session, m.type == .requestNegotiation || m.type == .requestSynchronization { sessionConnections[s] = fd }
                out += perform(engine.handle(.message(bytes: item, from: c.peer, interface: 0), now: Self.now()), replyOn: (fd, c.peer))
                // The peer ended the session (M_END, M_SYNCH): this connection is done.
                if let m, m.type == .end || m.type == .synch { closeConnection(fd) }
            }
            if garbage || n <= 0 { closeConnection(fd) }
        }
        let now = Self.now()
        for (fd, c) in connections where c.deadline <= now {
            if c.connecting { connectFailures += 1 }
            closeConnection(fd)
        }
        out += perform(engine.handle(.tick, now: now), replyOn: nil)
        return out
    }

    // MARK: Actions

    func closeConnection(_ fd: Int32) {
        guard connections.removeValue(forKey: fd) != nil else { return }
        close(fd)
        sessionConnections = sessionConnections.filter { $0.value != fd }
    }

    func perform(_ actions: [GRASPNode.Action], replyOn conn: (Int32, IPAddress)?) -> [GRASPNode.Action] {
        var out: [GRASPNode.Action] = []
        for a in actions {
            if case .negotiationEnded(let s, _, _, _, _) = a, let fd = sessionConnections[s] { closeConnection(fd) }
            guard case .send(let m, let dest) = a else { out.append(a); continue }
            let bytes = m.encoded
            switch dest {
            case .allNeighbors(let except):
                for (k, i) in interfaces.enumerated() where k != except {
                    var sa = Self.sockaddr6(GRASP.allGraspNeighbors, port: GRASP.port, scope: i.index)
                    let n = bytes.withUnsafeBytes { b in
                        withUnsafePointer(to: &sa) {
                            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                                sendto(senders[k], b.baseAddress, b.count, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                            }
                        }
                    }
                    if n == bytes.count { sent[m.type.name, default: 0] += 1 }
                }
            case .peer(let addr):
                // A message of an open session goes on that session's connection;
                // M_END and M_SYNCH close it.
                let existing = m.session.flatMap { sessionConnections[$0] }
                    ?? conn.flatMap { $0.1 == addr && (m.type == .synch || m.type == .end) ? $0.0 : nil }
                if let fd = existing {
                    if connections[fd]?.connecting == true { connections[fd]!.outgoing.append((m.type, bytes)); continue }
                    if writeAll(fd, bytes) { sent[m.type.name, default: 0] += 1 }
                    if m.type == .synch || m.type == .end { shutdown(fd, Int32(SHUT_WR)); closeConnection(fd) }
                    continue
                }
                // A new connection: started here, written when the connect
                // completes (the loop never waits for a peer).
                guard case .v6(let a) = addr, let fd = startConnect(to: a) else { connectFailures += 1; continue }
                let session = m.type == .requestSynchronization || m.type == .requestNegotiation
                let t = m.type == .requestSynchronization ? engine.configuration.synchronizationTimeout : engine.configuration.negotiationTimeout
                connections[fd] = Connection(peer: addr, buffer: [], deadline: Self.now() + (session ? t : 0) + 1_000,
                                             connecting: true, outgoing: [(m.type, bytes)], keepOpen: session)
                if session, let s = m.session { sessionConnections[s] = fd }
            }
        }
        return out
    }

    /// The connect of `fd` completed (or failed): send what waited, then
    /// keep the connection for the session's answers or close it.
    func finishConnect(_ fd: Int32) {
        guard var c = connections[fd] else { return }
        var err: Int32 = 0
        var len = socklen_t(4)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0, err == 0 else {
            connectFailures += 1
            closeConnection(fd)
            return
        }
        for (type, bytes) in c.outgoing {
            guard writeAll(fd, bytes) else { connectFailures += 1; closeConnection(fd); return }
            sent[type.name, default: 0] += 1
        }
        guard c.keepOpen else {
            shutdown(fd, Int32(SHUT_WR))
            closeConnection(fd)
            return
        }
        c.connecting = false
        c.outgoing = []
        connections[fd] = c
    }

    /// Starts a non-blocking connect to `a`'s GRASP port; nil if it failed at once.
    func startConnect(to a: IPv6Address) -> Int32? {
        guard let fd = try? Self.socket(SOCK_STREAM) else { return nil }
        let scope = Self.isLinkLocal(a) ? (scopes[a] ?? (interfaces.count == 1 ? interfaces[0].index : 0)) : 0
        var sa = Self.sockaddr6(a, port: GRASP.port, scope: scope)
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        if rc != 0 && errno != EINPROGRESS { close(fd); return nil }
        return fd
    }

    func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n > 0 { off += n; continue }
            if n < 0 && errno == EAGAIN {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if Glibc.poll(&p, 1, 1_000) == 1 { continue }
            }
            return false
        }
        return true
    }

    // MARK: Socket helpers

    static func socket(_ type: __socket_type) throws -> Int32 {
        let fd = Glibc.socket(AF_INET6, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, 4)
        return fd
    }

    static func bind(_ fd: Int32, _ a: IPv6Address, port: UInt16, scope: UInt32) throws {
        var sa = sockaddr6(a, port: port, scope: scope)
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        guard rc == 0 else {
            throw Failure(description: "cannot bind [\(a)]:\(port): \(String(cString: strerror(errno)))"
                + (errno == EADDRNOTAVAIL ? " (is the link-local address still tentative?)" : ""))
        }
    }

    static func sockaddr6(_ a: IPv6Address, port: UInt16, scope: UInt32) -> sockaddr_in6 {
        var sa = sockaddr_in6()
        sa.sin6_family = sa_family_t(AF_INET6)
        sa.sin6_port = port.bigEndian
        sa.sin6_scope_id = scope
        withUnsafeMutableBytes(of: &sa.sin6_addr) { a.store(to: $0, at: 0) }
        return sa
    }

    static func address(_ sa: sockaddr_in6) -> (IPv6Address, UInt32) {
        var addr = sa.sin6_addr
        return (withUnsafeBytes(of: &addr) { IPv6Address(loadingFrom: $0, at: 0) }, sa.sin6_scope_id)
    }
}
