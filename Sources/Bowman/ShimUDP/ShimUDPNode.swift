import BowmanControl
import BowmanCore
import Foundation
import Glibc

/// Runs a `ShimUDP` machine on real UDP sockets: performs its actions
/// (bind, sendto, close), feeds it datagrams and the clock, and hands the
/// notifications (flow requests, allocations, data) to the caller. One
/// thread; the caller drives it with `poll(milliseconds:)`.
public final class ShimUDPNode {
    public private(set) var machine: ShimUDP
    var sockets: [ShimUDP.SocketID: Int32] = [:]
    public let address: IPAddress

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

    /// Allocates to an already resolved address.
    public func allocate(to application: String, address server: IPAddress) throws -> (ShimUDP.FlowID, [ShimUDP.Action]) {
        let (f, actions) = machine.allocate(to: application, at: server, now: Self.now())
        return (f, try perform(actions))
    }

    deinit { for fd in sockets.values { close(fd) } }

    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
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
        var fds = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        var wait = milliseconds
        if let d = nextDeadline { wait = min(wait, Int32(clamping: max(0, Int64(d) - Int64(Self.now())))) }
        _ = Glibc.poll(&fds, nfds_t(fds.count), wait)
        return try service(readable: Set(fds.filter { $0.revents != 0 }.map(\.fd)))
    }

    /// The sockets to watch for input (for a shared event loop).
    public var descriptors: [Int32] { Array(sockets.values) }
    /// When the machine's next timer is due.
    public var nextDeadline: UInt64? { machine.nextDeadline }

    /// Reads the sockets that are readable, runs the timers; returns the notifications.
    public func service(readable: Set<Int32>) throws -> [ShimUDP.Action] {
        var out: [ShimUDP.Action] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        for (id, fd) in sockets where readable.contains(fd) {
            while true {
                var from = sockaddr_storage()
                var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let n = buf.withUnsafeMutableBytes { b in
                    withUnsafeMutablePointer(to: &from) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT), $0, &len) }
                    }
                }
                if n < 0 { break }
                guard let ep = Self.endpoint(from) else { continue }
                out += try perform(machine.handle(.datagram(on: id, from: ep, payload: Array(buf[0..<n])), now: Self.now()))
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
                if let fd = sockets.removeValue(forKey: s) { close(fd) }
            case .send(let s, let to, let payload):
                guard let fd = sockets[s] else { continue }
                var sa = Self.socketAddress(to)
                _ = payload.withUnsafeBytes { b in
                    withUnsafePointer(to: &sa) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            sendto(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT), $0, Self.length(to))
                        }
                    }
                }
            default:
                out.append(a)
            }
        }
        return out
    }

    func bind(port: UInt16) throws -> Int32 {
        let family = { if case .v4 = address { AF_INET } else { AF_INET6 } }()
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var sa = Self.socketAddress(ShimUDP.Endpoint(address, port))
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, Self.length(ShimUDP.Endpoint(address, port))) }
        }
        guard rc == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "cannot bind UDP \(address):\(port): \(e)")
        }
        return fd
    }

    static func length(_ e: ShimUDP.Endpoint) -> socklen_t {
        if case .v4 = e.address { socklen_t(MemoryLayout<sockaddr_in>.size) } else { socklen_t(MemoryLayout<sockaddr_in6>.size) }
    }

    static func socketAddress(_ e: ShimUDP.Endpoint) -> sockaddr_storage {
        var ss = sockaddr_storage()
        switch e.address {
        case .v4(let a):
            withUnsafeMutablePointer(to: &ss) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    $0.pointee.sin_family = sa_family_t(AF_INET)
                    $0.pointee.sin_port = e.port.bigEndian
                    $0.pointee.sin_addr.s_addr = a.rawValue.bigEndian
                }
            }
        case .v6(let a):
            withUnsafeMutablePointer(to: &ss) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                    p.pointee.sin6_family = sa_family_t(AF_INET6)
                    p.pointee.sin6_port = e.port.bigEndian
                    withUnsafeMutableBytes(of: &p.pointee.sin6_addr) { a.store(to: $0, at: 0) }
                }
            }
        }
        return ss
    }

    static func endpoint(_ ss: sockaddr_storage) -> ShimUDP.Endpoint? {
        var s = ss
        return withUnsafePointer(to: &s) { p -> ShimUDP.Endpoint? in
            switch Int32(p.withMemoryRebound(to: sockaddr.self, capacity: 1) { $0.pointee.sa_family }) {
            case AF_INET:
                return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    ShimUDP.Endpoint(.v4(IPv4Address(rawValue: UInt32(bigEndian: $0.pointee.sin_addr.s_addr))), UInt16(bigEndian: $0.pointee.sin_port))
                }
            case AF_INET6:
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { q in
                    var addr = q.pointee.sin6_addr
                    let a = withUnsafeBytes(of: &addr) { IPv6Address(loadingFrom: $0, at: 0) }
                    return ShimUDP.Endpoint(.v6(a), UInt16(bigEndian: q.pointee.sin6_port))
                }
            default: return nil
            }
        }
    }

    /// Name resolution through the system resolver (getaddrinfo: DNS and
    /// /etc/hosts), keeping the node's address family.
    public static func resolve(_ host: String, family: IPAddress) throws -> IPAddress {
        if let literal = IPAddress(host) { return literal }
        var hints = addrinfo()
        hints.ai_family = { if case .v4 = family { AF_INET } else { AF_INET6 } }()
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &res)
        guard rc == 0, let first = res else {
            throw Failure(description: "cannot resolve '\(host)': \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(res) }
        var ss = sockaddr_storage()
        memcpy(&ss, first.pointee.ai_addr, Int(first.pointee.ai_addrlen))
        guard let e = endpoint(ss) else { throw Failure(description: "cannot resolve '\(host)': no usable address") }
        return e.address
    }
}
