import BowmanCore
import CBowmanNUMA

/// NUMA topology and placement through libnuma. On a machine where libnuma
/// reports no NUMA support every query answers node 0 / unknown and memory
/// comes from the ordinary allocator.
public enum NUMA {
    /// Whether the kernel and libnuma support NUMA placement here.
    public static var isAvailable: Bool { cbowman_numa_available() != 0 }
    /// Number of nodes (1 without NUMA).
    public static var nodeCount: Int { max(1, Int(cbowman_numa_max_node()) + 1) }
    /// Node of a CPU, or nil when unknown.
    public static func node(ofCPU cpu: Int32) -> Int? {
        let n = cbowman_numa_node_of_cpu(cpu)
        return n >= 0 ? Int(n) : nil
    }
    /// Node of a network interface (`/sys/class/net/IF/device/numa_node`),
    /// nil for virtual interfaces (veth reports none) or without NUMA.
    public static func node(ofInterface name: String) -> Int? {
        guard let text = try? SysFS.read("/sys/class/net/\(name)/device/numa_node"),
              let n = Int(text.trimmingWhitespace()), n >= 0 else { return nil }
        return n
    }

    /// Placement result of `allocate`.
    public struct Allocation: @unchecked Sendable {
        public let base: UnsafeMutableRawPointer
        public let byteCount: Int
        /// Node the first page landed on (-1 unknown), checked after touching it.
        public let node: Int
        /// Why the memory is not on the requested node, if it is not.
        public let fallbackReason: String?
    }

    /// Allocates page-aligned, zeroed memory on `node` (libnuma
    /// `numa_alloc_onnode`). Falls back to the ordinary allocator when NUMA
    /// is unavailable and says so in `fallbackReason`.
    public static func allocate(byteCount: Int, node: Int) -> Allocation {
        if isAvailable, node >= 0, node < nodeCount, let p = cbowman_numa_alloc_onnode(byteCount, Int32(node)) {
            // Touch every page so placement happens now, not on the data path.
            let stride = 4096
            var o = 0
            while o < byteCount { p.storeBytes(of: 0, toByteOffset: o, as: UInt8.self); o += stride }
            let actual = Int(cbowman_numa_node_of_address(p))
            return Allocation(base: p, byteCount: byteCount, node: actual,
                              fallbackReason: actual == node ? nil : "kernel placed the pages on node \(actual)")
        }
        let p = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 4096)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
        let why = isAvailable ? "node \(node) does not exist (\(nodeCount) node(s))" : "libnuma reports no NUMA support"
        return Allocation(base: p, byteCount: byteCount, node: -1, fallbackReason: why)
    }

    /// Frees memory from `allocate`.
    public static func free(_ a: Allocation) {
        if a.node >= 0 || (isAvailable && a.fallbackReason?.hasPrefix("kernel") == true) {
            cbowman_numa_free(a.base, a.byteCount)
        } else {
            a.base.deallocate()
        }
    }
}
