import CBowmanLinux
import BowmanCore
import Glibc

/// What every socket kind shares: it owns one descriptor (non-blocking,
/// close-on-exec) and closes it when the last reference goes.
public class Socket {
    /// The descriptor, for a shared poll(2); -1 once closed or detached.
    public private(set) var descriptor: Int32
    public let family: AddressFamily

    init(family: AddressFamily, type: Int32) throws(SocketError) {
        self.family = family
        descriptor = Glibc.socket(family.raw, type | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard descriptor >= 0 else { throw SocketError("socket") }
        if family == .v6 { try setOption(Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1, "IPV6_V6ONLY") }
    }

    init(adopting fd: Int32, family: AddressFamily) {
        descriptor = fd
        self.family = family
    }

    deinit { if descriptor >= 0 { Glibc.close(descriptor) } }

    public func close() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }

    /// Gives the descriptor up to the caller (who closes it); this object no longer owns it.
    public func detach() -> Int32 {
        let fd = descriptor
        descriptor = -1
        return fd
    }

    func setOption(_ level: Int32, _ name: Int32, _ value: Int32, _ what: String) throws(SocketError) {
        var v = value
        guard setsockopt(descriptor, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) == 0 else { throw SocketError("setsockopt \(what)") }
    }

    /// SO_REUSEADDR: a listener can rebind its port while old connections linger.
    public func reuseAddress() throws(SocketError) { try setOption(SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR") }

    public func bind(_ a: SocketAddress) throws(SocketError) {
        let rc = a.withSockaddr { Glibc.bind(descriptor, $0, $1) }
        guard rc == 0 else { throw SocketError("bind", a) }
    }

    /// The address the socket is bound to (its port after binding port 0).
    public var localAddress: SocketAddress? {
        SocketAddress.receiving { getsockname(descriptor, $0, $1) }.1
    }

    /// Switches blocking mode (sockets start non-blocking).
    public func setBlocking(_ blocking: Bool) {
        let flags = fcntl(descriptor, F_GETFL)
        _ = fcntl(descriptor, F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK)
    }
}

/// A UDP socket. `receive` and `send` never block: nil/false when the
/// socket has nothing or no room (EAGAIN).
public final class UDPSocket: Socket {
    public init(_ family: AddressFamily) throws(SocketError) {
        try super.init(family: family, type: Int32(SOCK_DGRAM.rawValue))
    }

    /// One datagram into `buffer`: its length and sender; nil when none is
    /// waiting (EAGAIN). A datagram longer than `buffer` is cut.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> (count: Int, from: SocketAddress)? {
        while true {
            let (n, from) = SocketAddress.receiving { recvfrom(descriptor, buffer.baseAddress, buffer.count, cbowman_msg_dontwait(), $0, $1) }
            if n >= 0 {
                guard let from else { continue }   // not an IP sender: not ours
                return (n, from)
            }
            let e = Errno.current
            if e == .interrupted { continue }
            if e == .wouldBlock { return nil }
            throw SocketError("recvfrom", nil, e)
        }
    }

    /// Sends one datagram; false when the socket buffer is full (EAGAIN).
    @discardableResult
    public func send(_ bytes: [UInt8], to a: SocketAddress) throws(SocketError) -> Bool {
        let n = bytes.withUnsafeBytes { b in a.withSockaddr { sendto(descriptor, b.baseAddress, b.count, cbowman_msg_dontwait(), $0, $1) } }
        if n == bytes.count { return true }
        if n < 0 && Errno.current == .wouldBlock { return false }
        throw SocketError("sendto", a)
    }

    // MARK: IPv6 multicast (RFC 3493 options)

    /// The interface multicast leaves by.
    public func setMulticastInterface(_ index: UInt32) throws(SocketError) {
        try setOption(Int32(IPPROTO_IPV6), IPV6_MULTICAST_IF, Int32(bitPattern: index), "IPV6_MULTICAST_IF")
    }
    public func setMulticastHops(_ hops: Int32) throws(SocketError) {
        try setOption(Int32(IPPROTO_IPV6), IPV6_MULTICAST_HOPS, hops, "IPV6_MULTICAST_HOPS")
    }
    /// Whether our own multicast comes back to us.
    public func setMulticastLoop(_ on: Bool) throws(SocketError) {
        try setOption(Int32(IPPROTO_IPV6), IPV6_MULTICAST_LOOP, on ? 1 : 0, "IPV6_MULTICAST_LOOP")
    }
    /// Joins an IPv6 multicast group on one interface.
    public func join(_ group: IPv6Address, interface index: UInt32) throws(SocketError) {
        var m = ipv6_mreq()
        withUnsafeMutableBytes(of: &m.ipv6mr_multiaddr) { group.store(to: $0, at: 0) }
        m.ipv6mr_interface = index
        guard setsockopt(descriptor, Int32(IPPROTO_IPV6), IPV6_ADD_MEMBERSHIP, &m, socklen_t(MemoryLayout<ipv6_mreq>.size)) == 0 else {
            throw SocketError("join \(group) on interface \(index)")
        }
    }
}

/// A TCP listener: `accept` never blocks.
public final class TCPListener: Socket {
    public init(_ family: AddressFamily) throws(SocketError) {
        try super.init(family: family, type: Int32(SOCK_STREAM.rawValue))
    }

