import BowmanCore
import BowmanPacket
import BowmanSystem
import CBowmanLinux
import CBowmanXDP

/// One NIC queue opened as an AF_XDP socket: rx/tx/fill/completion rings
/// driven from Swift over the kernel-mapped ring words, frames from the
/// core's `FramePool` (the UMEM).
///
/// Frame ownership: a frame handed to the kernel (fill ring, tx ring) is
/// marked in `inKernel` until it comes back (rx ring, completion ring);
/// `close(returningFramesTo:)` returns whatever the kernel still held, so
/// the pool's audit balances after every run.
public struct AFXDPPort: ~Copyable {
    // MARK: hot
    @usableFromInline var rx: XSKConsumerRing
    @usableFromInline var tx: XSKProducerRing
    @usableFromInline var fill: XSKProducerRing
    @usableFromInline var comp: XSKConsumerRing
    @usableFromInline let fd: Int32
    @usableFromInline let needWakeup: Bool
    /// Preferred busy polling (SO_PREFER_BUSY_POLL): the app drives the
    /// device's NAPI itself with a recvfrom on every empty poll.
    @usableFromInline let busyPoll: Bool
    @usableFromInline let frameShift: UInt64
    @usableFromInline let frameMask: UInt64
    @usableFromInline let inKernel: UnsafeMutablePointer<UInt8>
    /// Frames kept in the fill ring (all of it: the pool must hold more).
    @usableFromInline let fillTarget: UInt32
    /// Descriptors queued on the tx ring whose completion has not come back.
    @usableFromInline var txInFlight: UInt32 = 0
    public var counters = Counters()

    // MARK: cold
    let xsk: OpaquePointer
    let umem: XSKUmem
    public let interface: String
    public let queue: UInt32
    /// Whether the kernel granted zero-copy (else copy mode).
    public let zeroCopy: Bool
    /// Why zero-copy was not granted, when it was asked for.
    public let copyModeReason: String?
    /// False for a receive-only socket (no TX ring).
    public let canTransmit: Bool
    @usableFromInline let placeholderTX: UnsafeMutableRawPointer?
    var isClosed = false

    /// Per-port counters (plain integers: the port belongs to one core).
    public struct Counters: Sendable, Equatable {
        public var rxPackets: UInt64 = 0
        public var rxBytes: UInt64 = 0
        public var txPackets: UInt64 = 0
        public var txBytes: UInt64 = 0
        /// Packets the tx ring had no room for (the caller dropped or kept them).
        public var txRingFull: UInt64 = 0
        public var rxWakeups: UInt64 = 0
        public var txWakeups: UInt64 = 0
        /// Times the pool had no frame for the fill ring.
        public var fillStarved: UInt64 = 0
        public init() {}
    }

