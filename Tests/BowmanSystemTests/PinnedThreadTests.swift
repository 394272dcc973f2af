import BowmanCore
import BowmanSystem
import Glibc
import Synchronization
import Testing

/// A worker thread runs where it was pinned, or not at all.
@Suite struct PinnedThreadTests {
    @Test func aPinTheKernelRefusesThrowsAndTheBodyNeverRuns() {
        let ran = Atomic<Bool>(false)
        // CPU 1000 exists on no machine this runs on: pthread_setaffinity_np says EINVAL.
        #expect(throws: Errno(EINVAL)) {
            _ = try PinnedThread(name: "pin-refused", core: CoreID(1000)) { ran.store(true, ordering: .relaxed) }
        }
        #expect(ran.load(ordering: .relaxed) == false)
    }

    @Test func aPinnedBodyRunsOnItsCPU() throws {
        let cpu = Affinity.allowedCPUs.last ?? CoreID(0)
        let seen = Atomic<Int32>(-1)
        let t = try PinnedThread(name: "pin-ok", core: cpu) { seen.store(Affinity.currentCPU, ordering: .relaxed) }
        t.join()
        #expect(seen.load(ordering: .relaxed) == Int32(cpu.rawValue))
    }
}
