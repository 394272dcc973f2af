import BowmanCBOR
import BowmanControl
import BowmanCore
import BowmanSystem

/// Runs a `GRASPNode` (the sans-I/O engine) on real sockets, as RFC 8990
/// §2.5 lays them out:
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
/// One thread; the caller drives it with `poll(milliseconds:)` or, in a
/// shared loop, `pollRequests` + `service(readable:)`.
public final class GRASPDriver {
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
    var senders: [UDPSocket] = []             // per interface
    var udpListener: UDPSocket?
    var tcpListener: TCPListener?
    struct Connection {
        var socket: TCPConnection
        var peer: IPAddress
        var buffer: [UInt8]
        var deadline: UInt64
        /// Outbound connect still in progress: `outgoing` waits for it.
        var connecting = false
        var outgoing: [(GRASP.MessageType, [UInt8])] = []
        /// Keep the connection after sending (a session waiting for answers).
        var keepOpen = true
    }
    var connections: [Int32: Connection] = [:]       // by descriptor
    var scopes: [IPv6Address: UInt32] = [:]   // link-local peer -> interface index
    var sessionConnections: [UInt32: Int32] = [:]   // open negotiation/synchronisation session -> its TCP connection
    /// Messages written, by type name, and TCP connections that failed.
    public private(set) var sent: [String: Int] = [:]
    public private(set) var connectFailures = 0
    /// Socket errors met while receiving (the datagram or connection is dropped, the driver goes on).
    public private(set) var receiveErrors = 0
    static let tcp: UInt8 = 6   // IPPROTO_TCP, a locator's transport

    /// The node's usable interfaces: up, multicast, not loopback, with an
    /// IPv6 link-local address (and not tentative: binding it must work).
    public static func findInterfaces(only names: [String] = []) throws -> [Interface] {
        var out: [Interface] = []
        for i in try NetworkInterface.all() where i.isUp && i.supportsMulticast && !i.isLoopback {
            guard names.isEmpty || names.contains(i.name), let ll = i.linkLocalAddresses.first else { continue }
            out.append(Interface(name: i.name, index: i.index, linkLocal: ll))
        }
        if let missing = names.first(where: { n in !out.contains { $0.name == n } }) {
            throw Failure(description: "interface \(missing): not found, down, or without an IPv6 link-local address")
        }
        return out
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
        for i in found {
            let s = try UDPSocket(.v6)
            try s.reuseAddress()
            try s.setMulticastInterface(i.index)
            try s.setMulticastHops(1)
            try s.setMulticastLoop(false)
            // A link-local address is tentative for a second or two after
            // the link comes up (DAD); wait for it rather than fail.
            var tries = 0
            while true {
                do { try s.bind(SocketAddress(.v6(i.linkLocal), port: 0, scope: i.index)); break } catch {
                    tries += 1
                    guard error.errno == .addressNotAvailable, tries < 50 else { throw error }
                    SystemClock.sleep(milliseconds: 100)
                }
            }
            senders.append(s)
        }
        let udp = try UDPSocket(.v6)
        try udp.reuseAddress()
        try udp.bind(.any(.v6, port: GRASP.port))
        for i in found {
            do { try udp.join(GRASP.allGraspNeighbors, interface: i.index) } catch {
                throw Failure(description: "cannot join ff02::13 on \(i.name): \(error.errno)")
            }
        }
        udpListener = udp
        let tcp = try TCPListener(.v6)
        try tcp.reuseAddress()
        try tcp.bind(.any(.v6, port: GRASP.port))
        try tcp.listen(backlog: 64)
        tcpListener = tcp
    }

    public static func now() -> UInt64 { SystemClock.monotonicMilliseconds }

    // MARK: Calls

