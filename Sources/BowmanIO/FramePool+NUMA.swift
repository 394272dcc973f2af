import BowmanPacket
import BowmanSystem

extension FramePool {
    /// A pool whose memory sits on `numaNode` (libnuma), falling back to the
    /// ordinary allocator where NUMA is unavailable. The node actually used
    /// is in `numaNode` of the result (-1 when unknown).
    public static func onNUMANode(_ numaNode: Int, frameSize: Int = 2048, frameCount: Int) throws(FramePool.Error) -> FramePool {
        let a = NUMA.allocate(byteCount: frameSize * frameCount, node: numaNode)
        let region = MemoryRegion(adopting: a.base, byteCount: a.byteCount, numaNode: a.node) { _, _ in NUMA.free(a) }
        return try FramePool(region: region, frameSize: frameSize, frameCount: frameCount)
    }
}
