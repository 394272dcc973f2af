import BowmanCore
import BowmanIO
import BowmanPacket
import BowmanSystem
import Synchronization

/// What a worker does when a poll of all its ports found nothing.
public enum IdlePolicy: Sendable, Equatable {
    /// Busy-poll without pause (a core of its own, kernel receive elsewhere).
    case spin
    /// After `emptyPolls` empty rounds, sleep in poll(2) on the ports for up
    /// to `milliseconds` (shares a core with the kernel's receive work).
    case poll(emptyPolls: Int, milliseconds: Int32)
}

/// The run-to-completion loop of one data core: receive a burst, run the
/// forwarding function over it, transmit, repeat. Everything it touches is
/// owned by its thread and passed `inout`; the only shared state is the stop
/// flag (read once per round) and the counters (written once per burst).
public enum Worker {
    /// Serves one port, or two of the same kind, with forwarding function
    /// `F` until `stop` is set. Port indices: `a` is 0, `b` (if any) is 1.
    /// A single-port worker passes `NullPort()` as `b`.
    public static func run<A: PacketPort & ~Copyable, B: PacketPort & ~Copyable, F: ForwardingFunction>(
        _ a: inout A, _ b: inout B, function: inout F, pool: inout FramePool,
        idle: IdlePolicy, stats: WorkerStats, stop: StopFlag
    ) {
        let twoPorts = !B.isNull
        var burst = Burst()
        var rx: UInt64 = 0, tx: UInt64 = 0, dropped: UInt64 = 0, full: UInt64 = 0, bursts: UInt64 = 0, idlePolls: UInt64 = 0
        var empty = 0
        let cpuStart = SystemClock.threadCPUNanoseconds
        while !stop.isSet {
            var got = 0
            for input in 0..<(twoPorts ? 2 : 1) {
                // Backpressure: take no more than the out port can send now.
                if let out = function.destination(forInput: input) {
                    let room = out == 0 || !twoPorts ? a.transmitRoom() : b.transmitRoom()
                    burst.limit = min(Burst.capacity, room)
                    if room == 0 { continue }
                } else {
                    burst.limit = Burst.capacity
                }
                let n = input == 0 ? a.receive(into: &burst, pool: &pool) : b.receive(into: &burst, pool: &pool)
                if n == 0 { continue }
                got &+= n
                rx &+= UInt64(n)
                bursts &+= 1
                switch function.process(&burst, input: input, pool: &pool) {
                case .drop:
                    dropped &+= UInt64(burst.count)
                    pool.release(burst: &burst)
                case .forward(let out):
                    let sent = out == 0 || !twoPorts ? a.transmit(&burst, pool: &pool) : b.transmit(&burst, pool: &pool)
                    tx &+= UInt64(sent)
                    if !burst.isEmpty {
                        // Output ring full: drop the rest rather than stall input.
                        full &+= UInt64(burst.count)
                        pool.release(burst: &burst)
                    }
                }
            }
            a.service(pool: &pool)
            if twoPorts { b.service(pool: &pool) }
            if got == 0 {
                idlePolls &+= 1
                empty &+= 1
                if case .poll(let threshold, let ms) = idle, empty >= threshold {
                    waitForTraffic(a.pollDescriptor, twoPorts ? b.pollDescriptor : -1, ms)
                    empty = 0
                }
            } else {
                empty = 0
                stats.rxPackets.store(rx, ordering: .relaxed)
                stats.txPackets.store(tx, ordering: .relaxed)
                stats.dropped.store(dropped, ordering: .relaxed)
                stats.txFull.store(full, ordering: .relaxed)
                stats.bursts.store(bursts, ordering: .relaxed)
            }
        }
        stats.rxPackets.store(rx, ordering: .relaxed)
        stats.txPackets.store(tx, ordering: .relaxed)
        stats.dropped.store(dropped, ordering: .relaxed)
        stats.txFull.store(full, ordering: .relaxed)
        stats.bursts.store(bursts, ordering: .relaxed)
        stats.idlePolls.store(idlePolls, ordering: .relaxed)
        stats.cpuNanoseconds.store(SystemClock.threadCPUNanoseconds &- cpuStart, ordering: .relaxed)
    }

    @inline(never)
    static func waitForTraffic(_ fd0: Int32, _ fd1: Int32, _ ms: Int32) { Poll.waitReadable(fd0, fd1, milliseconds: ms) }
}