    public func listen(backlog: Int32 = 64) throws(SocketError) {
        guard Glibc.listen(descriptor, backlog) == 0 else { throw SocketError("listen", localAddress) }
    }

    /// The next waiting connection (non-blocking), or nil when none is.
    public func accept() throws(SocketError) -> (TCPConnection, SocketAddress)? {
        while true {
            let (fd, from) = SocketAddress.receiving { Glibc.accept(descriptor, $0, $1) }
            if fd >= 0 {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                guard let from else { Glibc.close(fd); continue }
                return (TCPConnection(adopting: fd, family: from.family), from)
            }
            let e = Errno.current
            if e == .interrupted || e == Errno(ECONNABORTED) { continue }
            if e == .wouldBlock { return nil }
            throw SocketError("accept", localAddress, e)
        }
    }
}

/// A TCP connection, accepted or connecting. Reads and writes never block.
public final class TCPConnection: Socket {
    /// A socket to connect from (bind it first to choose the source).
    public init(_ family: AddressFamily) throws(SocketError) {
        try super.init(family: family, type: Int32(SOCK_STREAM.rawValue))
    }

    override init(adopting fd: Int32, family: AddressFamily) { super.init(adopting: fd, family: family) }

    /// Starts a non-blocking connect: true if it completed at once, false
    /// if it is in progress (poll for writability, then `pendingError`).
    @discardableResult
    public func startConnect(to a: SocketAddress) throws(SocketError) -> Bool {
        let rc = a.withSockaddr { Glibc.connect(descriptor, $0, $1) }
        if rc == 0 { return true }
        if Errno.current == .inProgress { return false }
        throw SocketError("connect", a)
    }

    /// The address the socket is connected to (getpeername), nil when it is not connected.
    public var remoteAddress: SocketAddress? {
        SocketAddress.receiving { getpeername(descriptor, $0, $1) }.1
    }

    /// The outcome of a connect in progress, once poll says writable: nil when it succeeded.
    public var pendingError: Errno? {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &err, &len) == 0 else { return .current }
        return err == 0 ? nil : Errno(err)
    }

    /// Reads into `buffer`: the byte count, 0 at end of stream, nil when nothing is waiting.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> Int? {
        while true {
            let n = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            let e = Errno.current
            if e == .interrupted { continue }
            if e == .wouldBlock { return nil }
            throw SocketError("read", nil, e)
        }
    }

    /// Writes what the socket takes now: the byte count, nil if it takes none (EAGAIN).
    public func write(_ bytes: UnsafeRawBufferPointer) throws(SocketError) -> Int? {
        while true {
            let n = Glibc.send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return n }
            let e = Errno.current
            if e == .interrupted { continue }
            if e == .wouldBlock { return nil }
            throw SocketError("send", nil, e)
        }
    }

    /// Writes all of `bytes`, waiting up to `timeout` ms each time the socket is full.
    public func writeAll(_ bytes: [UInt8], timeout: Int32 = 1_000) throws(SocketError) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n >= 0 { off += n; continue }
            let e = Errno.current
            if e == .interrupted { continue }
            guard e == .wouldBlock else { throw SocketError("send", nil, e) }
            guard Poll.wait(for: descriptor, writable: true, milliseconds: timeout) else {
                throw SocketError("send", nil, .wouldBlock)
            }
        }
    }

    /// Ends our direction of the stream (FIN); reading goes on.
    public func shutdownWrite() { _ = Glibc.shutdown(descriptor, Int32(SHUT_WR)) }
}
