import BowmanCore
import BowmanPacket
import BowmanSystem
import CBowmanLinux
import Glibc

/// A simple traffic source: one template frame sent in bursts of 64 with
/// sendmmsg(2) on an AF_PACKET socket (every iovec points at the same
/// template, so there is no per-packet copy in user space). It tops out
/// near 1 Mpps on veth here; the BPF live-frames generator is the fast one.
public struct TemplateGenerator: ~Copyable {
    private let socket: PacketSocket
    private let template: UnsafeMutableRawPointer
    private let lengths: UnsafeMutablePointer<UInt32>
    public let frameLength: Int
    public let burstSize: Int

    public init(interface: String, frame: [UInt8], burstSize: Int = 64) throws(Errno) {
        socket = try PacketSocket(interface: interface, qdiscBypass: true, ignoreOutgoing: true)
        frameLength = frame.count
        self.burstSize = min(burstSize, 256)
        let t = UnsafeMutableRawPointer.allocate(byteCount: max(frame.count, 64), alignment: 64)
        frame.withUnsafeBytes { t.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        template = t
        let l = UnsafeMutablePointer<UInt32>.allocate(capacity: self.burstSize)
        l.initialize(repeating: UInt32(frame.count), count: self.burstSize)
        lengths = l
    }

    deinit {
        template.deallocate()
        lengths.deallocate()
    }

    /// Sends one burst; returns the frames the kernel accepted (0 when its
    /// queue is full).
    public func sendBurst() throws(Errno) -> Int {
        let n = cbowman_send_burst(socket.fd, template.assumingMemoryBound(to: UInt8.self), 0, lengths, Int32(burstSize), 0)
        if n < 0 {
            if -n == EAGAIN || -n == ENOBUFS { return 0 }
            throw Errno(-n)
        }
        return Int(n)
    }
}