    public func offer(_ objective: GRASPObjective, at locator: GRASPLocator?) { engine.offer(objective, at: locator) }
    /// The locator of this node's own GRASP listener (where it answers synchronisation).
    public var listenerLocator: GRASPLocator { .ipv6(interfaces[0].linkLocal, transport: Self.tcp, port: GRASP.port) }
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
        let ready = Poll.wait(pollRequests, milliseconds: min(milliseconds, SystemClock.millisecondsUntil(nextDeadline, cap: milliseconds)))
        return service(readable: ready)
    }

    /// What to watch (for a shared event loop): input everywhere, and
    /// writability on connections whose connect is still in progress.
    public var pollRequests: [Poll.Request] {
        [udpListener, tcpListener].compactMap { $0.map { Poll.Request($0.descriptor) } }
            + connections.map { Poll.Request($0.key, writable: $0.value.connecting) }
    }
    /// When the next timer (engine or connection) is due.
    public var nextDeadline: UInt64? { ([engine.nextDeadline].compactMap { $0 } + connections.values.map(\.deadline)).min() }

    /// Reads what is readable (or hung up), runs the timers; returns the results.
    public func service(readable: Set<Int32>) -> [GRASPNode.Action] {
        let conns = Array(connections.keys)
        var out: [GRASPNode.Action] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        if let udp = udpListener, readable.contains(udp.descriptor) {
            while true {
                let got: (count: Int, from: SocketAddress)?
                do { got = try buf.withUnsafeMutableBytes { b throws(SocketError) in try udp.receive(into: b) } } catch {
                    receiveErrors += 1
                    break
                }
                guard let (n, from) = got else { break }
                guard case .v6(let peer) = from.address else { continue }
                let scope = from.scope
                let iface = interfaces.firstIndex { $0.index == scope } ?? (interfaces.count == 1 ? 0 : -1)
                if scope != 0 { scopes[peer] = scope }
                guard iface >= 0, peer != interfaces[iface].linkLocal else { continue }
                out += perform(engine.handle(.message(bytes: Array(buf[0..<n]), from: .v6(peer), interface: iface), now: Self.now()), replyOn: nil)
            }
        }
        if let tcp = tcpListener, readable.contains(tcp.descriptor) {
            while true {
                let got: (TCPConnection, SocketAddress)?
                do { got = try tcp.accept() } catch { receiveErrors += 1; break }
                guard let (socket, from) = got else { break }
                guard case .v6(let peer) = from.address else { continue }
                if from.scope != 0 { scopes[peer] = from.scope }
                if connections.count >= 256 { continue }   // dropped: the socket closes with it
                connections[socket.descriptor] = Connection(socket: socket, peer: .v6(peer), buffer: [], deadline: Self.now() + 5_000)
            }
        }
        for fd in conns where readable.contains(fd) {
            guard var c = connections[fd] else { continue }
            if c.connecting {
                finishConnect(fd)
                continue
            }
            var n: Int?
            do { n = try buf.withUnsafeMutableBytes { b throws(SocketError) in try c.socket.read(into: b) } } catch {
                receiveErrors += 1
                n = 0
            }
            if let n, n > 0 { c.buffer += buf[0..<n] }
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
            // End of stream (0) or an error: done. Nothing waiting yet (nil): keep it.
            if garbage || n.map({ $0 <= 0 }) ?? false { closeConnection(fd) }
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
        guard let c = connections.removeValue(forKey: fd) else { return }
        c.socket.close()
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
                    let to = SocketAddress(.v6(GRASP.allGraspNeighbors), port: GRASP.port, scope: i.index)
                    if (try? senders[k].send(bytes, to: to)) == true { sent[m.type.name, default: 0] += 1 }
                }
            case .peer(let addr):
                // A message of an open session goes on that session's connection;
                // M_END and M_SYNCH close it.
                let existing = m.session.flatMap { sessionConnections[$0] }
                    ?? conn.flatMap { $0.1 == addr && (m.type == .synch || m.type == .end) ? $0.0 : nil }
                if let fd = existing, let c = connections[fd] {
                    if c.connecting { connections[fd]!.outgoing.append((m.type, bytes)); continue }
                    if (try? c.socket.writeAll(bytes)) != nil { sent[m.type.name, default: 0] += 1 }
                    if m.type == .synch || m.type == .end { c.socket.shutdownWrite(); closeConnection(fd) }
                    continue
                }
                // A new connection: started here, written when the connect
                // completes (the loop never waits for a peer).
                guard case .v6(let a) = addr, let socket = startConnect(to: a) else { connectFailures += 1; continue }
                let session = m.type == .requestSynchronization || m.type == .requestNegotiation
                let t = m.type == .requestSynchronization ? engine.configuration.synchronizationTimeout : engine.configuration.negotiationTimeout
                connections[socket.descriptor] = Connection(socket: socket, peer: addr, buffer: [], deadline: Self.now() + (session ? t : 0) + 1_000,
                                                            connecting: true, outgoing: [(m.type, bytes)], keepOpen: session)
                if session, let s = m.session { sessionConnections[s] = socket.descriptor }
            }
        }
        return out
    }

    /// The connect of `fd` completed (or failed): send what waited, then
    /// keep the connection for the session's answers or close it.
    func finishConnect(_ fd: Int32) {
        guard var c = connections[fd] else { return }
        guard c.socket.pendingError == nil else {
            connectFailures += 1
            closeConnection(fd)
            return
        }
        for (type, bytes) in c.outgoing {
            guard (try? c.socket.writeAll(bytes)) != nil else { connectFailures += 1; closeConnection(fd); return }
            sent[type.name, default: 0] += 1
        }
        guard c.keepOpen else {
            c.socket.shutdownWrite()
            closeConnection(fd)
            return
        }
        c.connecting = false
        c.outgoing = []
        connections[fd] = c
    }

    /// Starts a non-blocking connect to `a`'s GRASP port; nil if it failed at once.
    func startConnect(to a: IPv6Address) -> TCPConnection? {
        guard let s = try? TCPConnection(.v6) else { return nil }
        let scope = a.isLinkLocal ? (scopes[a] ?? (interfaces.count == 1 ? interfaces[0].index : 0)) : 0
        guard (try? s.startConnect(to: SocketAddress(.v6(a), port: GRASP.port, scope: scope))) != nil else { return nil }
        return s
    }
}
