import BowmanCore
import CBowmanLinux
import Glibc
import Synchronization

/// A POSIX thread, optionally pinned to one CPU before its body runs: what
/// a data-core worker runs on (not a Swift concurrency task, which could
/// migrate and must never busy-poll).
public final class PinnedThread: @unchecked Sendable {
    private var thread: pthread_t
    public let name: String
    private var joined = false

    private final class Start {
        let body: @Sendable () -> Void
        let core: CoreID?
        let name: String
        /// The pin's result: `pending` until the thread has tried, then 0 or an errno.
        let pinned = Atomic<Int32>(Start.pending)
        static let pending: Int32 = -1
        init(body: @escaping @Sendable () -> Void, core: CoreID?, name: String) { self.body = body; self.core = core; self.name = name }
    }

    /// Starts the thread, pinned to `core` when one is given. A pin the
    /// kernel refuses (a CPU that is offline, outside this process's cpuset,
    /// or does not exist) throws its errno, and the body never runs: a
    /// data-core worker that silently runs elsewhere would measure, and
    /// interfere, wrongly.
    public init(name: String, core: CoreID?, body: @escaping @Sendable () -> Void) throws(Errno) {
        self.name = name
        let s = Start(body: body, core: core, name: name)
        let start = Unmanaged.passRetained(s).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let s = Unmanaged<Start>.fromOpaque(arg!).takeRetainedValue()
            cbowman_set_thread_name(String(s.name.prefix(15)))
            let pin = s.core.map { cbowman_pin_self_to_cpu($0.rawValue) } ?? 0
            s.pinned.store(pin, ordering: .releasing)
            if pin == 0 { s.body() }
            return nil
        }, start)
        if rc != 0 {
            Unmanaged<Start>.fromOpaque(start).release()
            throw Errno(rc)
        }
        thread = t
        // The pin takes microseconds; wait for its answer.
        while s.pinned.load(ordering: .acquiring) == Start.pending { sched_yield() }
        let pin = s.pinned.load(ordering: .acquiring)
        if pin != 0 {
            pthread_join(t, nil)
            joined = true
            throw Errno(pin)
        }
    }

    /// Waits for the thread to finish.
    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }

    deinit { if !joined { pthread_detach(thread) } }
}
