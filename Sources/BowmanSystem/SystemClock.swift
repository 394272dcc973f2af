import CBowmanLinux
import Glibc

/// The one clock of the process. Every timer in Bowman (the workers'
/// counters, the classifier's publish time, the control-plane machines'
/// deadlines) reads CLOCK_MONOTONIC through here; the sans-I/O machines
/// take `now` as an argument and their drivers pass `monotonicMilliseconds`.
public enum SystemClock {
    /// CLOCK_MONOTONIC in nanoseconds (vDSO: no system call).
    @inlinable public static var monotonicNanoseconds: UInt64 { cbowman_monotonic_ns() }
    /// CLOCK_MONOTONIC in milliseconds: the unit of the control-plane machines' timers.
    @inlinable public static var monotonicMilliseconds: UInt64 { cbowman_monotonic_ns() / 1_000_000 }
    /// CPU time the calling thread has used (CLOCK_THREAD_CPUTIME_ID).
    @inlinable public static var threadCPUNanoseconds: UInt64 { cbowman_thread_cpu_ns() }
    /// CLOCK_MONOTONIC_COARSE in nanoseconds: the last timer tick (1-4 ms
    /// resolution), cheaper than `monotonicNanoseconds`: for token buckets.
    @inlinable public static var coarseNanoseconds: UInt64 { cbowman_coarse_ns() }
    /// Wall-clock time in nanoseconds since 1970 (vDSO: no system call): capture timestamps.
    @inlinable public static var realtimeNanoseconds: UInt64 { cbowman_realtime_ns() }
    /// Wall-clock time (CLOCK_REALTIME) as seconds and nanoseconds: for
    /// capture timestamps and logs, never for intervals.
    public static var realtime: (seconds: Int64, nanoseconds: UInt32) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return (Int64(ts.tv_sec), UInt32(ts.tv_nsec))
    }

    /// Sleeps the calling thread (control plane and tests only; never on a data core).
    public static func sleep(milliseconds: Int) {
        var ts = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        var rest = timespec()
        while nanosleep(&ts, &rest) != 0 && errno == EINTR { ts = rest }
    }

    /// Milliseconds from now until `deadline` (0 if it has passed), capped at `cap`:
    /// what to hand poll(2) as its timeout.
    public static func millisecondsUntil(_ deadline: UInt64?, cap: Int32) -> Int32 {
        guard let deadline else { return cap }
        let now = monotonicMilliseconds
        return deadline <= now ? 0 : Int32(clamping: min(UInt64(cap), deadline - now))
    }
}
