/// A pool of fixed-size packet frames carved out of one `MemoryRegion`.
///
/// Frames are addressed by index (or by byte offset `index << frameShift`,
/// the AF_XDP UMEM address); a packet is never a class instance. The pool is
/// owned by one core and used `inout`: there is no lock and no atomic.
///
/// Free frames sit on a LIFO stack (the most recently freed frame is the
/// warmest in cache). A per-frame reference count is kept only so multicast
/// replication can hand one frame to several ports; for ordinary traffic it
/// is written once on allocate and read once on release.
public struct FramePool: ~Copyable {
    // MARK: hot
    public let base: UnsafeMutableRawPointer
    @usableFromInline var freeStack: UnsafeMutablePointer<UInt32>
    @usableFromInline var freeCount: Int
    @usableFromInline var refCounts: UnsafeMutablePointer<UInt16>
    /// log2 of the frame size.
    public let frameShift: Int
    // MARK: cold
    public let frameCount: Int
    @usableFromInline var outstanding: Int
    /// Releases of a frame that was already free (double free through raw indices).
    public private(set) var invalidReleases: Int = 0
    private let region: MemoryRegion

    public enum Error: Swift.Error, Equatable, CustomStringConvertible {
        case frameSizeNotPowerOfTwo(Int)
        case regionTooSmall(needed: Int, available: Int)
        case tooManyFrames(Int)
        public var description: String {
            switch self {
            case .frameSizeNotPowerOfTwo(let s): "frame size \(s) is not a power of two between 256 and 65536"
            case .regionTooSmall(let n, let a): "memory region holds \(a) bytes, the pool needs \(n)"
            case .tooManyFrames(let n): "\(n) frames exceed the 2^31 a pool can address"
            }
        }
    }

    /// Carves `frameCount` frames of `frameSize` bytes out of `region`.
    public init(region: consuming MemoryRegion, frameSize: Int, frameCount: Int) throws(Error) {
        guard frameSize >= 256, frameSize <= 65536, frameSize & (frameSize - 1) == 0 else {
            throw .frameSizeNotPowerOfTwo(frameSize)
        }
        guard frameCount > 0, frameCount < 1 << 31 else { throw .tooManyFrames(frameCount) }
        guard region.byteCount >= frameSize * frameCount else {
            throw .regionTooSmall(needed: frameSize * frameCount, available: region.byteCount)
        }
        self.base = region.base
        self.frameShift = frameSize.trailingZeroBitCount
        self.frameCount = frameCount
        self.freeStack = .allocate(capacity: frameCount)
        self.refCounts = .allocate(capacity: frameCount)
        self.refCounts.initialize(repeating: 0, count: frameCount)
        // Lowest index on top, so a fresh pool hands out frames in address order.
        for i in 0..<frameCount { freeStack[i] = UInt32(frameCount - 1 - i) }
        self.freeCount = frameCount
        self.outstanding = 0
        self.region = region
    }

    /// A pool on the Swift heap, for tests and pcap pipelines.
    public init(frameSize: Int = 2048, frameCount: Int) throws(Error) {
        try self.init(region: .heap(byteCount: frameSize * frameCount), frameSize: frameSize, frameCount: frameCount)
    }

    deinit {
        freeStack.deallocate()
        refCounts.deallocate()
    }

    // MARK: - Geometry

    @inlinable public var frameSize: Int { 1 << frameShift }
    /// NUMA node of the backing memory (-1 when unknown).
    public var numaNode: Int { region.numaNode }
    public var byteCount: Int { region.byteCount }

