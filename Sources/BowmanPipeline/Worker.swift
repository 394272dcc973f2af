import BowmanCore
import BowmanIO
import BowmanPacket
import BowmanSystem
import Synchronization

/// What a worker does when a poll of all its ports found nothing.
public enum IdlePolicy: Sendable, Equatable {
    /// Busy-poll without pause (a core of its own, kernel receive elsewhere).
    case spin
    /// After `emptyPolls` empty rounds, sleep in poll(2) on the ports for up
    /// to `milliseconds` (shares a core with the kernel's receive work).
    case poll(emptyPolls: Int, milliseconds: Int32)
}

/// The ports one worker serves, indexed 0..<count: what the loop needs of
/// them. Conformers are concrete (`PortGroup` of one kind, `PortPair` of
/// two), so the loop is specialised for them: no existential per packet.
public protocol WorkerPorts: ~Copyable {
    var count: Int { get }
    mutating func receive(port: Int, into burst: inout Burst, pool: inout FramePool) -> Int
    mutating func transmit(port: Int, _ burst: inout Burst, pool: inout FramePool) -> Int
    mutating func transmitRoom(port: Int) -> Int
    mutating func service(pool: inout FramePool)
    /// Sleeps in poll(2) until a port is readable or `milliseconds` pass.
    func waitForTraffic(milliseconds: Int32)
}

/// Any number of ports of one kind (a router's interfaces), owned here.
public struct PortGroup<P: PacketPort & ~Copyable>: ~Copyable, WorkerPorts {
    @usableFromInline let base: UnsafeMutablePointer<P>
    public let capacity: Int
    public private(set) var count = 0

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        base = .allocate(capacity: self.capacity)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    public mutating func append(_ port: consuming P) {
        precondition(count < capacity, "port group full")
        (base + count).initialize(to: port)
        count += 1
    }

    @inlinable public subscript(i: Int) -> P {
        unsafeAddress { UnsafePointer(base + i) }
        unsafeMutableAddress { base + i }
    }

    @inlinable public mutating func receive(port: Int, into burst: inout Burst, pool: inout FramePool) -> Int {
        base[port].receive(into: &burst, pool: &pool)
    }
    @inlinable public mutating func transmit(port: Int, _ burst: inout Burst, pool: inout FramePool) -> Int {
        base[port].transmit(&burst, pool: &pool)
    }
    @inlinable public mutating func transmitRoom(port: Int) -> Int { base[port].transmitRoom() }
    @inlinable public mutating func service(pool: inout FramePool) {
        for i in 0..<count { base[i].service(pool: &pool) }
    }
    public func waitForTraffic(milliseconds: Int32) {
        var fds: [Int32] = []
        for i in 0..<count where base[i].pollDescriptor >= 0 { fds.append(base[i].pollDescriptor) }
        _ = Poll.wait(fds.map { Poll.Request($0) }, milliseconds: milliseconds)
    }

    /// Gives back every port's frames and closes them.
    public mutating func closeAll(returningFramesTo pool: inout FramePool) {
        for i in 0..<count { base[i].close(returningFramesTo: &pool) }
    }
}

/// Two ports of possibly different kinds (a pcap replay in, a capture
/// out), borrowed for one run of the loop. Port 0 is `a`, 1 is `b`; a
/// single-port worker's `b` is a `NullPort`.
struct PortPair<A: PacketPort & ~Copyable, B: PacketPort & ~Copyable>: WorkerPorts {
    let a: UnsafeMutablePointer<A>
    let b: UnsafeMutablePointer<B>
    var count: Int { B.isNull ? 1 : 2 }
    @inline(__always) mutating func receive(port: Int, into burst: inout Burst, pool: inout FramePool) -> Int {
        port == 0 ? a.pointee.receive(into: &burst, pool: &pool) : b.pointee.receive(into: &burst, pool: &pool)
    }
    @inline(__always) mutating func transmit(port: Int, _ burst: inout Burst, pool: inout FramePool) -> Int {
        port == 0 || B.isNull ? a.pointee.transmit(&burst, pool: &pool) : b.pointee.transmit(&burst, pool: &pool)
    }
    @inline(__always) mutating func transmitRoom(port: Int) -> Int {
        port == 0 || B.isNull ? a.pointee.transmitRoom() : b.pointee.transmitRoom()
    }
    @inline(__always) mutating func service(pool: inout FramePool) {
        a.pointee.service(pool: &pool)
        if !B.isNull { b.pointee.service(pool: &pool) }
    }
    func waitForTraffic(milliseconds: Int32) {
        Worker.waitForTraffic(a.pointee.pollDescriptor, B.isNull ? -1 : b.pointee.pollDescriptor, milliseconds)
    }
}

