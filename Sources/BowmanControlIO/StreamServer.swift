import BowmanControl
import BowmanCore
import BowmanSystem

/// A TCP server on the management loop's poll(2) for a sans-I/O stream
/// protocol (the Hal console, the metrics endpoint): it accepts, reads,
/// writes what the protocol says without ever blocking, and enforces the
/// bounds a server on a router needs whatever the protocol does: at most
/// `maxConnections` at once (one more is told so and closed), at most
/// `maxOutput` bytes waiting for a client that does not read, and
/// addresses that failed too often are refused for a while.
public final class StreamServer<Session> {
    public struct Hooks {
        /// A new connection: its session and what to send first.
        public var open: (SocketAddress, UInt64) -> (Session, [StreamOutput])
        public var receive: (inout Session, ArraySlice<UInt8>, UInt64) -> [StreamOutput]
        public var tick: (inout Session, UInt64) -> [StreamOutput]
        public var deadline: (Session) -> UInt64?
        /// The connection is gone (its session, why); for the log and counters.
        public var closed: (Session, SocketAddress, String) -> Void = { _, _, _ in }
        public init(open: @escaping (SocketAddress, UInt64) -> (Session, [StreamOutput]),
                    receive: @escaping (inout Session, ArraySlice<UInt8>, UInt64) -> [StreamOutput],
                    tick: @escaping (inout Session, UInt64) -> [StreamOutput],
                    deadline: @escaping (Session) -> UInt64?) {
            self.open = open; self.receive = receive; self.tick = tick; self.deadline = deadline
        }
    }

    final class Connection {
        let socket: TCPConnection
        let peer: SocketAddress
        var session: Session
        var outbox: [UInt8] = []
        var closing: String?
        init(socket: TCPConnection, peer: SocketAddress, session: Session) {
            self.socket = socket; self.peer = peer; self.session = session
        }
    }

    public let name: String
    public let listener: TCPListener
    public let address: SocketAddress
    public var maxConnections: Int
    public var maxOutput = 1 << 20
    var hooks: Hooks
    var connections: [Int32: Connection] = [:]
    var readBuffer = [UInt8](repeating: 0, count: 4096)
    public private(set) var accepted: UInt64 = 0
    public private(set) var refusedFull: UInt64 = 0
    public private(set) var refusedAddress: UInt64 = 0
    /// Addresses refused until a time (set by `penalise`).
    var barred: [IPAddress: UInt64] = [:]
    /// Errors met (a failing connection is closed and noted, never fatal).
    public private(set) var notes: [String] = []

    public init(name: String, listen: SocketAddress, maxConnections: Int, hooks: Hooks) throws(SocketError) {
        self.name = name
        self.hooks = hooks
        self.maxConnections = maxConnections
        listener = try TCPListener(listen.family)
        try listener.reuseAddress()
        try listener.bind(listen)
        try listener.listen(backlog: 64)
        address = listener.localAddress ?? listen
    }

    public var connectionCount: Int { connections.count }
    /// The peers connected now.
    public var peers: [SocketAddress] { connections.values.map(\.peer) }
    public func sessions() -> [(SocketAddress, Session)] { connections.values.map { ($0.peer, $0.session) } }

    /// Refuses connections from `address` until `until` (failed logins).
    public func bar(_ address: IPAddress, until: UInt64) { barred[address] = until }

    public var pollRequests: [Poll.Request] {
        guard listener.descriptor >= 0 else { return [] }
        return [Poll.Request(listener.descriptor)] + connections.values.map { Poll.Request($0.socket.descriptor, writable: !$0.outbox.isEmpty) }
    }

    public var nextDeadline: UInt64? {
        connections.values.compactMap { hooks.deadline($0.session) }.min()
    }

    /// Accepts, reads, writes and runs timers; `ready` is what poll(2) returned.
    public func service(ready: Set<Int32>, now: UInt64) {
        if ready.contains(listener.descriptor) { acceptAll(now: now) }
        for (fd, c) in connections {
            if ready.contains(fd) {
                if !c.outbox.isEmpty { flush(c) }
                if c.closing == nil { read(c, now: now) }
            }
            if c.closing == nil {
                var s = c.session   // a copy: a hook may list the sessions meanwhile
                let outs = hooks.tick(&s, now)
                c.session = s
                apply(outs, to: c)
            }
            if !c.outbox.isEmpty && c.closing == nil { flush(c) }
            if c.closing != nil {
                flush(c)
                if c.outbox.isEmpty || c.closing == "write failed" || c.closing == "output not read" { drop(c) }
            }
        }
        for (a, t) in barred where t <= now { barred[a] = nil }
    }

    func acceptAll(now: UInt64) {
        while true {
            let next: (TCPConnection, SocketAddress)?
            do { next = try listener.accept() } catch { note("accept: \(error)"); return }
            guard let (socket, peer) = next else { return }
            if let until = barred[peer.address], until > now {
                refusedAddress += 1
                try? socket.writeAll(Array("error: too many failed logins from \(peer.address); try again later\r\n".utf8), timeout: 10)
                socket.close()
                continue
            }
            guard connections.count < maxConnections else {
                refusedFull += 1
                try? socket.writeAll(Array("error: \(name) is full (\(maxConnections) connections)\r\n".utf8), timeout: 10)
                socket.close()
                continue
            }
            accepted += 1
            let (session, first) = hooks.open(peer, now)
            let c = Connection(socket: socket, peer: peer, session: session)
            connections[socket.descriptor] = c
            apply(first, to: c)
            flush(c)
        }
    }

    func read(_ c: Connection, now: UInt64) {
        while c.closing == nil {
            let n: Int?
            do { n = try readBuffer.withUnsafeMutableBytes { try c.socket.read(into: $0) } } catch { c.closing = "read failed: \(error)"; return }
            guard let n else { return }
            if n == 0 { c.closing = "closed by the client"; c.outbox.removeAll(); return }
            var s = c.session
            let outs = hooks.receive(&s, readBuffer[..<n], now)
            c.session = s
            apply(outs, to: c)
        }
    }

    func apply(_ outs: [StreamOutput], to c: Connection) {
        for o in outs {
            switch o {
            case .send(let b):
                guard c.closing == nil || !b.isEmpty else { continue }
                c.outbox += b
                if c.outbox.count > maxOutput { c.closing = "output not read"; c.outbox.removeAll() }
            case .close(let why):
                if c.closing == nil { c.closing = why }
            }
        }
    }

    func flush(_ c: Connection) {
        while !c.outbox.isEmpty {
            let n: Int?
            do { n = try c.outbox.withUnsafeBytes { try c.socket.write($0) } } catch { c.closing = "write failed"; c.outbox.removeAll(); return }
            guard let n, n > 0 else { return }
            c.outbox.removeFirst(n)
        }
    }

    func drop(_ c: Connection) {
        connections[c.socket.descriptor] = nil
        hooks.closed(c.session, c.peer, c.closing ?? "closed")
        c.socket.close()
    }

    func note(_ s: String) {
        notes.append(s)
        if notes.count > 100 { notes.removeFirst() }
    }

    /// Closes every connection and the listener.
    public func close() {
        for c in connections.values { c.closing = c.closing ?? "server stopping"; drop(c) }
        listener.close()
    }
}
