import BowmanCore
import BowmanPacket
import BowmanSystem
import CBowmanLinux
import Glibc

/// A plain AF_PACKET socket bound to one interface, moving bursts with
/// recvmmsg(2)/sendmmsg(2) straight into and out of pool frames (one copy
/// per packet in the kernel, one syscall per burst). The simplest port that
/// works everywhere; the TPACKET_V3 ring and AF_XDP ports are the fast ones.
public struct PacketSocket: ~Copyable {
    public let fd: Int32
    public let interface: String
    public let interfaceIndex: Int32
    /// Headroom left in front of each received packet (for encapsulation).
    public let headroom: Int
    /// Failed receive and send calls as a port (EAGAIN and ENOBUFS are not
    /// failures) and the last error: the worker counts them instead of
    /// stopping; read them when the port comes back from the worker.
    public internal(set) var receiveErrors: UInt64 = 0
    public internal(set) var sendErrors: UInt64 = 0
    public internal(set) var lastError: Errno?

    /// Opens and binds the socket in the calling thread's network namespace.
    /// - Parameters:
    ///   - qdiscBypass: PACKET_QDISC_BYPASS on transmit (no traffic control).
    ///   - ignoreOutgoing: PACKET_IGNORE_OUTGOING, so a receiver does not see what the host sends.
    public init(interface: String, headroom: Int = 0, qdiscBypass: Bool = true, ignoreOutgoing: Bool = true,
                receiveBufferBytes: Int32 = 8 << 20) throws(Errno) {
        let index = try NetworkNamespace.interfaceIndex(interface)
        let s = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                       Int32(cbowman_eth_p_all_be()))
        guard s >= 0 else { throw Errno.current }
        var rc = cbowman_packet_bind(s, index)
        if rc == 0, qdiscBypass { rc = cbowman_setsockopt_int(s, SOL_PACKET, PACKET_QDISC_BYPASS, 1) }
        if rc == 0, ignoreOutgoing { rc = cbowman_setsockopt_int(s, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1) }
        if rc == 0 { _ = cbowman_setsockopt_int(s, SOL_SOCKET, SO_RCVBUF, receiveBufferBytes) }
        if rc != 0 { Glibc.close(s); throw Errno(rc) }
        fd = s
        self.interface = interface
        interfaceIndex = index
        self.headroom = headroom
    }

    deinit { Glibc.close(fd) }

    /// Receives up to a burst's free room of packets into fresh pool frames.
    /// Returns the number received (0 when nothing is waiting). Frames that
    /// got no packet go straight back to the pool.
    @inlinable
    public func receiveBurst(into burst: inout Burst, pool: inout FramePool) throws(Errno) -> Int {
        let want = burst.capacity - burst.count
        return try withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 2 * Burst.capacity) { tmp throws(Errno) -> Int in
            let idx = tmp.baseAddress!, lens = idx + Burst.capacity
            var got = 0
            while got < want, let h = pool.allocate() { idx[got] = h.intoIndex(); got += 1 }
            if got == 0 { return 0 }
            let cap = UInt32(pool.frameSize - headroom)
            let n = cbowman_recv_frames(fd, pool.base.assumingMemoryBound(to: UInt8.self), UInt32(pool.frameShift),
                                        UInt32(headroom), cap, idx, lens, Int32(got), 0)
            let received = max(0, Int(n))
            for k in 0..<received { burst.append(index: idx[k], length: lens[k], offset: UInt16(headroom)) }
            for k in received..<got { pool.release(index: idx[k]) }
            if n < 0 && -n != EAGAIN { throw Errno(-n) }
            return received
        }
    }

    /// Sends every packet of `burst`; sent frames are released to the pool
    /// and removed from the burst. Returns how many were sent; the rest stay
    /// in the burst (ring full), for the caller to retry or drop.
    @inlinable
    public func sendBurst(_ burst: inout Burst, pool: inout FramePool) throws(Errno) -> Int {
        if burst.isEmpty { return 0 }
        let count = burst.count
        let n = withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 2 * Burst.capacity) { tmp -> Int32 in
            withUnsafeTemporaryAllocation(of: UInt16.self, capacity: Burst.capacity) { offs -> Int32 in
                let idx = tmp.baseAddress!, lens = idx + Burst.capacity
                for k in 0..<count { idx[k] = burst.index(at: k); lens[k] = burst.length(at: k); offs[k] = burst.offset(at: k) }
                return cbowman_send_frames(fd, pool.base.assumingMemoryBound(to: UInt8.self), UInt32(pool.frameShift),
                                           offs.baseAddress!, idx, lens, Int32(count), 0)
            }
        }
        if n < 0 {
            if -n == EAGAIN || -n == ENOBUFS { return 0 }
            throw Errno(-n)
        }
        let sent = Int(n)
        var k = 0
        burst.compact(dropping: { _ in let d = k < sent; k += 1; return d }, removed: { pool.release(index: $0) })
        return sent
    }

    /// Sends each frame with one send(2) (control plane, tests, generators
    /// of mixed frames). Returns how many the kernel took.
    public func send(frames: [[UInt8]]) -> Int {
        var n = 0
        for f in frames {
            let r = f.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            if r == f.count { n += 1 }
        }
        return n
    }

    /// Waits up to `timeoutMilliseconds` for the socket to become readable.
    public func waitReadable(timeoutMilliseconds: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, timeoutMilliseconds) > 0
    }
}
