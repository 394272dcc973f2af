import Synchronization

/// Publishes immutable tables (classifier, FIB, multicast routes) from the
/// management core to the workers with one atomic pointer store, and frees
/// a replaced table only after every worker has passed a quiescent point
/// (the end of a burst) since it was replaced: quiescent-state-based
/// reclamation, as DPDK's RCU and VPP's barrier-free updates do.
///
/// Workers read with `current(worker:)`: one acquire load, no retain, no
/// lock. They must not keep the pointer across `quiescent(worker:)`.
public final class TablePublisher<Table>: @unchecked Sendable {
    private let pointer: Atomic<UnsafeMutablePointer<Table>>
    /// Bumped on every publish; a worker's slot holds the epoch it last saw.
    private let epoch = Atomic<UInt64>(1)
    private let workerEpochs: UnsafeMutablePointer<UInt64>   // one per 64-byte line
    private let workers: Int
    /// Replaced tables not yet freed, with the epoch that replaced them (management core only).
    private var retired: [(UnsafeMutablePointer<Table>, UInt64)] = []
    /// Called just before a table is freed (tests, logging).
    public var onFree: ((UnsafeMutablePointer<Table>) -> Void)?
    public private(set) var published = 0
    public private(set) var freed = 0

    public init(_ initial: Table, workers: Int) {
        let p = UnsafeMutablePointer<Table>.allocate(capacity: 1)
        p.initialize(to: initial)
        pointer = Atomic(p)
        self.workers = workers
        workerEpochs = .allocate(capacity: max(1, workers) * 8)
        workerEpochs.initialize(repeating: .max, count: max(1, workers) * 8)   // .max: not yet reading
    }

    deinit {
        for (p, _) in retired { p.deinitialize(count: 1); p.deallocate() }
        let p = pointer.load(ordering: .acquiring)
        p.deinitialize(count: 1)
        p.deallocate()
        workerEpochs.deallocate()
    }

    @inlinable var lineStride: Int { 8 }

    /// Worker: the table to use for this burst.
    @inlinable public func current(worker: Int) -> UnsafePointer<Table> {
        UnsafePointer(loadPointer())
    }
    @usableFromInline func loadPointer() -> UnsafeMutablePointer<Table> { pointer.load(ordering: .acquiring) }

    /// Worker: end of a burst; it holds no table pointer any more.
    @inlinable public func quiescent(worker: Int) { markQuiescent(worker) }
    @usableFromInline func markQuiescent(_ w: Int) {
        let e = epoch.load(ordering: .acquiring)
        UnsafeMutableRawPointer(workerEpochs + w * 8).storeBytes(of: e, as: UInt64.self)
        atomicFence()
    }

    /// Worker: it stops reading for a while (idle sleep, shutdown): never holds up reclamation.
    public func offline(worker: Int) {
        (workerEpochs + worker * 8).pointee = .max
        atomicFence()
    }

    /// Management core: makes `table` current. The old one is freed by a
    /// later `reclaim()` once every worker has been quiescent since.
    public func publish(_ table: Table) {
        let p = UnsafeMutablePointer<Table>.allocate(capacity: 1)
        p.initialize(to: table)
        let old = pointer.exchange(p, ordering: .acquiringAndReleasing)
        let e = epoch.add(1, ordering: .acquiringAndReleasing).newValue
        retired.append((old, e))
        published += 1
        reclaim()
    }

    /// Management core: frees every retired table no worker can still hold.
    /// Returns how many were freed.
    @discardableResult
    public func reclaim() -> Int {
        atomicFence()
        var oldest = UInt64.max
        for w in 0..<workers {
            let seen = UnsafeRawPointer(workerEpochs + w * 8).load(as: UInt64.self)
            oldest = min(oldest, seen)
        }
        var n = 0
        retired.removeAll { (p, e) in
            // A worker that saw epoch ≥ e loaded the pointer after the swap.
            guard oldest >= e else { return false }
            onFree?(p)
            p.deinitialize(count: 1)
            p.deallocate()
            n += 1
            return true
        }
        freed += n
        return n
    }

    /// Tables retired and not yet freed.
    public var pending: Int { retired.count }
}

@inline(__always) func atomicFence() { atomicMemoryFence(ordering: .sequentiallyConsistent) }
