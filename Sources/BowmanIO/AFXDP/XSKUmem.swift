import BowmanPacket
import CBowmanXDP

/// A frame pool's memory registered with the kernel as an AF_XDP UMEM.
/// Every AF_XDP port of one core shares it, so a frame received on one port
/// can be transmitted on another without a copy (XDP_SHARED_UMEM).
public final class XSKUmem: @unchecked Sendable {
    let handle: OpaquePointer
    public let frameSize: Int
    public let frameShift: Int
    public let frameCount: Int
    let config: cbowman_xsk_config

    /// Ring sizes and socket options for the ports of this UMEM.
    public struct Configuration: Sendable {
        public var ringSize: UInt32 = 2048
        /// Try zero-copy (falls back to copy mode with the reason recorded).
        public var zeroCopy = true
        public var needWakeup = true
        /// SO_BUSY_POLL microseconds (preferred busy polling); 0 off.
        public var busyPollMicroseconds: Int32 = 0
        public var busyPollBudget: Int32 = 64
        public init() {}
    }

    /// Registers the whole memory of `pool` (it must outlive the UMEM).
    public init(pool: borrowing FramePool, configuration c: Configuration = .init()) throws(XDPError) {
        var cfg = cbowman_xsk_config()
        // The fill ring is twice the rx ring (as the C reference sets it): the
        // kernel keeps receiving through a short stall of the worker.
        cfg.rx_size = c.ringSize; cfg.tx_size = c.ringSize; cfg.fill_size = 2 * c.ringSize; cfg.comp_size = c.ringSize
        cfg.frame_size = UInt32(pool.frameSize); cfg.frame_headroom = 0
        cfg.zero_copy = c.zeroCopy ? 1 : 0; cfg.need_wakeup = c.needWakeup ? 1 : 0
        cfg.busy_poll_us = c.busyPollMicroseconds; cfg.busy_budget = c.busyPollBudget
        var u: OpaquePointer?
        var err = [CChar](repeating: 0, count: 256)
        let rc = cbowman_umem_create(pool.base, UInt64(pool.frameSize * pool.frameCount), &cfg, &u, &err, err.count)
        guard rc == 0, let umem = u else { throw XDPError(cText(err)) }
        handle = umem
        frameSize = pool.frameSize
        frameShift = pool.frameShift
        frameCount = pool.frameCount
        config = cfg
    }

    deinit { cbowman_umem_destroy(handle) }
}

func cText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
