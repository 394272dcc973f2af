/// One contiguous block of memory that backs a frame pool (and, for AF_XDP,
/// the UMEM). It owns the memory: its deinit hands it back to whoever
/// allocated it (the Swift heap, libnuma or munmap) through `release`.
public struct MemoryRegion: ~Copyable, @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let byteCount: Int
    /// NUMA node the memory was placed on, or -1 when unknown / no NUMA.
    public let numaNode: Int
    private let release: @Sendable (UnsafeMutableRawPointer, Int) -> Void

    /// Adopts memory allocated elsewhere; `release` is called once, from deinit.
    public init(adopting base: UnsafeMutableRawPointer, byteCount: Int, numaNode: Int,
                release: @escaping @Sendable (UnsafeMutableRawPointer, Int) -> Void) {
        self.base = base
        self.byteCount = byteCount
        self.numaNode = numaNode
        self.release = release
    }

    /// Page-aligned memory from the Swift heap (no NUMA placement).
    public static func heap(byteCount: Int) -> MemoryRegion {
        let p = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 4096)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
        return MemoryRegion(adopting: p, byteCount: byteCount, numaNode: -1) { p, _ in p.deallocate() }
    }

    deinit { release(base, byteCount) }
}