    /// Opens (interface, queue) on `umem` and fills the fill ring from `pool`.
    /// `transmit: false` opens a receive-only socket (no TX ring), for a
    /// port that only drops or hands packets elsewhere.
    public init(interface: String, queue: UInt32, umem: XSKUmem, pool: inout FramePool, transmit: Bool = true) throws(XDPError) {
        var cfg = umem.config
        if !transmit { cfg.tx_size = 0 }
        var x: OpaquePointer?
        var zc: Int32 = 0
        var reason = [CChar](repeating: 0, count: 256), err = [CChar](repeating: 0, count: 256)
        let rc = cbowman_xsk_create(umem.handle, interface, queue, &cfg, &x, &zc, &reason, reason.count, &err, err.count)
        guard rc == 0, let xsk = x else {
            var text = "\(interface) queue \(queue): \(cText(err))"
            if -rc == 16 { text += " (another AF_XDP socket or a stale XDP program holds it: bowman xdp detach --iface \(interface))" }
            throw XDPError(text)
        }
        func ring(_ which: Int32) -> (XSKRingMemory, UInt32) {
            var g = cbowman_ring_geometry()
            cbowman_xsk_ring(xsk, which, &g)
            return (XSKRingMemory(producer: g.producer, consumer: g.consumer, flags: g.flags, ring: g.ring, size: g.size), g.size)
        }
        rx = XSKConsumerRing(ring(0).0)
        if transmit {
            tx = XSKProducerRing(ring(1).0)
            placeholderTX = nil
        } else {
            // No TX ring: a private one-slot ring stands in, so the hot
            // path needs no optional; `transmitRoom` is 0 and `transmit` takes nothing.
            let words = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
            words.initializeMemory(as: UInt32.self, repeating: 0, count: 16)
            let w = words.assumingMemoryBound(to: UInt32.self)
            tx = XSKProducerRing(XSKRingMemory(producer: w, consumer: w + 1, flags: w + 2, ring: words + 16, size: 1))
            placeholderTX = words
        }
        canTransmit = transmit
        let (fillMemory, fillSize) = ring(2)
        fill = XSKProducerRing(fillMemory)
        comp = XSKConsumerRing(ring(3).0)
        fd = cbowman_xsk_fd(xsk)
        needWakeup = cfg.need_wakeup != 0
        busyPoll = cfg.busy_poll_us > 0
        frameShift = UInt64(umem.frameShift)
        frameMask = UInt64(umem.frameSize - 1)
        inKernel = .allocate(capacity: umem.frameCount)
        inKernel.initialize(repeating: 0, count: umem.frameCount)
        fillTarget = min(fillSize, UInt32(truncatingIfNeeded: max(64, pool.available / 2)))
        self.xsk = xsk
        self.umem = umem
        self.interface = interface
        self.queue = queue
        zeroCopy = zc != 0
        let why = cText(reason)
        copyModeReason = zc != 0 ? nil : (why.isEmpty ? (cfg.zero_copy != 0 ? "copy mode" : "copy mode requested") : why)
        refill(pool: &pool, upTo: fillTarget)
    }

    /// The socket, for the XSKMAP.
    public var socketDescriptor: Int32 { fd }

    /// Gives the kernel up to `n` empty frames to receive into.
    @inlinable public mutating func refill(pool: inout FramePool, upTo n: UInt32) {
        let want = min(n, UInt32(truncatingIfNeeded: pool.available))
        if want == 0 { if n > 0 { noteFillStarved() }; return }
        let (got, first) = fill.reserve(upTo: want)
        var k: UInt32 = 0
        while k < got {
            let i = pool.allocateIndex().unsafelyUnwrapped   // `want` ≤ available
            inKernel[Int(i)] = 1
            fill.setAddress(UInt64(i) << frameShift, at: first &+ k)
            k &+= 1
        }
        if got > 0 { fill.submit() }
    }

    @usableFromInline @inline(never) mutating func noteFillStarved() { counters.fillStarved &+= 1 }

    /// Receives up to the burst's free room; refills the fill ring with as
    /// many frames as arrived. Returns the number received.
    @inlinable public mutating func receive(into burst: inout Burst, pool: inout FramePool) -> Int {
        let (n, first) = rx.peek(upTo: UInt32(truncatingIfNeeded: burst.capacity &- burst.count))
        if n == 0 {
            // In need-wakeup mode the kernel stops filling until woken; in
            // busy-poll mode the recvfrom runs the device's NAPI here.
            if busyPoll || (needWakeup && fill.needsWakeup) { wakeRx() }
            return 0
        }
        var bytes: UInt64 = 0
        var k: UInt32 = 0
        while k < n {
            let d = rx.descriptor(at: first &+ k)
            let i = UInt32(truncatingIfNeeded: d.address >> frameShift)
            inKernel[Int(i)] = 0
            burst.append(index: i, length: d.length, offset: UInt16(truncatingIfNeeded: d.address & frameMask))
            bytes &+= UInt64(d.length)
            k &+= 1
        }
        rx.release()
        counters.rxPackets &+= UInt64(n)
        counters.rxBytes &+= bytes
        refill(pool: &pool, upTo: n)
        return Int(n)
    }

    @usableFromInline @inline(never) mutating func wakeRx() {
        counters.rxWakeups &+= 1
        _ = cbowman_xsk_kick_rx(fd)
    }

    /// Free slots of the tx ring (the kernel's consumer index re-read only
    /// when fewer than a burst are known free).
    @inlinable public mutating func transmitRoom() -> Int {
        canTransmit ? Int(tx.free(wanting: UInt32(Burst.capacity))) : 0
    }

