import Synchronization

/// What a `SlotRing` slot begins with: at most 64 bytes, saying how many
/// of the packet's bytes follow.
public protocol SlotHeader: BitwiseCopyable, Sendable {
    var length: UInt32 { get }
}

/// Packets from one worker to the management core: a bounded
/// single-producer single-consumer ring of fixed slots, each a header and
/// a copy of up to 2048 bytes of a packet. The worker never waits: when
/// the ring is full the packet is not copied and `overflow` counts it.
/// Used for punts (the router's slow path) and captures.
public final class SlotRing<Header: SlotHeader>: @unchecked Sendable {
    /// The most bytes of a packet a slot keeps (a pool frame).
    @inlinable public static var slotBytes: Int { 2048 }
    @inlinable static var stride: Int { 2048 + 64 }

    @usableFromInline let head = Atomic<Int>(0)
    private var cachedTail = 0
    private let padA: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
    @usableFromInline let tail = Atomic<Int>(0)
    @usableFromInline var cachedHead = 0
    /// Packets the worker could not copy (ring full).
    public let overflow = Atomic<UInt64>(0)
    @usableFromInline var overflowTotal: UInt64 = 0
    private let padB: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
    @usableFromInline let memory: UnsafeMutableRawPointer
    @usableFromInline let mask: Int
    public let capacity: Int

    public init(capacity: Int = 256) {
        precondition(MemoryLayout<Header>.size <= 64, "a slot header holds at most 64 bytes")
        var c = 2
        while c < capacity { c <<= 1 }
        self.capacity = c
        mask = c - 1
        memory = .allocate(byteCount: c * Self.stride, alignment: 64)
    }

    deinit { memory.deallocate() }

    /// Worker: copies `h` and `h.length` bytes of `packet` into the next
    /// slot; false (and counted) when the ring is full.
    @usableFromInline func pushSlot(_ h: Header, _ packet: UnsafeRawBufferPointer) -> Bool {
        let t = tail.load(ordering: .relaxed)
        if t - cachedHead >= capacity {
            cachedHead = head.load(ordering: .acquiring)
            if t - cachedHead >= capacity {
                overflowTotal &+= 1
                overflow.store(overflowTotal, ordering: .relaxed)
                return false
            }
        }
        let slot = memory + (t & mask) * Self.stride
        slot.storeBytes(of: h, as: Header.self)
        if h.length > 0 { (slot + 64).copyMemory(from: packet.baseAddress!, byteCount: Int(h.length)) }
        tail.store(t + 1, ordering: .releasing)
        return true
    }

    /// Worker: fills up to `n` slots at once (`fill(k, bytes)` copies item
    /// k's bytes to `bytes` and returns its header) and publishes them with
    /// one store; items past the free room are counted in `overflow`.
    /// Returns how many were taken.
    @inlinable public func push(_ n: Int, _ fill: (Int, UnsafeMutableRawPointer) -> Header) -> Int {
        let t = tail.load(ordering: .relaxed)
        if t + n - cachedHead > capacity { cachedHead = head.load(ordering: .acquiring) }
        let room = Swift.min(n, capacity - (t - cachedHead))
        for k in 0..<room {
            let slot = memory + ((t + k) & mask) * Self.stride
            slot.storeBytes(of: fill(k, slot + 64), as: Header.self)
        }
        if room > 0 { tail.store(t + room, ordering: .releasing) }
        if room < n {
            overflowTotal &+= UInt64(n - room)
            overflow.store(overflowTotal, ordering: .relaxed)
        }
        return room
    }

    /// Management core: hands up to `max` packets to `body`, in order (the
    /// bytes are valid during the call only); returns how many.
    public func pop(max: Int, _ body: (Header, UnsafeRawBufferPointer) -> Void) -> Int {
        let h = head.load(ordering: .relaxed)
        if cachedTail == h { cachedTail = tail.load(ordering: .acquiring) }
        let n = Swift.min(max, cachedTail - h)
        for i in h..<(h + n) {
            let slot = memory + (i & mask) * Self.stride
            let hd = slot.load(as: Header.self)
            body(hd, UnsafeRawBufferPointer(start: slot + 64, count: Int(hd.length)))
        }
        if n > 0 { head.store(h + n, ordering: .releasing) }
        return n
    }

    /// Packets waiting (approximate from a third thread).
    public var count: Int { tail.load(ordering: .acquiring) - head.load(ordering: .acquiring) }
}
