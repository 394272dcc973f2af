import BowmanSystem
import Testing

@Suite struct SystemClockTests {
    @Test func monotonicClocksAgreeAndAdvance() {
        let ns0 = SystemClock.monotonicNanoseconds, ms0 = SystemClock.monotonicMilliseconds
        SystemClock.sleep(milliseconds: 20)
        let ns1 = SystemClock.monotonicNanoseconds, ms1 = SystemClock.monotonicMilliseconds
        #expect(ns1 - ns0 >= 20_000_000)
        #expect(ms1 - ms0 >= 19)
        // One clock in two units: milliseconds are the nanoseconds, divided.
        #expect(ms0 <= ns1 / 1_000_000 && ns0 / 1_000_000 <= ms1)
    }

    @Test func pollTimeoutFromADeadline() {
        let now = SystemClock.monotonicMilliseconds
        #expect(SystemClock.millisecondsUntil(nil, cap: 100) == 100)
        #expect(SystemClock.millisecondsUntil(now &- 5, cap: 100) == 0)
        #expect(SystemClock.millisecondsUntil(now + 1_000_000, cap: 100) == 100)
        let w = SystemClock.millisecondsUntil(now + 50, cap: 100)
        #expect(w <= 50 && w >= 40)
    }

    @Test func threadCPUTimeGrowsWithWork() {
        let t0 = SystemClock.threadCPUNanoseconds
        var x: UInt64 = 1
        for i in 0..<5_000_000 { x = x &* 6364136223846793005 &+ UInt64(i) }
        #expect(x != 0)
        #expect(SystemClock.threadCPUNanoseconds > t0)
    }
}
