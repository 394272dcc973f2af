import BowmanIO
import BowmanPacket
import BowmanSystem
import BowmanTestSupport
import Testing

@Suite struct NUMAPoolTests {
    @Test func poolOnNodeZeroOrFallback() throws {
        var pool = try FramePool.onNUMANode(0, frameSize: 2048, frameCount: 512)
        if NUMA.isAvailable {
            #expect(pool.numaNode == 0)
        } else {
            #expect(pool.numaNode == -1)
        }
        var burst = Burst()
        #expect(pool.allocate(into: &burst, count: 64) == 64)
        for k in 0..<burst.count { #expect(burst.packet(at: k, in: pool).count == 0) }
        pool.release(burst: &burst)
        #expect(pool.audit().isConsistent)
    }

    @Test func missingNodeFallsBackWithAReason() {
        let a = NUMA.allocate(byteCount: 1 << 16, node: 4096)
        #expect(a.fallbackReason != nil)
        NUMA.free(a)
    }
}
