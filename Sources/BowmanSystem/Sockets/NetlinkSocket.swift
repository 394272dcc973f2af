import CBowmanLinux
import Glibc

/// A NETLINK_ROUTE socket: requests to the kernel, and the replies and
/// multicast notifications of the groups it was bound to. Non-blocking;
/// closed when the last reference goes.
public final class NetlinkSocket {
    public private(set) var descriptor: Int32

    /// `groups`: RTMGRP_* bits to receive notifications for;
    /// `receiveBuffer`: bytes (a full-table dump arrives faster than it is read).
    public init(groups: UInt32, receiveBuffer: Int = 8 << 20) throws(SocketError) {
        let fd = cbowman_netlink_route_open(groups, Int32(receiveBuffer))
        guard fd >= 0 else { throw SocketError("netlink socket", nil, Errno(-fd)) }
        descriptor = fd
    }

    deinit { if descriptor >= 0 { Glibc.close(descriptor) } }

    public func close() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }

    /// Sends one request to the kernel.
    public func send(_ bytes: [UInt8]) throws(SocketError) {
        let rc = bytes.withUnsafeBytes { cbowman_netlink_send(descriptor, $0.baseAddress, UInt32($0.count)) }
        guard rc == 0 else { throw SocketError("netlink send", nil, Errno(-rc)) }
    }

    /// One datagram into `buffer`: its length, nil when none is waiting.
    /// Throws with `Errno.noBufferSpace` when the kernel dropped
    /// notifications (the receive buffer overflowed): the caller must dump again.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> Int? {
        while true {
            let n = recv(descriptor, buffer.baseAddress, buffer.count, cbowman_msg_dontwait())
            if n >= 0 { return n }
            let e = Errno.current
            if e == .interrupted { continue }
            if e == .wouldBlock { return nil }
            throw SocketError("netlink receive", nil, e)
        }
    }
}
