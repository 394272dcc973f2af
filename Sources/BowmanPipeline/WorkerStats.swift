import Synchronization

/// Counters of one worker, written by the worker once per burst with
/// relaxed stores and read by the management core (summed per worker).
/// One writer per field: no read-modify-write atomics on the data path.
public final class WorkerStats: Sendable {
    public let rxPackets = Atomic<UInt64>(0)
    public let txPackets = Atomic<UInt64>(0)
    /// Packets dropped by the forwarding function (its verdict).
    public let dropped = Atomic<UInt64>(0)
    /// Packets the output port had no room for.
    public let txFull = Atomic<UInt64>(0)
    public let bursts = Atomic<UInt64>(0)
    public let idlePolls = Atomic<UInt64>(0)
    /// Thread CPU time of the worker, nanoseconds.
    public let cpuNanoseconds = Atomic<UInt64>(0)
    /// Frames on the worker's free stack, stored with the other counters
    /// (a live view of the pool without reading the pool itself).
    public let framesFree = Atomic<UInt64>(0)
    /// Frames in the worker's pool (set once, before it runs).
    public let framesTotal = Atomic<UInt64>(0)
    public init() {}

    public struct Snapshot: Sendable, Equatable {
        public var rxPackets: UInt64, txPackets: UInt64, dropped: UInt64, txFull: UInt64, bursts: UInt64, idlePolls: UInt64
        public var cpuNanoseconds: UInt64
        public init(rxPackets: UInt64, txPackets: UInt64, dropped: UInt64, txFull: UInt64, bursts: UInt64, idlePolls: UInt64, cpuNanoseconds: UInt64) {
            self.rxPackets = rxPackets; self.txPackets = txPackets; self.dropped = dropped; self.txFull = txFull
            self.bursts = bursts; self.idlePolls = idlePolls; self.cpuNanoseconds = cpuNanoseconds
        }
        public static let zero = Snapshot(rxPackets: 0, txPackets: 0, dropped: 0, txFull: 0, bursts: 0, idlePolls: 0, cpuNanoseconds: 0)
        /// The sum over workers.
        public static func + (a: Snapshot, b: Snapshot) -> Snapshot {
            Snapshot(rxPackets: a.rxPackets + b.rxPackets, txPackets: a.txPackets + b.txPackets, dropped: a.dropped + b.dropped,
                     txFull: a.txFull + b.txFull, bursts: a.bursts + b.bursts, idlePolls: a.idlePolls + b.idlePolls,
                     cpuNanoseconds: a.cpuNanoseconds + b.cpuNanoseconds)
        }
    }

    public func snapshot() -> Snapshot {
        Snapshot(rxPackets: rxPackets.load(ordering: .relaxed), txPackets: txPackets.load(ordering: .relaxed),
                 dropped: dropped.load(ordering: .relaxed), txFull: txFull.load(ordering: .relaxed),
                 bursts: bursts.load(ordering: .relaxed), idlePolls: idlePolls.load(ordering: .relaxed),
                 cpuNanoseconds: cpuNanoseconds.load(ordering: .relaxed))
    }
}
