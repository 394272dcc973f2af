import CBowmanLinux

/// Where an AF_XDP ring lives: the producer and consumer words, the flags
/// word and the descriptor array, as mmap'ed from the socket (or, in
/// tests, on the heap with a simulated kernel on the other side).
public struct XSKRingMemory: @unchecked Sendable {
    public var producer: UnsafeMutablePointer<UInt32>
    public var consumer: UnsafeMutablePointer<UInt32>
    public var flags: UnsafeMutablePointer<UInt32>
    public var ring: UnsafeMutableRawPointer
    /// Entries; a power of two.
    public var size: UInt32
    public init(producer: UnsafeMutablePointer<UInt32>, consumer: UnsafeMutablePointer<UInt32>,
                flags: UnsafeMutablePointer<UInt32>, ring: UnsafeMutableRawPointer, size: UInt32) {
        precondition(size > 0 && size & (size - 1) == 0, "ring size must be a power of two")
        self.producer = producer; self.consumer = consumer; self.flags = flags; self.ring = ring; self.size = size
    }
}

/// XDP_RING_NEED_WAKEUP (linux/if_xdp.h).
@usableFromInline let xdpRingNeedWakeup: UInt32 = 1

/// The user-space producer side of an AF_XDP ring (fill, tx).
///
/// Indices are free-running 32-bit counters that wrap; only `index & mask`
/// addresses a slot. The consumer's index is read (acquire) only when the
/// cached view runs out of room, and the producer index is published
/// (release) once per batch — the protocol of libxdp's xsk.h and the
/// kernel's net/xdp/xsk_queue.h.
public struct XSKProducerRing {
    // MARK: hot
    @usableFromInline var cachedProducer: UInt32
    /// The consumer index plus `size`: the first index we may not write.
    @usableFromInline var cachedLimit: UInt32
    @usableFromInline let mask: UInt32
    @usableFromInline let memory: XSKRingMemory

    public init(_ memory: XSKRingMemory) {
        self.memory = memory
        mask = memory.size &- 1
        cachedProducer = cbowman_load_relaxed_u32(memory.producer)
        cachedLimit = cbowman_load_acquire_u32(memory.consumer) &+ memory.size
    }

    @inlinable public var size: UInt32 { memory.size }

    /// Free slots, refreshing the consumer index only if fewer than `wanted` are known.
    @inlinable public mutating func free(wanting wanted: UInt32) -> UInt32 {
        let known = cachedLimit &- cachedProducer
        if known >= wanted { return known }
        cachedLimit = cbowman_load_acquire_u32(memory.consumer) &+ memory.size
        return cachedLimit &- cachedProducer
    }

    /// Reserves up to `n` slots; returns how many and the first index.
    @inlinable public mutating func reserve(upTo n: UInt32) -> (count: UInt32, index: UInt32) {
        let got = min(n, free(wanting: n))
        let first = cachedProducer
        cachedProducer &+= got
        return (got, first)
    }

    /// Writes a UMEM address (fill ring entry).
    @inlinable public func setAddress(_ address: UInt64, at index: UInt32) {
        memory.ring.storeBytes(of: address, toByteOffset: Int(index & mask) &* 8, as: UInt64.self)
    }

    /// Writes a descriptor (tx ring entry: struct xdp_desc {u64 addr; u32 len; u32 options}).
    @inlinable public func setDescriptor(address: UInt64, length: UInt32, at index: UInt32) {
        let o = Int(index & mask) &* 16
        memory.ring.storeBytes(of: address, toByteOffset: o, as: UInt64.self)
        memory.ring.storeBytes(of: length, toByteOffset: o &+ 8, as: UInt32.self)
        memory.ring.storeBytes(of: UInt32(0), toByteOffset: o &+ 12, as: UInt32.self)
    }

    /// Publishes everything reserved so far to the kernel.
    @inlinable public mutating func submit() {
        cbowman_store_release_u32(memory.producer, cachedProducer)
    }

    /// Whether the kernel asked to be woken (need_wakeup mode): a plain read
    /// of the flags word, as libxdp's xsk_ring_prod__needs_wakeup does. (A
    /// full fence here cost a measurable share of every empty poll.)
    @inlinable public var needsWakeup: Bool {
        cbowman_load_relaxed_u32(memory.flags) & xdpRingNeedWakeup != 0
    }

    /// Entries published and not yet consumed by the kernel.
    public var outstanding: UInt32 { cbowman_load_relaxed_u32(memory.producer) &- cbowman_load_acquire_u32(memory.consumer) }

    /// Whether the kernel has not yet taken everything we published.
    @inlinable public var hasUnconsumed: Bool { cbowman_load_acquire_u32(memory.consumer) != cachedProducer }
}

/// The user-space consumer side of an AF_XDP ring (rx, completion).
public struct XSKConsumerRing {
    @usableFromInline var cachedConsumer: UInt32
    @usableFromInline var cachedProducer: UInt32
    @usableFromInline let mask: UInt32
    @usableFromInline let memory: XSKRingMemory

    public init(_ memory: XSKRingMemory) {
        self.memory = memory
        mask = memory.size &- 1
        cachedConsumer = cbowman_load_relaxed_u32(memory.consumer)
        cachedProducer = cbowman_load_acquire_u32(memory.producer)
    }

    @inlinable public var size: UInt32 { memory.size }

    /// Takes up to `n` available entries; returns how many and the first index.
    /// The producer index is re-read (acquire) only when the cached view is empty.
    @inlinable public mutating func peek(upTo n: UInt32) -> (count: UInt32, index: UInt32) {
        var available = cachedProducer &- cachedConsumer
        if available == 0 {
            cachedProducer = cbowman_load_acquire_u32(memory.producer)
            available = cachedProducer &- cachedConsumer
        }
        let got = min(n, available)
        let first = cachedConsumer
        cachedConsumer &+= got
        return (got, first)
    }

    /// A UMEM address (completion ring entry).
    @inlinable public func address(at index: UInt32) -> UInt64 {
        memory.ring.load(fromByteOffset: Int(index & mask) &* 8, as: UInt64.self)
    }

    /// A descriptor (rx ring entry).
    @inlinable public func descriptor(at index: UInt32) -> (address: UInt64, length: UInt32) {
        let o = Int(index & mask) &* 16
        return (memory.ring.load(fromByteOffset: o, as: UInt64.self), memory.ring.load(fromByteOffset: o &+ 8, as: UInt32.self))
    }

    /// Hands every peeked entry back to the kernel.
    @inlinable public mutating func release() {
        cbowman_store_release_u32(memory.consumer, cachedConsumer)
    }

    @inlinable public var needsWakeup: Bool {
        cbowman_load_relaxed_u32(memory.flags) & xdpRingNeedWakeup != 0
    }
}
