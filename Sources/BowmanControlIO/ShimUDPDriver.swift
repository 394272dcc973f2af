import BowmanControl
import BowmanCore
import BowmanSystem

/// Runs a `ShimUDP` machine (the sans-I/O engine) on real UDP sockets:
/// performs its actions (bind, sendto, close), feeds it datagrams and the
/// clock, and hands the notifications (flow requests, allocations, data) to
/// the caller. One thread; the caller drives it with `poll(milliseconds:)`
/// or, in a shared loop, `descriptors` + `service(readable:)`.
public final class ShimUDPDriver {
    public private(set) var machine: ShimUDP
    var sockets: [ShimUDP.SocketID: UDPSocket] = [:]
    public let address: IPAddress
    /// Socket errors met while receiving or sending (the datagram is dropped, the driver goes on).
    public private(set) var receiveErrors = 0
    public private(set) var sendErrors = 0

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Binds the listen socket (UDP 3359) on `address`; a `clientOnly`
    /// node only allocates flows (no listen socket: several can share an address).
    public init(address: IPAddress, configuration: ShimUDP.Configuration = .init(), clientOnly: Bool = false) throws {
        self.address = address
        machine = ShimUDP(address: address, configuration: configuration)
        if !clientOnly { _ = try perform(machine.start()) }
    }

    public static func now() -> UInt64 { SystemClock.monotonicMilliseconds }

    /// Allocates to an already resolved address.
    public func allocate(to application: String, address server: IPAddress) throws -> (ShimUDP.FlowID, [ShimUDP.Action]) {
        let (f, actions) = machine.allocate(to: application, at: server, now: Self.now())
        return (f, try perform(actions))
    }

    public func register(_ application: String) { machine.register(application) }

    /// Resolves `host` (DNS, /etc/hosts, or a literal) and allocates a flow to `application` there.
    public func allocate(to application: String, host: String) throws -> (ShimUDP.FlowID, [ShimUDP.Action]) {
        let addr = try Self.resolve(host, family: address)
        let (f, actions) = machine.allocate(to: application, at: addr, now: Self.now())
        return (f, try perform(actions))
    }

    public func accept(_ f: ShimUDP.FlowID) throws -> [ShimUDP.Action] { try perform(machine.accept(f)) }
    public func reject(_ f: ShimUDP.FlowID) throws -> [ShimUDP.Action] { try perform(machine.reject(f)) }
    public func write(_ f: ShimUDP.FlowID, _ data: [UInt8]) throws -> [ShimUDP.Action] { try perform(machine.write(f, data)) }
    public func deallocate(_ f: ShimUDP.FlowID) throws -> [ShimUDP.Action] { try perform(machine.deallocate(f)) }

    /// Waits up to `milliseconds` for datagrams or timers; returns the notifications.
    public func poll(milliseconds: Int32) throws -> [ShimUDP.Action] {
        let wait = SystemClock.millisecondsUntil(nextDeadline, cap: milliseconds)
        return try service(readable: Poll.wait(descriptors.map { Poll.Request($0) }, milliseconds: wait))
    }

    /// The sockets to watch for input (for a shared event loop).
    public var descriptors: [Int32] { sockets.values.map(\.descriptor) }
    /// When the machine's next timer is due.
    public var nextDeadline: UInt64? { machine.nextDeadline }

    /// Reads the sockets that are readable, runs the timers; returns the notifications.
    public func service(readable: Set<Int32>) throws -> [ShimUDP.Action] {
        var out: [ShimUDP.Action] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        for (id, socket) in sockets where readable.contains(socket.descriptor) {
            while true {
                let got: (count: Int, from: SocketAddress)?
                do { got = try buf.withUnsafeMutableBytes { b throws(SocketError) in try socket.receive(into: b) } } catch {
                    receiveErrors += 1
                    break
                }
                guard let (n, from) = got else { break }
                out += try perform(machine.handle(.datagram(on: id, from: Self.endpoint(from), payload: Array(buf[0..<n])), now: Self.now()))
            }
        }
        out += try perform(machine.handle(.tick, now: Self.now()))
        return out
    }

    /// Performs socket actions; returns the rest (notifications).
    func perform(_ actions: [ShimUDP.Action]) throws -> [ShimUDP.Action] {
        var out: [ShimUDP.Action] = []
        for a in actions {
            switch a {
            case .open(let s, let port):
                sockets[s] = try bind(port: port ?? 0)
            case .close(let s):
                sockets.removeValue(forKey: s)?.close()
            case .send(let s, let to, let payload):
                guard let socket = sockets[s] else { continue }
                // A full socket buffer drops the datagram as the network
                // would; the machine's retransmission covers it.
                do { try socket.send(payload, to: Self.socketAddress(to)) } catch { sendErrors += 1 }
            default:
                out.append(a)
            }
        }
        return out
    }

    func bind(port: UInt16) throws -> UDPSocket {
        do {
            let s = try UDPSocket(AddressFamily(address))
            try s.reuseAddress()
            try s.bind(SocketAddress(address, port: port))
            return s
        } catch {
            throw Failure(description: "cannot bind UDP \(ShimUDP.Endpoint(address, port)): \(error.errno)")
        }
    }

    /// A machine endpoint as a socket address, and back.
    public static func socketAddress(_ e: ShimUDP.Endpoint) -> SocketAddress { SocketAddress(e.address, port: e.port) }
    public static func endpoint(_ a: SocketAddress) -> ShimUDP.Endpoint { ShimUDP.Endpoint(a.address, a.port) }

    /// Name resolution through the system resolver (getaddrinfo: DNS and
    /// /etc/hosts), keeping the node's address family.
    public static func resolve(_ host: String, family: IPAddress) throws -> IPAddress {
        do { return try Resolver.resolve(host, family: AddressFamily(family))[0] } catch {
            throw Failure(description: error.description)
        }
    }
}
