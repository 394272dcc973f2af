import BowmanPacket
import BowmanSystem
import Synchronization

/// A captured packet's record: where it was seen, when, and how long it was.
public struct CaptureHeader: BitwiseCopyable, Sendable {
    /// The port's index in its worker.
    public var port: UInt8
    /// 0: as received, before the forwarding function; 1: as sent, after it.
    public var point: UInt8
    public var reserved: UInt16
    /// Bytes copied (at most 2048).
    public var length: UInt32
    /// The packet's length on the wire.
    public var wireLength: UInt32
    /// CLOCK_REALTIME in nanoseconds, read once per burst.
    public var timestamp: UInt64
    @inlinable public init(port: UInt8, point: UInt8, length: UInt32, wireLength: UInt32, timestamp: UInt64) {
        self.port = port; self.point = point; reserved = 0; self.length = length; self.wireLength = wireLength
        self.timestamp = timestamp
    }
}

/// The bytes a worker copies for captures: a single-producer
/// single-consumer ring of variable-length records (a `CaptureHeader`
/// and the packet's bytes, 8-byte aligned), written and read in address
/// order, so a 64-byte packet costs 88 bytes of ring and the worker's
/// stores stream. A record never wraps: the buffer has one largest
/// record's worth of slack past its end, and positions are counted
/// modulo the capacity only where a record starts.
public final class CaptureRing: @unchecked Sendable {
    @usableFromInline let head = Atomic<Int>(0)
    private var cachedTail = 0
    private let padA: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
    @usableFromInline let tail = Atomic<Int>(0)
    @usableFromInline var cachedHead = 0
    /// Packets not copied because the ring was full.
    public let overflow = Atomic<UInt64>(0)
    @usableFromInline var overflowTotal: UInt64 = 0
    private let padB: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
    @usableFromInline let memory: UnsafeMutableRawPointer
    @usableFromInline let mask: Int
    public let capacity: Int
    /// The most bytes of a packet a record keeps.
    public static let maxBytes = 2048
    @inlinable static var headerBytes: Int { MemoryLayout<CaptureHeader>.size }

    /// `bytes`: the ring's size, rounded up to a power of two.
    public init(bytes: Int = 4 << 20) {
        var c = 4096
        while c < bytes { c <<= 1 }
        capacity = c
        mask = c - 1
        memory = .allocate(byteCount: c + Self.maxBytes + 64, alignment: 64)
    }

    deinit { memory.deallocate() }

    /// Worker: copies up to `n` packets (`fill(k, into)` copies packet k's
    /// first `size(k)` bytes to `into` and returns its header) and
    /// publishes them with one store; those past the free room are counted.
    @inlinable public func push(_ n: Int, size: (Int) -> Int, _ fill: (Int, UnsafeMutableRawPointer) -> CaptureHeader) -> Int {
        var t = tail.load(ordering: .relaxed)
        let start = t
        var k = 0
        while k < n {
            let record = Self.headerBytes + (size(k) + 7) & ~7
            if t + record - cachedHead > capacity {
                cachedHead = head.load(ordering: .acquiring)
                if t + record - cachedHead > capacity { break }
            }
            let at = memory + (t & mask)
            at.storeBytes(of: fill(k, at + Self.headerBytes), as: CaptureHeader.self)
            t += record
            k += 1
        }
        if t != start { tail.store(t, ordering: .releasing) }
        if k < n {
            overflowTotal &+= UInt64(n - k)
            overflow.store(overflowTotal, ordering: .relaxed)
        }
        return k
    }

    /// Management core: hands up to `max` records to `body` in order (the
    /// bytes are valid during the call only); returns how many.
    public func pop(max: Int, _ body: (CaptureHeader, UnsafeRawBufferPointer) -> Void) -> Int {
        var h = head.load(ordering: .relaxed)
        if cachedTail == h { cachedTail = tail.load(ordering: .acquiring) }
        var n = 0
        while h < cachedTail && n < max {
            let at = memory + (h & mask)
            let hd = at.load(as: CaptureHeader.self)
            body(hd, UnsafeRawBufferPointer(start: at + Self.headerBytes, count: Int(hd.length)))
            h += Self.headerBytes + (Int(hd.length) + 7) & ~7
            n += 1
        }
        if n > 0 { head.store(h, ordering: .releasing) }
        return n
    }

    /// Bytes waiting (approximate from a third thread).
    public var pendingBytes: Int { tail.load(ordering: .acquiring) - head.load(ordering: .acquiring) }
}

/// One worker's capture tap: the management core arms it for some ports
/// and points (`armed`: bit P for port P as received, bit 32+P as sent),
/// the worker copies those packets into its `CaptureRing` once per burst
/// and the management core writes them out. Disarmed, it costs the worker
/// one relaxed load per burst; armed, a copy per packet; when the writer
/// falls behind the ring is full and packets are dropped and counted,
/// never waited for.
public final class CaptureTap: Sendable {
    public let ring: CaptureRing
    public let armed = Atomic<UInt64>(0)
    public init(bytes: Int = 4 << 20) { ring = CaptureRing(bytes: bytes) }

    public static func bit(port: Int, afterProcessing: Bool) -> UInt64 { UInt64(1) << UInt64(port + (afterProcessing ? 32 : 0)) }

    /// Worker: copies the packets of `burst` seen at `point` on `port`, if armed for them.
    @inlinable public func copy(_ burst: borrowing Burst, port: Int, point: UInt8, armedMask: UInt64, pool: borrowing FramePool) {
        guard armedMask & (UInt64(1) << UInt64(port + (point == 0 ? 0 : 32))) != 0 else { return }
        let now = SystemClock.realtimeNanoseconds
        _ = ring.push(burst.count, size: { k in min(Int(burst.length(at: k)), CaptureRing.maxBytes) }) { k, into in
            let p = burst.packet(at: k, in: pool)
            let n = min(p.count, CaptureRing.maxBytes)
            if n > 0 { into.copyMemory(from: p.baseAddress!, byteCount: n) }
            return CaptureHeader(port: UInt8(truncatingIfNeeded: port), point: point, length: UInt32(n), wireLength: UInt32(p.count), timestamp: now)
        }
    }
}