/// The run-to-completion loop of one data core: receive a burst, run the
/// forwarding function over it, transmit, repeat. Everything it touches is
/// owned by its thread and passed `inout`; the only shared state is the stop
/// flag (read once per round) and the counters (written once per burst).
public enum Worker {
    /// Serves one port, or two, with forwarding function `F` until `stop`
    /// is set. Port indices: `a` is 0, `b` (if any) is 1. A single-port
    /// worker passes `NullPort()` as `b`.
    public static func run<A: PacketPort & ~Copyable, B: PacketPort & ~Copyable, F: ForwardingFunction>(
        _ a: inout A, _ b: inout B, function: inout F, pool: inout FramePool,
        idle: IdlePolicy, stats: WorkerStats, stop: StopFlag, tap: CaptureTap? = nil
    ) {
        withUnsafeMutablePointer(to: &a) { pa in
            withUnsafeMutablePointer(to: &b) { pb in
                var pair = PortPair(a: pa, b: pb)
                loop(&pair, function: &function, pool: &pool, idle: idle, stats: stats, stop: stop, tap: tap)
            }
        }
    }

    /// Serves any number of ports of one kind (indices as in the group).
    public static func run<P: PacketPort & ~Copyable, F: ForwardingFunction>(
        _ ports: inout PortGroup<P>, function: inout F, pool: inout FramePool,
        idle: IdlePolicy, stats: WorkerStats, stop: StopFlag, tap: CaptureTap? = nil
    ) {
        loop(&ports, function: &function, pool: &pool, idle: idle, stats: stats, stop: stop, tap: tap)
    }

