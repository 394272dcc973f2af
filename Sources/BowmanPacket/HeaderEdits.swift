/// In-place header rewrites used by forwarding functions, with checksums
/// updated incrementally (RFC 1624) rather than recomputed.
public enum HeaderEdits {
    /// Decrements the IPv4 TTL at `l3` and patches the header checksum.
    /// Returns the new TTL (0 means the packet must not be forwarded).
    @inlinable @discardableResult
    public static func decrementIPv4TTL(_ p: UnsafeMutableRawBufferPointer, l3: Int) -> UInt8 {
        let ttl = p.load(fromByteOffset: l3 + 8, as: UInt8.self)
        guard ttl > 0 else { return 0 }
        let proto = p.load(fromByteOffset: l3 + 9, as: UInt8.self)
        let old = UInt16(ttl) << 8 | UInt16(proto)
        let new = UInt16(ttl &- 1) << 8 | UInt16(proto)
        let c = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: l3 + 10, as: UInt16.self))
        p.storeBytes(of: ttl &- 1, toByteOffset: l3 + 8, as: UInt8.self)
        p.storeBytes(of: Checksum.update(c, old: old, new: new).bigEndian, toByteOffset: l3 + 10, as: UInt16.self)
        return ttl &- 1
    }

    /// Decrements the IPv6 hop limit at `l3` (IPv6 has no header checksum).
    @inlinable @discardableResult
    public static func decrementIPv6HopLimit(_ p: UnsafeMutableRawBufferPointer, l3: Int) -> UInt8 {
        let h = p.load(fromByteOffset: l3 + 7, as: UInt8.self)
        guard h > 0 else { return 0 }
        p.storeBytes(of: h &- 1, toByteOffset: l3 + 7, as: UInt8.self)
        return h &- 1
    }

    /// Swaps Ethernet source and destination.
    @inlinable
    public static func swapMACs(_ p: UnsafeMutableRawBufferPointer) {
        let d0 = p.loadUnaligned(fromByteOffset: 0, as: UInt32.self), d1 = p.loadUnaligned(fromByteOffset: 4, as: UInt16.self)
        let s0 = p.loadUnaligned(fromByteOffset: 6, as: UInt32.self), s1 = p.loadUnaligned(fromByteOffset: 10, as: UInt16.self)
        p.storeBytes(of: s0, toByteOffset: 0, as: UInt32.self); p.storeBytes(of: s1, toByteOffset: 4, as: UInt16.self)
        p.storeBytes(of: d0, toByteOffset: 6, as: UInt32.self); p.storeBytes(of: d1, toByteOffset: 10, as: UInt16.self)
    }
}