    /// Byte offset of a frame from `base` (its UMEM address).
    @inlinable public func offset(of index: UInt32) -> UInt64 { UInt64(index) << UInt64(frameShift) }
    /// Frame index holding a byte offset (any offset inside the frame).
    @inlinable public func index(ofOffset offset: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: offset >> UInt64(frameShift)) }

    /// The whole frame's memory.
    @inlinable public func buffer(_ frame: borrowing FrameHandle) -> UnsafeMutableRawBufferPointer {
        buffer(index: frame.index)
    }
    /// The whole frame's memory, by raw index (burst loops).
    @inlinable public func buffer(index: UInt32) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + (Int(index) << frameShift), count: 1 << frameShift)
    }

    // MARK: - Allocation

    /// Frames currently free.
    @inlinable public var available: Int { freeCount }
    /// Frames currently owned by someone (a handle, a burst, a ring, the kernel).
    @inlinable public var inFlight: Int { outstanding }

    /// Takes one frame, or nil when the pool is empty.
    /// - Complexity: O(1), no allocation.
    @inlinable public mutating func allocate() -> FrameHandle? {
        allocateIndex().map { FrameHandle(adoptingIndex: $0) }
    }

    /// Takes one frame as a raw index (for a ring), or nil when empty.
    /// - Complexity: O(1), no allocation.
    @inlinable public mutating func allocateIndex() -> UInt32? {
        guard freeCount > 0 else { return nil }
        freeCount &-= 1
        let i = freeStack[freeCount]
        refCounts[Int(i)] = 1
        outstanding &+= 1
        return i
    }

    /// Takes up to `count` frames into `burst` (appending raw indices with
    /// length 0). Returns how many were taken.
    @inlinable public mutating func allocate(into burst: inout Burst, count: Int) -> Int {
        let n = min(count, freeCount, burst.capacity - burst.count)
        var k = 0
        while k < n {
            freeCount &-= 1
            let i = freeStack[freeCount]
            refCounts[Int(i)] = 1
            burst.append(index: i, length: 0)
            k &+= 1
        }
        outstanding &+= n
        return n
    }

    /// Gives a frame back. With a shared frame only the count drops.
    @inlinable public mutating func release(_ frame: consuming FrameHandle) {
        release(index: frame.intoIndex())
    }

    /// Gives back a frame by raw index (a burst or a ring completion).
    @inlinable public mutating func release(index i: UInt32) {
        let slot = Int(i)
        guard slot < frameCount, refCounts[slot] != 0 else { return noteInvalidRelease() }
        let r = refCounts[slot]
        if r > 1 { refCounts[slot] = r &- 1; return }
        refCounts[slot] = 0
        freeStack[freeCount] = i
        freeCount &+= 1
        outstanding &-= 1
    }

    /// Gives back every frame of a burst and empties it.
    @inlinable public mutating func release(burst: inout Burst) {
        for k in 0..<burst.count { release(index: burst.index(at: k)) }
        burst.removeAll()
    }

    @usableFromInline @inline(never) mutating func noteInvalidRelease() { invalidReleases += 1 }

    /// A second owner of the same frame (multicast replication).
    @inlinable public mutating func share(_ frame: borrowing FrameHandle) -> FrameHandle {
        let slot = Int(frame.index)
        precondition(refCounts[slot] > 0 && refCounts[slot] < .max, "sharing a free or saturated frame")
        refCounts[slot] &+= 1
        return FrameHandle(adoptingIndex: frame.index)
    }

    /// Current owners of a frame (0 = free).
    public func referenceCount(ofIndex i: UInt32) -> Int { Int(refCounts[Int(i)]) }

    // MARK: - Accounting

    /// The result of a full audit of the pool.
    public struct Audit: Equatable, Sendable, CustomStringConvertible {
        public var total: Int
        public var free: Int
        public var inFlight: Int
        /// Frame indices that appear more than once on the free stack.
        public var duplicatedFree: Int
        /// Frames on the free stack whose reference count is not zero.
        public var freeButReferenced: Int
        /// Frames neither free nor referenced (lost).
        public var lost: Int
        public var invalidReleases: Int
        public init(total: Int, free: Int, inFlight: Int, duplicatedFree: Int = 0, freeButReferenced: Int = 0,
                    lost: Int = 0, invalidReleases: Int = 0) {
            self.total = total; self.free = free; self.inFlight = inFlight; self.duplicatedFree = duplicatedFree
            self.freeButReferenced = freeButReferenced; self.lost = lost; self.invalidReleases = invalidReleases
        }
        public var isConsistent: Bool {
            free + inFlight == total && duplicatedFree == 0 && freeButReferenced == 0 && lost == 0 && invalidReleases == 0
        }
        public var description: String {
            "frames total \(total), free \(free), in flight \(inFlight), duplicated \(duplicatedFree), " +
                "free-but-referenced \(freeButReferenced), lost \(lost), invalid releases \(invalidReleases)"
        }
    }

    /// Checks that free + in flight == total and that every frame is either
    /// on the free stack exactly once or referenced. O(frameCount), cold.
    public func audit() -> Audit {
        var seen = [UInt8](repeating: 0, count: frameCount)
        var dup = 0, freeRef = 0
        for k in 0..<freeCount {
            let i = Int(freeStack[k])
            if i >= frameCount { dup += 1; continue }
            if seen[i] != 0 { dup += 1 }
            seen[i] = 1
            if refCounts[i] != 0 { freeRef += 1 }
        }
        var referenced = 0, lost = 0
        for i in 0..<frameCount {
            if refCounts[i] != 0 { referenced += 1 } else if seen[i] == 0 { lost += 1 }
        }
        return Audit(total: frameCount, free: freeCount, inFlight: referenced, duplicatedFree: dup,
                     freeButReferenced: freeRef, lost: lost + (referenced != outstanding ? abs(referenced - outstanding) : 0),
                     invalidReleases: invalidReleases)
    }
}
