import BowmanCore
import BowmanPacket
import BowmanSystem
import CBowmanLinux
import Glibc

/// An AF_PACKET port with a TPACKET_V3 receive ring: the kernel packs
/// packets into blocks of a shared ring, and hands a block to user space
/// when it is full or its retire timer fires. Received packets are copied
/// into pool frames (blocks go back to the kernel whole, so a packet cannot
/// stay in one); transmit uses sendmmsg(2) on the same socket with qdisc
/// bypass. With `fanoutGroup`, several ports on one interface (one per
/// worker) share its traffic by flow hash (PACKET_FANOUT_HASH).
public struct TPacketV3Port: ~Copyable {
    // MARK: hot
    @usableFromInline var ring: cbowman_tpacket_ring
    /// The block being read, and where in it.
    @usableFromInline var block: UInt32 = 0
    @usableFromInline var packetInBlock: UInt32 = 0
    @usableFromInline var packetsInBlock: UInt32 = 0
    @usableFromInline var nextPacketOffset: Int = 0
    public var counters = Counters()
    // MARK: cold
    public let interface: String
    public let fanoutGroup: Int32?

    public struct Counters: Sendable, Equatable {
        public var rxPackets: UInt64 = 0
        public var rxBytes: UInt64 = 0
        public var blocks: UInt64 = 0
        /// Packets dropped because the pool had no frame.
        public var poolEmpty: UInt64 = 0
        public var txPackets: UInt64 = 0
        public init() {}
    }

    /// - Parameters:
    ///   - blockSize: bytes per block (a multiple of the page size).
    ///   - blockCount: blocks in the ring.
    ///   - retireMilliseconds: a partly filled block is handed over after this long.
    public init(interface: String, blockSize: UInt32 = 1 << 20, blockCount: UInt32 = 16, retireMilliseconds: UInt32 = 1,
                fanoutGroup: Int32? = nil) throws(Errno) {
        let index = try NetworkNamespace.interfaceIndex(interface)
        var r = cbowman_tpacket_ring()
        // A fanout group belongs to one device: the kernel's id is derived
        // from the group and the interface, so one `--fanout G` serves a
        // worker's ports on several interfaces.
        let kernelGroup = fanoutGroup.map { ($0 &+ index &* 251) & 0xFFFF } ?? -1
        let rc = cbowman_tpacket_v3_open(index, blockSize, blockCount, retireMilliseconds, kernelGroup, &r)
        if rc != 0 { throw Errno(rc) }
        ring = r
        self.interface = interface
        self.fanoutGroup = fanoutGroup
    }

    deinit {
        var r = ring
        cbowman_tpacket_v3_close(&r)
    }

    // struct tpacket_block_desc: u32 version, u32 offset_to_priv, then
    // struct tpacket_hdr_v1 { u32 block_status; u32 num_pkts; u32 offset_to_first_pkt; ... }
    @inlinable var blockBase: UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(ring.map).unsafelyUnwrapped + Int(block) &* Int(ring.block_size)
    }

    /// Copies up to the burst's free room of packets into pool frames.
    @inlinable public mutating func receive(into burst: inout Burst, pool: inout FramePool) -> Int {
        var got = 0
        while !burst.isFull {
            let base = blockBase
            if packetsInBlock == 0 {
                // TP_STATUS_USER (1): the kernel is done with this block.
                let status = cbowman_load_acquire_u32(base.advanced(by: 8).assumingMemoryBound(to: UInt32.self))
                if status & 1 == 0 { break }
                packetsInBlock = base.load(fromByteOffset: 12, as: UInt32.self)
                packetInBlock = 0
                nextPacketOffset = Int(base.load(fromByteOffset: 16, as: UInt32.self))
                counters.blocks &+= 1
                if packetsInBlock == 0 { releaseBlock(base); continue }
            }
            // struct tpacket3_hdr: u32 next_offset, u32 sec, u32 nsec, u32 snaplen, u32 len, u32 status, u16 mac, u16 net
            let pkt = base + nextPacketOffset
            let next = pkt.load(fromByteOffset: 0, as: UInt32.self)
            let snap = Int(pkt.load(fromByteOffset: 12, as: UInt32.self))
            let mac = Int(pkt.load(fromByteOffset: 24, as: UInt16.self))
            if let i = pool.allocateIndex() {
                let frame = pool.buffer(index: i)
                let n = min(snap, frame.count)
                frame.baseAddress.unsafelyUnwrapped.copyMemory(from: pkt + mac, byteCount: n)
                burst.append(index: i, length: UInt32(truncatingIfNeeded: n))
                counters.rxBytes &+= UInt64(n)
                got &+= 1
            } else {
                counters.poolEmpty &+= 1
            }
            packetInBlock &+= 1
            nextPacketOffset &+= Int(next)
            if packetInBlock == packetsInBlock { releaseBlock(base) }
        }
        counters.rxPackets &+= UInt64(got)
        return got
    }

    @inlinable mutating func releaseBlock(_ base: UnsafeMutableRawPointer) {
        cbowman_store_release_u32(base.advanced(by: 8).assumingMemoryBound(to: UInt32.self), 0)   // TP_STATUS_KERNEL
        packetsInBlock = 0
        block = block &+ 1 == ring.block_count ? 0 : block &+ 1
    }

    /// Sends the burst with sendmmsg(2); sent frames go back to the pool.
    @inlinable public mutating func transmit(_ burst: inout Burst, pool: inout FramePool) -> Int {
        let count = burst.count
        if count == 0 { return 0 }
        let n = cbowman_send_frames(ring.fd, pool.base.assumingMemoryBound(to: UInt8.self), UInt32(pool.frameShift),
                                    burst.offsetBuffer, burst.indexBuffer, burst.lengthBuffer, Int32(count), 0)
        let sent = max(0, Int(n))
        for k in 0..<sent { pool.release(index: burst.index(at: k)) }
        burst.removeFirst(sent)
        counters.txPackets &+= UInt64(sent)
        return sent
    }
}

extension TPacketV3Port: PacketPort {
    @inlinable public mutating func service(pool: inout FramePool) {}
    public var pollDescriptor: Int32 { ring.fd }

    /// The kernel's PACKET_STATISTICS since the last read (it clears them):
    /// packets the ring took, drops (ring full), queue freezes.
    public func kernelStatistics() -> (packets: UInt64, drops: UInt64, freezes: UInt64)? {
        var p: UInt64 = 0, d: UInt64 = 0, f: UInt64 = 0
        guard ring.fd >= 0, cbowman_tpacket_stats(ring.fd, &p, &d, &f) == 0 else { return nil }
        return (p, d, f)
    }
    public mutating func close(returningFramesTo pool: inout FramePool) {}
    public var name: String { "af_packet:\(interface)" + (fanoutGroup.map { ":fanout=\($0)" } ?? "") }
}
