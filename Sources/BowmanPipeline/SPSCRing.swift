import Synchronization

/// A bounded single-producer single-consumer ring between two threads
/// (management → worker commands, worker → management events). Lock-free:
/// each side owns one index, reads the other's with acquire only when its
/// cached copy says the ring is full or empty, and publishes its own with
/// release once per batch. The indices sit on separate cache lines.
///
/// Exactly one thread may push and one may pop; elements are plain values
/// (`BitwiseCopyable`: no reference counting crosses cores).
public final class SPSCRing<Element: BitwiseCopyable>: @unchecked Sendable {
    // MARK: consumer's line
    private let head = Atomic<Int>(0)
    private var cachedTail = 0
    private let padA: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
    // MARK: producer's line
    private let tail = Atomic<Int>(0)
    private var cachedHead = 0
    private let padB: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
    // MARK: shared, read-only
    private let buffer: UnsafeMutablePointer<Element>
    private let mask: Int
    public let capacity: Int

    /// - Parameter capacity: rounded up to a power of two.
    public init(capacity: Int) {
        var c = 1
        while c < max(2, capacity) { c <<= 1 }
        self.capacity = c
        mask = c - 1
        buffer = .allocate(capacity: c)
    }

    deinit { buffer.deallocate() }

    /// Producer: appends one element; false when the ring is full.
    @inlinable public func push(_ e: Element) -> Bool { push(contentsOf: CollectionOfOne(e)) == 1 }

    /// Producer: appends as many elements as fit; returns how many.
    public func push<C: Collection>(contentsOf elements: C) -> Int where C.Element == Element {
        let t = tail.load(ordering: .relaxed)
        if capacity - (t - cachedHead) < elements.count {
            cachedHead = head.load(ordering: .acquiring)
        }
        let n = min(elements.count, capacity - (t - cachedHead))
        if n == 0 { return 0 }
        var i = t
        for e in elements.prefix(n) { buffer[i & mask] = e; i += 1 }
        tail.store(t + n, ordering: .releasing)
        return n
    }

    /// Consumer: takes one element, or nil when empty.
    public func pop() -> Element? {
        var out: Element?
        _ = pop(max: 1) { out = $0 }
        return out
    }

    /// Consumer: hands up to `max` elements to `body`, in order; returns how many.
    public func pop(max: Int, _ body: (Element) -> Void) -> Int {
        let h = head.load(ordering: .relaxed)
        if cachedTail - h == 0 { cachedTail = tail.load(ordering: .acquiring) }
        let n = Swift.min(max, cachedTail - h)
        if n == 0 { return 0 }
        for i in h..<(h + n) { body(buffer[i & mask]) }
        head.store(h + n, ordering: .releasing)
        return n
    }

    /// Elements waiting (approximate when read by a third thread).
    public var count: Int { tail.load(ordering: .acquiring) - head.load(ordering: .acquiring) }
}
