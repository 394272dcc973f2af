import BowmanCore

/// Ouroboros-style shim-UDP flow allocation (seed 000), as a sans-I/O state
/// machine: events (datagrams on abstract sockets, application calls, the
/// clock) in, actions (open/close a socket, send, notify) out. The
/// management core's event loop performs the actions; tests drive it with a
/// manual clock and a simulated network.
///
/// The protocol: the server listens on UDP 3359. A client binds a socket to
/// an OS-chosen port and sends the destination application name there. The
/// server opens a per-flow socket (OS-chosen port), echoes the datagram
/// from it, and raises a flow request; the flow is PENDING until the
/// application accepts (ALLOCATED) or rejects (deleted). The client learns
/// the server's per-flow port from the echo and marks its flow ALLOCATED.
///
/// What the seed left pending is here: a lost echo never blocks (the client
/// retries with backoff and fails after its last try; the server answers a
/// repeated request by echoing again from the same flow port), pending flows
/// are bounded and requests rate-limited, and the echo is exactly the
/// request's size (no amplification).
public struct ShimUDP: Sendable {
    public static let listenPort: UInt16 = 0x0D1F   // 3359

    public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
        public var address: IPAddress
        public var port: UInt16
        public init(_ address: IPAddress, _ port: UInt16) { self.address = address; self.port = port }
        public var description: String {
            if case .v6 = address { "[\(address)]:\(port)" } else { "\(address):\(port)" }
        }
    }

    public struct SocketID: Hashable, Sendable {
        public var rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
    }
    public struct FlowID: Hashable, Sendable, CustomStringConvertible {
        public var rawValue: Int
        public var description: String { "flow \(rawValue)" }
    }

    public enum FlowState: Equatable, Sendable { case pending, allocated }

    public struct Configuration: Sendable {
        /// First wait for the echo, doubled after each retry (milliseconds).
        public var echoTimeout: UInt64 = 500
        public var retries = 3
        /// How long a server-side flow may wait for the application's answer.
        public var acceptTimeout: UInt64 = 10_000
        /// Server-side pending flows at most (requests beyond are dropped).
        public var maxPendingFlows = 256
        /// Requests accepted per second on the listen port (token bucket).
        public var requestsPerSecond = 1000
        public init() {}
    }

    public enum Event: Sendable {
        /// A datagram arrived on one of the machine's sockets.
        case datagram(on: SocketID, from: Endpoint, payload: [UInt8])
        /// Time passes (check timers).
        case tick
    }

    public enum Action: Equatable, Sendable {
        /// Open a UDP socket bound to `port` (nil: OS-chosen) on the node's address.
        case open(SocketID, port: UInt16?)
        case close(SocketID)
        case send(from: SocketID, to: Endpoint, payload: [UInt8])
        /// Server: an application name was asked for; answer with accept/reject.
        case flowRequest(FlowID, application: String, from: Endpoint)
        case flowAllocated(FlowID, peer: Endpoint)
        case flowFailed(FlowID, reason: String)
        case flowDeleted(FlowID)
        /// Data for the application on an allocated flow.
        case deliver(FlowID, payload: [UInt8])
    }

    struct Flow: Sendable {
        var state: FlowState
        var socket: SocketID
        var peer: Endpoint
        var request: [UInt8]
        var isClient: Bool
        var deadline: UInt64
        var triesLeft: Int
        var wait: UInt64
    }

    public let configuration: Configuration
    public let address: IPAddress
    let listenSocket: SocketID
    var nextSocket = 1
    var nextFlow = 1
    var flows: [FlowID: Flow] = [:]
    var registered: Set<String> = []
    var tokens: Double
    var lastRefill: UInt64 = 0
    /// Counters for the info registry.
    public private(set) var droppedRequests = 0
    public private(set) var droppedDatagrams = 0

    /// One flow as the info registry shows it.
    public struct FlowInfo: Equatable, Sendable, CustomStringConvertible {
        public var id: FlowID
        public var application: String
        public var isClient: Bool
        public var state: FlowState
        public var peer: Endpoint
        public var description: String {
            "flow \(id.rawValue) \(isClient ? "client" : "server") \(application) \(state == .pending ? "PENDING" : "ALLOCATED") peer \(peer)"
        }
    }

    /// Every flow, by id: what the info registry lists.
    public var flowInfo: [FlowInfo] {
        flows.sorted { $0.key.rawValue < $1.key.rawValue }.map { id, f in
            FlowInfo(id: id, application: String(decoding: f.request, as: UTF8.self), isClient: f.isClient, state: f.state, peer: f.peer)
        }
    }
    public var registeredApplications: [String] { registered.sorted() }

    /// The info registry's lines for this node: registered names, flows, counters.
    public var info: [String] {
        ["shim-udp \(address) port \(Self.listenPort): \(registered.count) applications, \(flows.count) flows, "
            + "\(droppedRequests) requests dropped, \(droppedDatagrams) datagrams dropped"]
            + registeredApplications.map { "registered \($0)" }
            + flowInfo.map(\.description)
    }

    /// A node on `address`; the first action opens the listen socket.
    public init(address: IPAddress, configuration: Configuration = .init()) {
        self.address = address
        self.configuration = configuration
        listenSocket = SocketID(rawValue: 0)
        tokens = Double(configuration.requestsPerSecond)
    }

    /// The actions that start the node: open the listen socket on 3359.
    public func start() -> [Action] { [.open(listenSocket, port: Self.listenPort)] }

    /// Applications that accept flows on this node.
    public mutating func register(_ application: String) { registered.insert(application) }
    public mutating func unregister(_ application: String) { registered.remove(application) }

    public func state(of f: FlowID) -> FlowState? { flows[f]?.state }
    public var pendingCount: Int { flows.values.filter { $0.state == .pending && !$0.isClient }.count }
    public var flowCount: Int { flows.count }

    mutating func newSocket() -> SocketID { defer { nextSocket += 1 }; return SocketID(rawValue: nextSocket) }
    mutating func newFlow() -> FlowID { defer { nextFlow += 1 }; return FlowID(rawValue: nextFlow) }

    /// Client: allocates a flow to `application` on the node at `server`.
    public mutating func allocate(to application: String, at server: IPAddress, now: UInt64) -> (FlowID, [Action]) {
        let f = newFlow()
        let name = Array(application.utf8)
        guard Self.validName(name) else { return (f, [.flowFailed(f, reason: "'\(application)' is not a valid application name (1 to 255 bytes of UTF-8, no control characters)")]) }
        let s = newSocket()
        let peer = Endpoint(server, Self.listenPort)
        flows[f] = Flow(state: .pending, socket: s, peer: peer, request: name, isClient: true,
                        deadline: now + configuration.echoTimeout, triesLeft: configuration.retries, wait: configuration.echoTimeout)
        return (f, [.open(s, port: nil), .send(from: s, to: peer, payload: name)])
    }

    /// Server: the application accepts a pending flow.
    public mutating func accept(_ f: FlowID) -> [Action] {
        guard var fl = flows[f], !fl.isClient, fl.state == .pending else { return [] }
        fl.state = .allocated
        flows[f] = fl
        return [.flowAllocated(f, peer: fl.peer)]
    }

    /// Server: the application rejects a pending flow: it is deleted.
    public mutating func reject(_ f: FlowID) -> [Action] {
        guard let fl = flows[f], !fl.isClient, fl.state == .pending else { return [] }
        flows[f] = nil
        return [.close(fl.socket), .flowDeleted(f)]
    }

    /// Sends application data on an allocated flow.
    public func write(_ f: FlowID, _ payload: [UInt8]) -> [Action] {
        guard let fl = flows[f], fl.state == .allocated else { return [] }
        return [.send(from: fl.socket, to: fl.peer, payload: payload)]
    }

    /// Closes a flow (either side).
    public mutating func deallocate(_ f: FlowID) -> [Action] {
        guard let fl = flows[f] else { return [] }
        flows[f] = nil
        return [.close(fl.socket), .flowDeleted(f)]
    }

    public mutating func handle(_ e: Event, now: UInt64) -> [Action] {
        switch e {
        case .tick: return timers(now)
        case .datagram(let s, let from, let payload):
            if s == listenSocket { return request(from: from, payload, now: now) }
            guard let (f, fl) = flows.first(where: { $0.value.socket == s }) else { droppedDatagrams += 1; return [] }
            if fl.isClient && fl.state == .pending {
                // The echo: same bytes, from the server's address, any port (its per-flow port).
                guard from.address == fl.peer.address, payload == fl.request else { droppedDatagrams += 1; return [] }
                var n = fl
                n.state = .allocated
                n.peer = from
                flows[f] = n
                return [.flowAllocated(f, peer: from)]
            }
            guard fl.state == .allocated, from == fl.peer else {
                // A repeated echo, or a stranger on a flow port: ignored.
                droppedDatagrams += 1
                return []
            }
            return [.deliver(f, payload: payload)]
        }
    }

    mutating func request(from client: Endpoint, _ payload: [UInt8], now: UInt64) -> [Action] {
        // A repeated request (the client's echo was lost): echo again from the same flow port.
        if let (_, fl) = flows.first(where: { !$0.value.isClient && $0.value.peer == client && $0.value.request == payload }) {
            return [.send(from: fl.socket, to: client, payload: payload)]
        }
        refill(now)
        guard tokens >= 1 else { droppedRequests += 1; return [] }
        tokens -= 1
        guard Self.validName(payload), let name = String(validating: payload, as: UTF8.self), registered.contains(name),
              pendingCount < configuration.maxPendingFlows else {
            droppedRequests += 1
            return []
        }
        let f = newFlow(), s = newSocket()
        flows[f] = Flow(state: .pending, socket: s, peer: client, request: payload, isClient: false,
                        deadline: now + configuration.acceptTimeout, triesLeft: 0, wait: 0)
        return [.open(s, port: nil), .send(from: s, to: client, payload: payload), .flowRequest(f, application: name, from: client)]
    }

    mutating func refill(_ now: UInt64) {
        let rate = Double(configuration.requestsPerSecond)
        tokens = min(rate, tokens + Double(now - min(lastRefill, now)) * rate / 1000)
        lastRefill = now
    }

    mutating func timers(_ now: UInt64) -> [Action] {
        var out: [Action] = []
        for (f, fl) in flows.sorted(by: { $0.key.rawValue < $1.key.rawValue }) where fl.state == .pending && now >= fl.deadline {
            if fl.isClient {
                if fl.triesLeft > 0 {
                    var n = fl
                    n.triesLeft -= 1
                    n.wait *= 2
                    n.deadline = now + n.wait
                    flows[f] = n
                    out.append(.send(from: fl.socket, to: fl.peer, payload: fl.request))
                } else {
                    flows[f] = nil
                    out += [.close(fl.socket), .flowFailed(f, reason: "no answer from \(fl.peer) after \(configuration.retries + 1) tries")]
                }
            } else {
                // The application never answered: the pending flow goes.
                flows[f] = nil
                out += [.close(fl.socket), .flowDeleted(f)]
            }
        }
        return out
    }

    /// The earliest timer, for the event loop to sleep until.
    public var nextDeadline: UInt64? { flows.values.filter { $0.state == .pending }.map(\.deadline).min() }

    static func validName(_ b: [UInt8]) -> Bool {
        !b.isEmpty && b.count <= 255 && !b.contains { $0 < 0x20 || $0 == 0x7F } && String(validating: b, as: UTF8.self) != nil
    }
}
