/// A fixed-capacity batch of up to 64 frames: raw frame indices, packet
/// lengths and in-frame offsets, struct of arrays, allocated once and
/// reused forever (no allocation per packet or per burst).
///
/// The storage is one small heap block owned by the burst rather than
/// `InlineArray`s: reading an element of an inline array reached through a
/// global or a class was measured to copy the whole 640-byte array
/// (a memmove per packet); a pointer never is. The frames in a burst are
/// owned by whoever holds the burst.
public struct Burst: ~Copyable {
    /// The most frames one burst carries (DPDK/VPP use 32–256; 64 matches
    /// the AF_XDP ring batches).
    @inlinable public static var capacity: Int { 64 }

    @usableFromInline let indices: UnsafeMutablePointer<UInt32>
    @usableFromInline let lengths: UnsafeMutablePointer<UInt32>
    /// Byte offset of the packet inside its frame (headroom), per packet.
    @usableFromInline let offsets: UnsafeMutablePointer<UInt16>
    /// Out port per packet, written by a forwarding function that answers
    /// `.perPacket` (`Burst.dropEgress`: release the frame).
    @usableFromInline let egresses: UnsafeMutablePointer<UInt8>
    @usableFromInline var _count: Int

    /// The egress that tells the worker to release a packet's frame.
    @inlinable public static var dropEgress: UInt8 { 0xFF }

    public init() {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: Self.capacity * 12, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: Self.capacity * 12)
        indices = raw.bindMemory(to: UInt32.self, capacity: Self.capacity)
        lengths = (raw + Self.capacity * 4).bindMemory(to: UInt32.self, capacity: Self.capacity)
        offsets = (raw + Self.capacity * 8).bindMemory(to: UInt16.self, capacity: Self.capacity)
        egresses = (raw + Self.capacity * 10).bindMemory(to: UInt8.self, capacity: Self.capacity)
        _count = 0
    }

    deinit { UnsafeMutableRawPointer(indices).deallocate() }

    /// Entries in the burst.
    @inlinable public var count: Int { _count }
    /// How many packets a receive may put in (`limit`, at most 64).
    @inlinable public var capacity: Int { limit }
    /// Set by the worker to what the out port can take now (backpressure).
    public var limit: Int = Burst.capacity
    @inlinable public var isEmpty: Bool { _count == 0 }
    @inlinable public var isFull: Bool { _count >= limit }

    @inlinable public mutating func append(index: UInt32, length: UInt32, offset: UInt16 = 0) {
        precondition(_count < Self.capacity, "burst full")
        indices[_count] = index
        lengths[_count] = length
        offsets[_count] = offset
        _count &+= 1
    }

    @inlinable public func index(at k: Int) -> UInt32 { indices[k] }
    @inlinable public func length(at k: Int) -> UInt32 { lengths[k] }
    @inlinable public func offset(at k: Int) -> UInt16 { offsets[k] }
    @inlinable public mutating func setLength(_ length: UInt32, at k: Int) { lengths[k] = length }
    @inlinable public mutating func setOffset(_ offset: UInt16, at k: Int) { offsets[k] = offset }
    /// Out port of entry `k` (meaningful after a `.perPacket` verdict).
    @inlinable public func egress(at k: Int) -> UInt8 { egresses[k] }
    @inlinable public mutating func setEgress(_ port: UInt8, at k: Int) { egresses[k] = port }

    /// The raw index array (for a ring or a C call), valid while the burst lives.
    @inlinable public var indexBuffer: UnsafeMutablePointer<UInt32> { indices }
    @inlinable public var lengthBuffer: UnsafeMutablePointer<UInt32> { lengths }
    @inlinable public var offsetBuffer: UnsafeMutablePointer<UInt16> { offsets }

    /// Forgets all entries (the frames must have been handed on already).
    @inlinable public mutating func removeAll() { _count = 0 }

    /// Sets the count after entries were written through the raw buffers.
    @inlinable public mutating func setCount(_ n: Int) {
        precondition(n >= 0 && n <= Self.capacity)
        _count = n
    }

    /// Drops the first `n` entries (handed on to a ring), keeping the rest in order.
    @inlinable public mutating func removeFirst(_ n: Int) {
        guard n > 0 else { return }
        let rest = _count &- n
        if rest > 0 {
            (indices).update(from: indices + n, count: rest)
            (lengths).update(from: lengths + n, count: rest)
            (offsets).update(from: offsets + n, count: rest)
            egresses.update(from: egresses + n, count: rest)
        }
        _count = max(0, rest)
    }

    /// Removes the entries for which `drop` is true, keeping order, and
    /// passes each removed index to `removed`. No allocation.
    @inlinable public mutating func compact(dropping drop: (Int) -> Bool, removed: (UInt32) -> Void) {
        var w = 0
        for r in 0..<_count {
            if drop(r) { removed(indices[r]); continue }
            if w != r { indices[w] = indices[r]; lengths[w] = lengths[r]; offsets[w] = offsets[r]; egresses[w] = egresses[r] }
            w &+= 1
        }
        _count = w
    }

    /// Whether every entry's egress is `port` (the common case of a
    /// per-packet verdict: then the burst leaves whole, with no copy).
    @inlinable public func allEgresses(equal port: UInt8) -> Bool {
        let n = _count
        let raw = UnsafeRawPointer(egresses)
        let pattern = UInt64(port) &* 0x0101_0101_0101_0101
        var i = 0
        while i &+ 8 <= n {
            if raw.load(fromByteOffset: i, as: UInt64.self) != pattern { return false }
            i &+= 8
        }
        while i < n {
            if egresses[i] != port { return false }
            i &+= 1
        }
        return true
    }

    /// Moves the entries whose egress is `port` to the end of `out` (in
    /// order) and closes the gap they leave here: one pass, no allocation.
    @inlinable public mutating func take(egress port: UInt8, into out: inout Burst) {
        var w = 0
        for r in 0..<_count {
            if egresses[r] == port {
                out.append(index: indices[r], length: lengths[r], offset: offsets[r])
                continue
            }
            if w != r { indices[w] = indices[r]; lengths[w] = lengths[r]; offsets[w] = offsets[r]; egresses[w] = egresses[r] }
            w &+= 1
        }
        _count = w
    }

    /// Packet bytes of entry `k` in `pool`.
    @inlinable public func packet(at k: Int, in pool: borrowing FramePool) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: pool.base + (Int(indices[k]) << pool.frameShift) + Int(offsets[k]),
                                      count: Int(lengths[k]))
    }
}
