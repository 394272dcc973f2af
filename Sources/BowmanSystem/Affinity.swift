import BowmanCore
import CBowmanLinux
import Glibc

/// CPU affinity for the management core and the pinned data-core workers.
public enum Affinity {
    /// Pins the calling thread to one CPU (`pthread_setaffinity_np`).
    public static func pinCurrentThread(to core: CoreID) throws(Errno) {
        let rc = cbowman_pin_self_to_cpu(core.rawValue)
        if rc != 0 { throw Errno(rc) }
    }

    /// Restricts the calling thread, and every thread it creates after this
    /// call, to `cores`. Done on the main thread before any Swift concurrency
    /// starts so the cooperative pool stays on the management core.
    public static func restrictCurrentThread(to cores: [CoreID]) throws(Errno) {
        let ids = cores.map { Int32($0.rawValue) }
        let rc = ids.withUnsafeBufferPointer { cbowman_restrict_self_to_cpus($0.baseAddress, Int32($0.count)) }
        if rc != 0 { throw Errno(rc) }
    }

    /// The CPU the calling thread is running on now.
    public static var currentCPU: Int32 { cbowman_current_cpu() }
    /// CPUs this process may use.
    public static var allowedCPUCount: Int { Int(cbowman_allowed_cpu_count()) }

    /// The CPUs this thread may run on (after taskset/cpusets), ascending.
    public static var allowedCPUs: [CoreID] {
        var buf = [Int32](repeating: 0, count: 1024)
        let n = cbowman_allowed_cpus(&buf, 1024)
        return buf[0..<Int(n)].map { CoreID($0) }
    }
}

/// Process-wide signal set-up for the daemon.
public enum Signals {
    /// Unblocks SIGINT, SIGTERM and SIGHUP for the calling thread and the threads it
    /// creates afterwards. A process started by another (a test runner, a
    /// supervisor) may inherit a mask that blocks them, and then it could
    /// never be told to stop and detach.
    public static func unblockTermination() { cbowman_unblock_termination_signals() }

    /// Routes SIGINT and SIGTERM to `stop`, and SIGHUP to `reload` when
    /// given (SIG_DFL otherwise is kept). The handlers only store to the
    /// flags (an atomic store: async-signal-safe); the threads that watch
    /// them act.
    public static func route(stop: StopFlag, reload: StopFlag? = nil) {
        routedStop = stop
        routedReload = reload
        signal(SIGINT) { _ in routedStop?.set() }
        signal(SIGTERM) { _ in routedStop?.set() }
        if reload != nil { signal(SIGHUP) { _ in routedReload?.set() } }
    }
}

nonisolated(unsafe) private var routedStop: StopFlag?
nonisolated(unsafe) private var routedReload: StopFlag?