    /// Queues the burst's packets on the tx ring (frames go to the kernel
    /// until their completion) and removes them from the burst. Packets the
    /// ring has no room for stay in the burst. Returns how many were queued.
    @inlinable public mutating func transmit(_ burst: inout Burst, pool: inout FramePool) -> Int {
        if !canTransmit { return 0 }
        reclaimCompletions(pool: &pool)
        let count = UInt32(truncatingIfNeeded: burst.count)
        if count == 0 { return 0 }
        let (n, first) = tx.reserve(upTo: count)
        var bytes: UInt64 = 0
        var k: UInt32 = 0
        while k < n {
            let i = burst.index(at: Int(k))
            let len = burst.length(at: Int(k))
            inKernel[Int(i)] = 1
            tx.setDescriptor(address: UInt64(i) << frameShift | UInt64(burst.offset(at: Int(k))), length: len, at: first &+ k)
            bytes &+= UInt64(len)
            k &+= 1
        }
        if n > 0 {
            tx.submit()
            txInFlight &+= n
            // Copy mode sends only on a syscall (at most 32 frames per call);
            // with need_wakeup the kernel says when it needs one. What one
            // call leaves, the next round's `reclaimCompletions` kicks again.
            if !needWakeup || tx.needsWakeup { wakeTx() }
        }
        if n < count { counters.txRingFull &+= UInt64(count &- n) }
        counters.txPackets &+= UInt64(n)
        counters.txBytes &+= bytes
        burst.removeFirst(Int(n))
        return Int(n)
    }

    @usableFromInline @inline(never) mutating func wakeTx() {
        counters.txWakeups &+= 1
        _ = cbowman_xsk_kick_tx(fd)
    }

    /// Returns transmitted frames to the pool, and kicks the kernel while
    /// descriptors wait on the tx ring: a copy-mode socket drains it only on
    /// sendto, a few dozen frames per call, so a full ring with no kick
    /// would never empty.
    @inlinable public mutating func reclaimCompletions(pool: inout FramePool) {
        // Kick only while descriptors wait unconsumed (not merely uncompleted):
        // a sendto with nothing left to take is a wasted syscall.
        if txInFlight > 0 && tx.hasUnconsumed && (!needWakeup || tx.needsWakeup) { wakeTx() }
        let (n, first) = comp.peek(upTo: 512)
        if n == 0 { return }
        txInFlight &-= n
        var k: UInt32 = 0
        while k < n {
            let i = UInt32(truncatingIfNeeded: comp.address(at: first &+ k) >> frameShift)
            inKernel[Int(i)] = 0
            pool.release(index: i)
            k &+= 1
        }
        comp.release()
    }

    /// Frames the kernel holds now (fill, rx, tx and completion rings).
    public var framesInKernel: Int {
        var n = 0
        for i in 0..<umem.frameCount where inKernel[i] != 0 { n += 1 }
        return n
    }

    /// Kernel statistics of the socket (XDP_STATISTICS).
    public func kernelStatistics() -> [String: UInt64] {
        var a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, d: UInt64 = 0, e: UInt64 = 0, f: UInt64 = 0
        guard cbowman_xsk_stats(xsk, &a, &b, &c, &d, &e, &f) == 0 else { return [:] }
        return ["rx_dropped": a, "rx_invalid_descs": b, "tx_invalid_descs": c, "rx_ring_full": d,
                "rx_fill_ring_empty_descs": e, "tx_ring_empty_descs": f]
    }

    /// Closes the socket and gives every frame the kernel still held back
    /// to `pool`. The port does nothing after this.
    public mutating func close(returningFramesTo pool: inout FramePool) {
        guard !isClosed else { return }
        isClosed = true
        cbowman_xsk_destroy(xsk)
        for i in 0..<umem.frameCount where inKernel[i] != 0 {
            inKernel[i] = 0
            pool.release(index: UInt32(i))
        }
    }

    deinit {
        // Not closed through close(returningFramesTo:): the frames the kernel
        // held stay counted as in flight in the pool's audit.
        if !isClosed { cbowman_xsk_destroy(xsk) }
        inKernel.deallocate()
        placeholderTX?.deallocate()
    }
}