    @inline(__always)
    static func loop<Ports: WorkerPorts & ~Copyable, F: ForwardingFunction>(
        _ ports: inout Ports, function: inout F, pool: inout FramePool,
        idle: IdlePolicy, stats: WorkerStats, stop: StopFlag, tap: CaptureTap? = nil
    ) {
        let portCount = ports.count
        let capacity = Burst.capacity - function.burstHeadroom   // what a receive may fill
        var burst = Burst()
        var out = Burst()   // one out port's share of a per-packet burst
        var rx: UInt64 = 0, tx: UInt64 = 0, dropped: UInt64 = 0, full: UInt64 = 0, bursts: UInt64 = 0, idlePolls: UInt64 = 0
        var empty = 0
        let cpuStart = SystemClock.threadCPUNanoseconds
        stats.framesTotal.store(UInt64(pool.frameCount), ordering: .relaxed)
        stats.framesFree.store(UInt64(pool.available), ordering: .relaxed)
        while !stop.isSet {
            var got = 0
            for input in 0..<portCount {
                // Backpressure: take no more than the out port can send now.
                if let o = function.destination(forInput: input), o < portCount {
                    var room: Int
                    if o >= 0 {
                        room = ports.transmitRoom(port: o)
                    } else {
                        room = Burst.capacity
                        for p in 0..<portCount { room = min(room, ports.transmitRoom(port: p)) }
                    }
                    burst.limit = min(capacity, room)
                    if room == 0 { continue }
                } else {
                    burst.limit = capacity
                }
                let n = ports.receive(port: input, into: &burst, pool: &pool)
                if n == 0 { continue }
                // A capture: one relaxed load per burst while none is armed.
                let armed = tap?.armed.load(ordering: .relaxed) ?? 0
                if armed != 0 { tap!.copy(burst, port: input, point: 0, armedMask: armed, pool: pool) }
                got &+= n
                rx &+= UInt64(n)
                bursts &+= 1
                switch function.process(&burst, input: input, pool: &pool) {
                case .drop:
                    dropped &+= UInt64(burst.count)
                    pool.release(burst: &burst)
                case .forward(let o):
                    send(&burst, port: o, &ports, portCount: portCount, pool: &pool, tx: &tx, full: &full, dropped: &dropped, tap: tap, armed: armed)
                case .perPacket:
                    // One batch per out port, in order of first appearance;
                    // a burst bound for one port leaves whole.
                    let first = burst.egress(at: 0)
                    if burst.allEgresses(equal: first) {
                        send(&burst, port: Int(first), &ports, portCount: portCount, pool: &pool, tx: &tx, full: &full, dropped: &dropped,
                             tap: tap, armed: armed)
                        break
                    }
                    while !burst.isEmpty {
                        let o = burst.egress(at: 0)
                        burst.take(egress: o, into: &out)
                        send(&out, port: Int(o), &ports, portCount: portCount, pool: &pool, tx: &tx, full: &full, dropped: &dropped,
                             tap: tap, armed: armed)
                    }
                }
            }
            ports.service(pool: &pool)
            if got == 0 {
                idlePolls &+= 1
                empty &+= 1
                if case .poll(let threshold, let ms) = idle, empty >= threshold {
                    // About to sleep: the cold counters too, for a live reader.
                    stats.idlePolls.store(idlePolls, ordering: .relaxed)
                    stats.framesFree.store(UInt64(pool.available), ordering: .relaxed)
                    function.idle()
                    ports.waitForTraffic(milliseconds: ms)
                    empty = 0
                }
            } else {
                empty = 0
                stats.rxPackets.store(rx, ordering: .relaxed)
                stats.txPackets.store(tx, ordering: .relaxed)
                stats.dropped.store(dropped, ordering: .relaxed)
                stats.txFull.store(full, ordering: .relaxed)
                stats.bursts.store(bursts, ordering: .relaxed)
                stats.framesFree.store(UInt64(pool.available), ordering: .relaxed)
            }
        }
        stats.rxPackets.store(rx, ordering: .relaxed)
        stats.txPackets.store(tx, ordering: .relaxed)
        stats.dropped.store(dropped, ordering: .relaxed)
        stats.txFull.store(full, ordering: .relaxed)
        stats.bursts.store(bursts, ordering: .relaxed)
        stats.idlePolls.store(idlePolls, ordering: .relaxed)
        stats.cpuNanoseconds.store(SystemClock.threadCPUNanoseconds &- cpuStart, ordering: .relaxed)
        stats.framesFree.store(UInt64(pool.available), ordering: .relaxed)
        function.idle()
    }

    /// Sends `b` out of port `o` (drops it when there is no such port, or
    /// the dropping egress); what the ring cannot take now is dropped rather
    /// than stall input. `b` is left empty.
    @inline(__always)
    static func send<Ports: WorkerPorts & ~Copyable>(
        _ b: inout Burst, port o: Int, _ ports: inout Ports, portCount: Int, pool: inout FramePool,
        tx: inout UInt64, full: inout UInt64, dropped: inout UInt64, tap: CaptureTap?, armed: UInt64
    ) {
        if o >= portCount {
            dropped &+= UInt64(b.count)
            pool.release(burst: &b)
            return
        }
        if armed != 0 { tap!.copy(b, port: o, point: 1, armedMask: armed, pool: pool) }
        tx &+= UInt64(ports.transmit(port: o, &b, pool: &pool))
        if !b.isEmpty {
            full &+= UInt64(b.count)
            pool.release(burst: &b)
        }
    }

    @inline(never)
    static func waitForTraffic(_ fd0: Int32, _ fd1: Int32, _ ms: Int32) { Poll.waitReadable(fd0, fd1, milliseconds: ms) }
}
