import BowmanClassifier
import BowmanPacket
import Synchronization

/// Per-flow packet counts of one worker, indexed by demux id (Odyssey's
/// channel subscription: the classifier's demux id selects the flow).
/// Written by the worker (relaxed stores, one writer: no read-modify-write),
/// read by the management core.
public final class FlowCounters: @unchecked Sendable {
    public let capacity: Int
    @usableFromInline let counts: UnsafeMutablePointer<UInt64>
    /// Packets no rule matched.
    public let unmatched = Atomic<UInt64>(0)
    /// Packets whose demux id is beyond `capacity`.
    public let overflow = Atomic<UInt64>(0)

    public init(capacity: Int = 4096) {
        self.capacity = capacity
        counts = .allocate(capacity: capacity)
        counts.initialize(repeating: 0, count: capacity)
    }
    deinit { counts.deallocate() }

    /// Packets counted for a demux id (a plain read of the worker's counter).
    public func count(_ demux: Int) -> UInt64 {
        demux >= 0 && demux < capacity ? UnsafeAtomicRead.load(counts + demux) : 0
    }
}

/// Scratch memory one worker owns.
public final class Scratch: @unchecked Sendable {
    public let words: Int
    public let base: UnsafeMutablePointer<UInt64>
    public init(words: Int) {
        self.words = words
        base = .allocate(capacity: words)
        base.initialize(repeating: 0, count: words)
    }
    deinit { base.deallocate() }
}

/// A relaxed 64-bit read of a counter another thread writes (aligned loads
/// and stores of a word are atomic on the platforms Bowman runs on).
enum UnsafeAtomicRead {
    @inline(__always) static func load(_ p: UnsafeMutablePointer<UInt64>) -> UInt64 { p.pointee }
}

/// Classifies a whole burst against the currently published tables (the
/// tree walks sixteen packets at a time), counts each packet for its flow,
/// runs the stages bound at the flows' `pre-route` slot (`Slots`),
/// optionally drops what no rule matched, then hands the burst to `next`.
/// Marks a quiescent point after every burst, so replaced tables can be freed.
public struct ClassifyFunction<Next: ForwardingFunction, Slots: FlowSlots>: ForwardingFunction {
    public var next: Next
    @usableFromInline var slots: Slots
    @usableFromInline let tables: TablePublisher<ClassifierTables>
    @usableFromInline let worker: Int
    @usableFromInline let flows: FlowCounters
    @usableFromInline let dropUnmatched: Bool
    /// The worker's scratch for burst lookups (keys of sixteen packets), so a
    /// lookup allocates nothing whatever the rules' key size.
    @usableFromInline let scratch: Scratch
    /// The worker's running totals of `flows.unmatched`/`overflow`: it is
    /// their one writer, so a burst stores the new total (relaxed) instead
    /// of an atomic read-modify-write.
    @usableFromInline var unmatchedTotal: UInt64
    @usableFromInline var overflowTotal: UInt64

    public init(tables: TablePublisher<ClassifierTables>, worker: Int, flows: FlowCounters, dropUnmatched: Bool, slots: Slots, then next: Next) {
        self.tables = tables; self.worker = worker; self.flows = flows; self.dropUnmatched = dropUnmatched; self.next = next
        self.slots = slots
        unmatchedTotal = flows.unmatched.load(ordering: .relaxed)
        overflowTotal = flows.overflow.load(ordering: .relaxed)
        // Enough for any tree: keys of up to 256 entries, up to 256 header positions.
        scratch = Scratch(words: TrieClassifier.View.scratchWords(positions: 256))
        tables.quiescent(worker: worker)   // online before the first read
    }

    @inlinable public func destination(forInput input: Int) -> Int? { next.destination(forInput: input) }
    @inlinable public mutating func idle() { next.idle() }
    @inlinable public var burstHeadroom: Int { slots.headroom + next.burstHeadroom }

    @inlinable public mutating func process(_ burst: inout Burst, input: Int, pool: inout FramePool) -> BurstVerdict {
        let table = tables.current(worker: worker)
        var unmatched: UInt64 = 0, overflow: UInt64 = 0
        let counts = flows.counts, capacity = flows.capacity
        let n = burst.count
        var verdict = BurstVerdict.drop
        withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: Burst.capacity) { packets in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: Burst.capacity) { demux in
                for k in 0..<n { packets[k] = UnsafeRawBufferPointer(burst.packet(at: k, in: pool)) }
                // `pointee.view` projects one trivial field: no copy of the
                // tables, no retain.
                let view = table.pointee.view
                let burstView = UnsafeBufferPointer(rebasing: packets[0..<n])
                if view.scratchWords <= scratch.words {
                    view.match(burst: burstView, into: demux.baseAddress.unsafelyUnwrapped, scratch: scratch.base)
                } else {
                    view.match(burst: burstView, into: demux.baseAddress.unsafelyUnwrapped)   // rules with more header positions
                }
                for k in 0..<n {
                    let d = demux[k]
                    if d < 0 { unmatched &+= 1 } else if d < capacity { counts[d] &+= 1 } else { overflow &+= 1 }
                }
                let ids = demux.baseAddress.unsafelyUnwrapped
                let staged = slots.preRoute(burst, input: input, demux: ids, pool: pool)
                if (dropUnmatched && unmatched > 0) || staged {
                    let all = dropUnmatched
                    let gone = { (k: Int) in ids[k] == FlowSlotsDrop || (all && ids[k] < 0) }
                    burst.compact(dropping: gone, removed: { pool.release(index: $0) })
                    if Slots.bindsAfterFunction {
                        // The demux ids follow their packets (the slots after the function read them).
                        var w = 0
                        for k in 0..<n where !gone(k) { ids[w] = ids[k]; w += 1 }
                    }
                }
                tables.quiescent(worker: worker)
                if burst.isEmpty { return }
                let before = burst.count
                verdict = next.process(&burst, input: input, pool: &pool)
                // A function that keeps its burst's packets in place (all do) lets the later slots see them.
                if Slots.bindsAfterFunction && burst.count == before {
                    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Burst.capacity) { mirrors in
                        let m = mirrors.baseAddress.unsafelyUnwrapped
                        m.initialize(repeating: 0, count: before)
                        verdict = slots.afterRoute(&burst, verdict: verdict, input: input, demux: ids, mirrors: m, pool: &pool)
                    }
                }
            }
        }
        if unmatched > 0 { unmatchedTotal &+= unmatched; flows.unmatched.store(unmatchedTotal, ordering: .relaxed) }
        if overflow > 0 { overflowTotal &+= overflow; flows.overflow.store(overflowTotal, ordering: .relaxed) }
        return verdict
    }
}

extension ClassifyFunction where Slots == NoSlots {
    /// Classification with no stages bound.
    public init(tables: TablePublisher<ClassifierTables>, worker: Int, flows: FlowCounters, dropUnmatched: Bool, then next: Next) {
        self.init(tables: tables, worker: worker, flows: flows, dropUnmatched: dropUnmatched, slots: NoSlots(), then: next)
    }
}
