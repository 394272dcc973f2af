import BowmanPipeline
import BowmanSystem
import BowmanTestSupport
import Glibc
import Synchronization
import Testing

@Suite struct SPSCRingTests {
    @Test func fullEmptyAndOrderOnOneThread() {
        let r = SPSCRing<UInt64>(capacity: 8)
        #expect(r.pop() == nil)
        #expect(r.push(contentsOf: 0..<20) == 8)
        #expect(!r.push(99))
        var got: [UInt64] = []
        #expect(r.pop(max: 3) { got.append($0) } == 3)
        #expect(r.push(contentsOf: 100..<110) == 3)
        while let x = r.pop() { got.append(x) }
        #expect(got == Array(0..<8) + [100, 101, 102])
    }

    /// Two threads, millions of elements: every element arrives once, in order.
    @Test func producerConsumerThreads() throws {
        let r = SPSCRing<UInt64>(capacity: 256)
        let total: UInt64 = 2_000_000
        let producer = try PinnedThread(name: "spsc-prod", core: nil) {
            var next: UInt64 = 0
            while next < total {
                let n = r.push(contentsOf: next..<min(next + 37, total))
                next += UInt64(n)
                if n == 0 { sched_yield() }
            }
        }
        var expected: UInt64 = 0
        var ok = true
        while expected < total {
            let n = r.pop(max: 64) { v in if v != expected { ok = false }; expected += 1 }
            if n == 0 { sched_yield() }
        }
        producer.join()
        #expect(ok && expected == total && r.count == 0)
    }
}

/// A table with a canary: the publisher's free hook checks that no reader
/// holds it at that moment.
struct CanaryTable { var id: Int; var values: (Int, Int, Int, Int) }

@Suite struct TablePublisherTests {
    @Test func freedOnlyAfterEveryWorkerWasQuiescent() {
        let pub = TablePublisher(CanaryTable(id: 0, values: (0, 0, 0, 0)), workers: 2)
        pub.quiescent(worker: 0); pub.quiescent(worker: 1)
        let held = pub.current(worker: 0)   // worker 0 reads table 0 ...
        pub.publish(CanaryTable(id: 1, values: (1, 1, 1, 1)))
        #expect(pub.pending == 1 && pub.freed == 0)   // ... so table 0 stays
        #expect(held.pointee.id == 0)
        pub.quiescent(worker: 0)
        #expect(pub.reclaim() == 0)   // worker 1 has not been quiescent since the swap
        pub.quiescent(worker: 1)
        #expect(pub.reclaim() == 1 && pub.pending == 0)
        #expect(pub.current(worker: 1).pointee.id == 1)
        pub.offline(worker: 0); pub.offline(worker: 1)
        pub.publish(CanaryTable(id: 2, values: (2, 2, 2, 2)))
        #expect(pub.pending == 0)   // offline workers never hold reclamation up
    }

    /// Workers read while the management thread publishes thousands of
    /// tables: a worker never sees a half-built table, and no table is freed
    /// while a worker is between reading it and its next quiescent point.
    @Test func concurrentReadersNeverSeeFreedTables() throws {
        let workers = 2
        let pub = TablePublisher(CanaryTable(id: 0, values: (0, 0, 0, 0)), workers: workers)
        final class Slot: Sendable { let id = Atomic<Int>(-1) }
        final class Counters: Sendable { let violations = Atomic<Int>(0), torn = Atomic<Int>(0), reads = Atomic<Int>(0) }
        let uses = (0..<workers).map { _ in Slot() }
        let c = Counters()
        let stop = StopFlag()
        pub.onFree = { p in
            for w in 0..<workers where uses[w].id.load(ordering: .sequentiallyConsistent) == p.pointee.id {
                c.violations.add(1, ordering: .relaxed)
            }
        }
        var threads: [PinnedThread] = []
        for w in 0..<workers {
            threads.append(try PinnedThread(name: "reader\(w)", core: nil) {
                pub.quiescent(worker: w)
                while !stop.isSet {
                    let t = pub.current(worker: w)
                    uses[w].id.store(t.pointee.id, ordering: .sequentiallyConsistent)
                    let v = t.pointee.values
                    if v.0 != t.pointee.id || v.1 != v.0 || v.2 != v.0 || v.3 != v.0 { c.torn.add(1, ordering: .relaxed) }
                    c.reads.add(1, ordering: .relaxed)
                    uses[w].id.store(-1, ordering: .sequentiallyConsistent)
                    pub.quiescent(worker: w)
                }
                pub.offline(worker: w)
            })
        }
        for i in 1...20_000 {
            pub.publish(CanaryTable(id: i, values: (i, i, i, i)))
            if i % 64 == 0 { usleep(10) }
        }
        stop.set()
        for t in threads { t.join() }
        pub.reclaim()
        #expect(c.violations.load(ordering: .relaxed) == 0)
        #expect(c.torn.load(ordering: .relaxed) == 0)
        #expect(c.reads.load(ordering: .relaxed) > 1000)
        #expect(pub.published == 20_000 && pub.pending == 0 && pub.freed == 20_000)
    }
}
