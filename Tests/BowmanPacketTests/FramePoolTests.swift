import BowmanPacket
import BowmanTestSupport
import Testing

@Suite struct FramePoolTests {
    @Test func allocateAllAndReleaseAll() throws {
        var pool = try FramePool(frameSize: 2048, frameCount: 64)
        var burst = Burst()
        #expect(pool.allocate(into: &burst, count: 100) == 64)
        #expect(pool.available == 0 && pool.inFlight == 64)
        if let extra = pool.allocate() { Issue.record("allocated from an empty pool"); pool.release(extra) }
        #expect(pool.audit().isConsistent)
        pool.release(burst: &burst)
        #expect(pool.available == 64 && pool.inFlight == 0)
        #expect(pool.audit().isConsistent)
    }

    @Test func framesAreDistinctAndAddressable() throws {
        var pool = try FramePool(frameSize: 2048, frameCount: 8)
        var seen = Set<UInt32>()
        var raw: [UInt32] = []
        while let h = pool.allocate() {
            #expect(pool.offset(of: h.index) == UInt64(h.index) * 2048)
            #expect(pool.index(ofOffset: pool.offset(of: h.index) + 100) == h.index)
            pool.buffer(h)[0] = UInt8(h.index)
            seen.insert(h.index)
            raw.append(h.intoIndex())
        }
        #expect(seen.count == 8)
        for i in raw { #expect(pool.buffer(index: i)[0] == UInt8(i)); pool.release(index: i) }
        #expect(pool.audit().isConsistent)
    }

    @Test func sharedFramesNeedEveryOwnerToRelease() throws {
        var pool = try FramePool(frameSize: 256, frameCount: 4)
        guard let a = pool.allocate() else { Issue.record("empty"); return }
        let b = pool.share(a)
        let c = pool.share(a)
        let i = a.index
        #expect(pool.referenceCount(ofIndex: i) == 3)
        pool.release(a)
        pool.release(b)
        #expect(pool.inFlight == 1 && pool.referenceCount(ofIndex: i) == 1)
        pool.release(c)
        #expect(pool.inFlight == 0 && pool.available == 4)
        #expect(pool.audit().isConsistent)
    }

    @Test func doubleReleaseThroughRawIndexIsCountedNotCorrupting() throws {
        var pool = try FramePool(frameSize: 256, frameCount: 4)
        guard let h = pool.allocate() else { Issue.record("empty"); return }
        let i = h.intoIndex()
        pool.release(index: i)
        pool.release(index: i)
        pool.release(index: 99)
        let audit = pool.audit()
        #expect(audit.invalidReleases == 2)
        #expect(audit.free == 4 && audit.duplicatedFree == 0 && audit.lost == 0)
        #expect(!audit.isConsistent)
    }

    @Test func randomAllocateReleaseKeepsAccounting() throws {
        var pool = try FramePool(frameSize: 256, frameCount: 128)
        var rng = SeededRandom(seed: 7)
        var held: [UInt32] = []
        for step in 0..<20_000 {
            if Bool.random(using: &rng), let h = pool.allocate() {
                held.append(h.intoIndex())
            } else if !held.isEmpty {
                pool.release(index: held.remove(at: Int.random(in: 0..<held.count, using: &rng)))
            }
            #expect(pool.available + pool.inFlight == 128)
            if step % 1000 == 0 { #expect(pool.audit().isConsistent) }
        }
        for i in held { pool.release(index: i) }
        #expect(pool.audit() == FramePool.Audit(total: 128, free: 128, inFlight: 0))
    }

    @Test(arguments: [100, 0, 3000, 131_072])
    func rejectsBadFrameSizes(_ size: Int) {
        #expect(throws: FramePool.Error.frameSizeNotPowerOfTwo(size)) { _ = try FramePool(frameSize: size, frameCount: 4) }
    }

    @Test func rejectsTooSmallRegion() {
        #expect(throws: FramePool.Error.regionTooSmall(needed: 4096, available: 2048)) {
            _ = try FramePool(region: .heap(byteCount: 2048), frameSize: 2048, frameCount: 2)
        }
    }

    @Test func burstCompactKeepsOrder() throws {
        var pool = try FramePool(frameSize: 256, frameCount: 16)
        var burst = Burst()
        _ = pool.allocate(into: &burst, count: 10)
        let before = (0..<10).map { burst.index(at: $0) }
        burst.compact(dropping: { $0 % 3 == 0 }, removed: { pool.release(index: $0) })
        #expect(burst.count == 6)
        #expect((0..<6).map { burst.index(at: $0) } == before.enumerated().filter { $0.offset % 3 != 0 }.map(\.element))
        #expect(pool.inFlight == 6)
        pool.release(burst: &burst)
        #expect(pool.audit().isConsistent)
    }
}
