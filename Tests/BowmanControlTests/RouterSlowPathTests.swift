import BowmanControl
import BowmanCore
import Testing

@Suite struct RouterSlowPathTests {
    @Test func holdQueueIsBoundedPerKeyAndInAll() {
        var q = HoldQueue<Int>(perKey: 2, limit: 3, holdMilliseconds: 100)
        let held = [q.hold([1], input: 0, for: 7, now: 0), q.hold([2], input: 0, for: 7, now: 1),
                    q.hold([3], input: 0, for: 7, now: 2),    // per key: refused
                    q.hold([4], input: 1, for: 8, now: 3),
                    q.hold([5], input: 1, for: 9, now: 4)]    // in all: refused
        #expect(held == [true, true, false, true, false])
        #expect(q.refused == 2 && q.count == 3)
        let seven = q.release(7).map(\.bytes), again = q.release(7)
        #expect(seven == [[1], [2]] && again.isEmpty && q.count == 1)
        let nine = q.hold([6], input: 0, for: 9, now: 50)
        #expect(nine)
        let old = q.expire(now: 103)
        #expect(old.map(\.0) == [8] && old.map(\.1.bytes) == [[4]] && q.count == 1 && q.expired == 1)
        let none = q.expire(now: 149), last = q.expire(now: 150)
        #expect(none.isEmpty && last.map(\.1.bytes) == [[6]] && q.count == 0)
    }

    @Test func tokenBucketRefillsAtItsRate() {
        var b = TokenBucket(rate: 100, burst: 5, now: 0)
        let first = (0..<8).filter { _ in b.take(now: 0) }.count
        #expect(first == 5 && b.refused == 3)
        let half = b.take(now: 5), one = b.take(now: 10), none = b.take(now: 10)
        #expect(!half && one && !none)
        let later = (0..<10).filter { _ in b.take(now: 10_000) }.count
        #expect(later == 5, "never more than the burst")
    }

    @Test func icmpIsLimitedPerDestinationAndTheMemoryIsBounded() {
        var l = PerDestinationLimiter(rate: 1, burst: 6, capacity: 4)
        let a = IPAddress("198.18.0.1")!, b = IPAddress("fd00:18::1")!
        var passed = 0
        for _ in 0..<10 where l.take(a, now: 0) { passed += 1 }
        #expect(passed == 6, "a burst of six to one host")
        let other = l.take(b, now: 0)
        #expect(other, "another host is not held back by the first")
        let early = l.take(a, now: 999), onTime = l.take(a, now: 1000)
        #expect(!early && onTime, "then one a second")
        // Many hosts: at most `capacity` remembered; refilled ones are forgotten first.
        for i in 0..<100 { _ = l.take(IPAddress("198.19.0.\(i)")!, now: 20_000 + UInt64(i)) }
        #expect(l.count <= 4)
        #expect(l.refused == 5)
    }
}
