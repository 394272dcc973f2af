import BowmanPacket

/// A port over memory: receives frames queued with `enqueue(_:)` (copied
/// into pool frames, as a NIC would DMA them) and keeps what it transmits.
/// For tests and pcap pipelines that need no privileges; not for speed.
public struct MemoryPort: ~Copyable {
    public let name: String
    var pending: [[UInt8]] = []
    var next = 0
    /// Frames transmitted, in order.
    public private(set) var sent: [[UInt8]] = []
    /// Receive at most this many per call (to exercise partial bursts).
    public var receiveLimit: Int
    /// Transmit at most this many per call (to simulate a full ring).
    public var transmitLimit: Int
    /// Whether `transmitRoom()` tells the worker about `transmitLimit`
    /// (a ring that reports its free slots) or says nothing (unbounded).
    public var reportsRoom = false

    public init(name: String = "memory", receiveLimit: Int = Burst.capacity, transmitLimit: Int = Int.max) {
        self.name = name; self.receiveLimit = receiveLimit; self.transmitLimit = transmitLimit
    }

    public mutating func enqueue(_ frame: [UInt8]) { pending.append(frame) }
    public var pendingCount: Int { pending.count - next }
}

extension MemoryPort: PacketPort {
    public mutating func receive(into burst: inout Burst, pool: inout FramePool) -> Int {
        var n = 0
        while next < pending.count, !burst.isFull, n < receiveLimit, let i = pool.allocateIndex() {
            let f = pending[next]
            let buf = pool.buffer(index: i)
            let len = min(f.count, buf.count)
            f.withUnsafeBytes { buf.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: len) }
            burst.append(index: i, length: UInt32(len))
            next += 1
            n += 1
        }
        return n
    }

    public mutating func transmit(_ burst: inout Burst, pool: inout FramePool) -> Int {
        let n = min(burst.count, transmitLimit)
        for k in 0..<n { sent.append(Array(UnsafeRawBufferPointer(burst.packet(at: k, in: pool)))) }
        for k in 0..<n { pool.release(index: burst.index(at: k)) }
        burst.removeFirst(n)
        return n
    }

    public mutating func transmitRoom() -> Int { reportsRoom ? transmitLimit : Int.max }
    public mutating func service(pool: inout FramePool) {}
    public var pollDescriptor: Int32 { -1 }
    public mutating func close(returningFramesTo pool: inout FramePool) {}
}
