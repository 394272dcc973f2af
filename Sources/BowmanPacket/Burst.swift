/// A fixed-capacity batch of up to 64 frames: raw frame indices and packet
/// lengths, struct of arrays, reused forever (no allocation after init).
/// The frames in a burst are owned by whoever holds the burst.
public struct Burst: ~Copyable {
    /// The most frames one burst carries (DPDK/VPP use 32–256; 64 fits the
    /// AF_XDP ring batches and one cache line of indices per 16 packets).
    public static let capacity = 64

    @usableFromInline var indices: InlineArray<64, UInt32>
    @usableFromInline var lengths: InlineArray<64, UInt32>
    /// Byte offset of the packet inside its frame (headroom), per packet.
    @usableFromInline var offsets: InlineArray<64, UInt16>
    @usableFromInline var _count: Int
    /// Entries in the burst.
    @inlinable public var count: Int { _count }

    @inlinable public init() {
        indices = .init(repeating: 0)
        lengths = .init(repeating: 0)
        offsets = .init(repeating: 0)
        _count = 0
    }

    @inlinable public var capacity: Int { Self.capacity }
    @inlinable public var isEmpty: Bool { count == 0 }
    @inlinable public var isFull: Bool { count == Self.capacity }

    @inlinable public mutating func append(index: UInt32, length: UInt32, offset: UInt16 = 0) {
        precondition(count < Self.capacity, "burst full")
        indices[count] = index
        lengths[count] = length
        offsets[count] = offset
        _count &+= 1
    }

    @inlinable public func index(at k: Int) -> UInt32 { indices[k] }
    @inlinable public func length(at k: Int) -> UInt32 { lengths[k] }
    @inlinable public func offset(at k: Int) -> UInt16 { offsets[k] }
    @inlinable public mutating func setLength(_ length: UInt32, at k: Int) { lengths[k] = length }
    @inlinable public mutating func setOffset(_ offset: UInt16, at k: Int) { offsets[k] = offset }

    /// Forgets all entries (the frames must have been handed on already).
    @inlinable public mutating func removeAll() { _count = 0 }

    /// Removes the entries for which `drop` is true, keeping order, and
    /// passes each removed index to `removed`. No allocation.
    @inlinable public mutating func compact(dropping drop: (Int) -> Bool, removed: (UInt32) -> Void) {
        var w = 0
        for r in 0..<count {
            if drop(r) { removed(indices[r]); continue }
            if w != r { indices[w] = indices[r]; lengths[w] = lengths[r]; offsets[w] = offsets[r] }
            w &+= 1
        }
        _count = w
    }

    /// Packet bytes of entry `k` in `pool`.
    @inlinable public func packet(at k: Int, in pool: borrowing FramePool) -> UnsafeMutableRawBufferPointer {
        let frame = pool.buffer(index: indices[k])
        let start = Int(offsets[k])
        return UnsafeMutableRawBufferPointer(rebasing: frame[start..<(start + Int(lengths[k]))])
    }
}
