import BowmanPacket
import BowmanSystem
import Synchronization

/// One stage bound at a flow's slot, as the data path runs it: a trivial
/// value switched on (no existential call), its state in the worker's
/// `FlowStageState` at `slot`.
public enum StageOp: Sendable, Equatable, BitwiseCopyable {
    /// Counts packets and bytes.
    case counter(slot: Int)
    /// A token bucket: `rate` packets per second (this worker's share),
    /// `burst` tokens at most; a packet without a token is dropped.
    case rateLimit(slot: Int, rate: Double, burst: Double)
    /// One packet in `every` is copied to the sampler's ring (`ring` is its index).
    case sample(slot: Int, every: UInt64, ring: Int)
    /// The ACL verdict: drop.
    case deny(slot: Int)
    /// A copy of the packet out of `port` too (post-route and drop slots).
    case mirror(slot: Int, port: Int)
}

/// The slots a forwarding function exports, where a flow's stages bind:
/// `preRoute` (after classification, before the function), `postRoute`
/// (after the function's verdict, on packets it forwards) and `drop` (on
/// packets it dropped).
public enum FlowSlot: Int, CaseIterable, Sendable {
    case preRoute = 0, postRoute = 1, drop = 2
    public var name: String { ["pre-route", "post-route", "drop"][rawValue] }
}

/// What the flows' slots hold, compiled once at configuration time (the
/// management core) and shared read-only by every worker: per flow (demux
/// id) the channel's ports it subscribes on and, per slot, the stages
/// bound there, in order.
public final class FlowProgram: @unchecked Sendable {
    public let flowCount: Int
    /// Per flow: bit P set when the flow's channel includes port P (all bits: any port).
    @usableFromInline let portMasks: UnsafeMutablePointer<UInt64>
    /// Slot s of flow d: ops[starts[s * (flowCount + 1) + d] ..< starts[s * (flowCount + 1) + d + 1]].
    @usableFromInline let starts: UnsafeMutablePointer<Int>
    @usableFromInline let ops: UnsafeMutablePointer<StageOp>
    /// Whether any flow binds a stage after the function (post-route or drop), and at each of those slots.
    @usableFromInline let afterFunction: Bool
    @usableFromInline let hasPostRoute: Bool
    @usableFromInline let hasDrop: Bool
    /// Whether any stage mirrors.
    public let mirrors: Bool
    /// State slots each worker needs (slots 0 and 1: mirror copies made and refused for want of room).
    public let slotCount: Int
    public let samplerCount: Int
    /// The first state slot a stage may use (0 and 1 are the mirrors' totals).
    public static let firstStageSlot = 2

    /// `slots[s][d]`: flow d's stages at slot s (`FlowSlot` order; missing slots are empty);
    /// `ports[d]`: its channel's port indices (nil: every port).
    public init(slots: [[[StageOp]]], ports: [[Int]?]) {
        flowCount = ports.count
        let masks = ports.map { p in p.map { $0.reduce(UInt64(0)) { $0 | (UInt64(1) << UInt64($1 & 63)) } } ?? ~0 }
        var s: [Int] = [], o: [StageOp] = []
        var stateSlots = Self.firstStageSlot, rings = 0, after = false, post = false, drop = false, mirror = false
        for slot in 0..<FlowSlot.allCases.count {
            for d in 0..<flowCount {
                s.append(o.count)
                let stages = slot < slots.count && d < slots[slot].count ? slots[slot][d] : []
                if slot > 0 && !stages.isEmpty { after = true }
                if slot == FlowSlot.postRoute.rawValue && !stages.isEmpty { post = true }
                if slot == FlowSlot.drop.rawValue && !stages.isEmpty { drop = true }
                for op in stages {
                    o.append(op)
                    switch op {
                    case .counter(let k), .deny(let k): stateSlots = max(stateSlots, k + 2)
                    case .rateLimit(let k, _, _): stateSlots = max(stateSlots, k + 3)
                    case .sample(let k, _, let r): stateSlots = max(stateSlots, k + 2); rings = max(rings, r + 1)
                    case .mirror(let k, _): stateSlots = max(stateSlots, k + 1); mirror = true
                    }
                }
            }
            s.append(o.count)
        }
        portMasks = .allocate(capacity: max(1, masks.count))
        portMasks.initialize(from: masks, count: masks.count)
        starts = .allocate(capacity: s.count)
        starts.initialize(from: s, count: s.count)
        ops = .allocate(capacity: max(1, o.count))
        ops.initialize(from: o, count: o.count)
        afterFunction = after
        hasPostRoute = post
        hasDrop = drop
        mirrors = mirror
        slotCount = stateSlots
        samplerCount = rings
    }

    /// Stages at the pre-route slot only.
    public convenience init(preRoute: [[StageOp]], ports: [[Int]?]) {
        self.init(slots: [preRoute], ports: ports)
    }

    @inlinable func first(_ slot: Int, _ d: Int) -> Int { starts[slot &* (flowCount &+ 1) &+ d] }
    @inlinable func end(_ slot: Int, _ d: Int) -> Int { starts[slot &* (flowCount &+ 1) &+ d &+ 1] }

    deinit {
        portMasks.deallocate()
        starts.deallocate()
        ops.deallocate()
    }
}

/// One worker's stage state: counters (plain stores, one writer, read by
/// the management core), token buckets, sampler rings.
public final class FlowStageState: @unchecked Sendable {
    public let slots: UnsafeMutablePointer<UInt64>
    public let count: Int
    public let samplers: [CaptureRing]
    /// The samplers unretained, for the data path (the array keeps them alive).
    @usableFromInline let samplerRefs: UnsafeMutablePointer<Unmanaged<CaptureRing>>
    public init(_ p: FlowProgram, samplerBytes: Int = 1 << 20) {
        count = max(1, p.slotCount)
        slots = .allocate(capacity: count)
        slots.initialize(repeating: 0, count: count)
        samplers = (0..<p.samplerCount).map { _ in CaptureRing(bytes: samplerBytes) }
        samplerRefs = .allocate(capacity: max(1, samplers.count))
        for (i, r) in samplers.enumerated() { (samplerRefs + i).initialize(to: .passUnretained(r)) }
    }
    deinit {
        slots.deallocate()
        samplerRefs.deallocate()
    }
    /// A counter's value, read by the management core.
    public func value(_ slot: Int) -> UInt64 { slot < count ? UnsafeAtomicRead.load(slots + slot) : 0 }
}

/// What a classified burst meets at its flows' slots: nothing (`NoSlots`),
/// or the stages a config bound (`BoundSlots`). A generic parameter of
/// `ClassifyFunction`, so the worker loop is specialised for it.
public protocol FlowSlots: Sendable {
    /// Whether anything can be bound after the function (false lets the loop skip it entirely).
    static var bindsAfterFunction: Bool { get }
    /// Room a burst keeps for mirror copies.
    var headroom: Int { get }
    /// Runs the pre-route stages of each packet's flow (`demux[k]`); sets
    /// `demux[k]` to `FlowSlotsDrop` for a packet a stage dropped. Returns
    /// whether any was.
    mutating func preRoute(_ burst: borrowing Burst, input: Int, demux: UnsafeMutablePointer<Int>, pool: borrowing FramePool) -> Bool
    /// Runs the post-route stages of each forwarded packet's flow and the
    /// drop-slot stages of each dropped one; returns the verdict, with the
    /// packets a post-route stage dropped turned to the dropping egress.
    /// `mirrors` has a byte per packet, zero on entry; a mirror stage sets
    /// it to its port + 1, and the copy is appended to the burst here.
    mutating func afterRoute(_ burst: inout Burst, verdict: BurstVerdict, input: Int, demux: UnsafeMutablePointer<Int>,
                             mirrors: UnsafeMutablePointer<UInt8>, pool: inout FramePool) -> BurstVerdict
}

/// The demux id a stage gives a packet it drops.
public let FlowSlotsDrop = -2

public struct NoSlots: FlowSlots {
    public init() {}
    @inlinable public static var bindsAfterFunction: Bool { false }
    @inlinable public var headroom: Int { 0 }
    @inlinable public mutating func preRoute(_ burst: borrowing Burst, input: Int, demux: UnsafeMutablePointer<Int>, pool: borrowing FramePool) -> Bool { false }
    @inlinable public mutating func afterRoute(_ burst: inout Burst, verdict: BurstVerdict, input: Int, demux: UnsafeMutablePointer<Int>,
                                               mirrors: UnsafeMutablePointer<UInt8>, pool: inout FramePool) -> BurstVerdict { verdict }
}

public struct BoundSlots: FlowSlots {
    @inlinable public static var bindsAfterFunction: Bool { true }
    /// Half a burst when a flow mirrors: bursts of 32 with room for 32 copies.
    @inlinable public var headroom: Int { program.mirrors ? Burst.capacity / 2 : 0 }
    @usableFromInline let program: FlowProgram
    @usableFromInline let state: FlowStageState
    public init(program: FlowProgram, state: FlowStageState) { self.program = program; self.state = state }

    @inlinable public mutating func preRoute(_ burst: borrowing Burst, input: Int, demux: UnsafeMutablePointer<Int>, pool: borrowing FramePool) -> Bool {
        var now: UInt64 = 0
        return run(FlowSlot.preRoute.rawValue, burst, input: input, demux: demux, pool: pool, now: &now, mirrors: nil) { _ in 0 }
    }

    @inlinable public mutating func afterRoute(_ burst: inout Burst, verdict: BurstVerdict, input: Int, demux: UnsafeMutablePointer<Int>,
                                               mirrors: UnsafeMutablePointer<UInt8>, pool: inout FramePool) -> BurstVerdict {
        guard program.afterFunction else { return verdict }
        var now: UInt64 = 0
        let n = burst.count
        var out = verdict
        switch verdict {
        case .drop:
            // Every packet was dropped: the drop slot's stages (count, sample, mirror) see them.
            if program.hasDrop { _ = run(FlowSlot.drop.rawValue, burst, input: input, demux: demux, pool: pool, now: &now, mirrors: mirrors) { _ in 0 } }
        case .forward(let o):
            // Every packet is forwarded: only post-route; what a stage drops turns the verdict per packet.
            if program.hasPostRoute,
               run(FlowSlot.postRoute.rawValue, burst, input: input, demux: demux, pool: pool, now: &now, mirrors: mirrors, group: { _ in 0 }) {
                let port = UInt8(truncatingIfNeeded: o)
                for k in 0..<n { burst.setEgress(demux[k] == FlowSlotsDrop ? Burst.dropEgress : port, at: k) }
                out = .perPacket
            }
        case .perPacket:
            if program.hasDrop {
                _ = run(FlowSlot.drop.rawValue, burst, input: input, demux: demux, pool: pool, now: &now, mirrors: mirrors) { k in
                    burst.egress(at: k) == Burst.dropEgress ? 0 : 1
                }
            }
            if program.hasPostRoute, run(FlowSlot.postRoute.rawValue, burst, input: input, demux: demux, pool: pool, now: &now, mirrors: mirrors, group: { k in
                burst.egress(at: k) == Burst.dropEgress ? 1 : 0
            }) {
                for k in 0..<n where demux[k] == FlowSlotsDrop { burst.setEgress(Burst.dropEgress, at: k) }
            }
        }
        // Mirrors: a copy of each chosen packet appended, leaving by the mirror's port
        // (the scan for them only when a flow mirrors).
        guard program.mirrors else { return out }
        var any = false
        for k in 0..<n where mirrors[k] != 0 { any = true; break }
        guard any else { return out }
        switch out {
        case .drop: for k in 0..<n { burst.setEgress(Burst.dropEgress, at: k) }
        case .forward(let o): for k in 0..<n { burst.setEgress(UInt8(truncatingIfNeeded: o), at: k) }
        case .perPacket: break
        }
        let s = state.slots
        for k in 0..<n where mirrors[k] != 0 {
            guard burst.count < Burst.capacity, let f = pool.allocateIndex() else { s[1] &+= 1; continue }
            let p = burst.packet(at: k, in: pool)
            pool.buffer(index: f).baseAddress!.copyMemory(from: p.baseAddress!, byteCount: p.count)
            burst.append(index: f, length: UInt32(p.count))
            burst.setEgress(mirrors[k] &- 1, at: burst.count - 1)
            s[0] &+= 1
        }
        return .perPacket
    }

    /// Runs slot `slot`'s stages over runs of consecutive packets of one
    /// flow (one kind of traffic arrives in runs): a counter adds a run at
    /// once, a token bucket hands out a run's tokens at once; a burst of
    /// mixed flows is runs of one. `group(k)` splits runs further (0: the
    /// packet takes part, anything else: it does not); a packet a stage
    /// drops gets the demux id `FlowSlotsDrop`. Returns whether any was.
    @inlinable mutating func run(_ slot: Int, _ burst: borrowing Burst, input: Int, demux: UnsafeMutablePointer<Int>, pool: borrowing FramePool,
                                 now: inout UInt64, mirrors: UnsafeMutablePointer<UInt8>?, group: (Int) -> Int) -> Bool {
        let s = state.slots
        let flows = program.flowCount
        let n = burst.count
        var dropped = false
        let bit = UInt64(1) << UInt64(input & 63)
        var k = 0
        while k < n {
            let d = demux[k]
            let g = group(k)
            var e = k + 1
            while e < n && demux[e] == d && group(e) == g { e += 1 }
            defer { k = e }
            guard g == 0, d >= 0, d < flows, program.portMasks[d] & bit != 0 else { continue }
            // Packets k..<e are flow d's; `alive` of them still go on (a stage drops from the end).
            var alive = e - k
            var i = program.first(slot, d)
            let last = program.end(slot, d)
            while i < last && alive > 0 {
                switch program.ops[i] {
                case .counter(let c):
                    var bytes: UInt64 = 0
                    for j in k..<(k + alive) { bytes &+= UInt64(burst.length(at: j)) }
                    s[c] &+= UInt64(alive)
                    s[c + 1] &+= bytes
                case .rateLimit(let c, let rate, let cap):
                    // s[c]: tokens (a Double's bits), s[c+1]: last refill ns, s[c+2]: drops.
                    // Refilled by the coarse clock (a tick's resolution: keep burst ≥ rate × 4 ms).
                    if now == 0 { now = SystemClock.coarseNanoseconds }
                    var tokens = Double(bitPattern: s[c])
                    let then = s[c + 1]
                    if then != now {
                        tokens = then == 0 ? cap : min(cap, tokens + Double(now &- then) * rate * 1e-9)
                        s[c + 1] = now
                    }
                    let pass = min(alive, Int(tokens))
                    s[c] = (tokens - Double(pass)).bitPattern
                    if pass < alive {
                        s[c + 2] &+= UInt64(alive - pass)
                        for j in (k + pass)..<(k + alive) { demux[j] = FlowSlotsDrop }
                        dropped = true
                        alive = pass
                    }
                case .sample(let c, let every, let r):
                    for j in k..<(k + alive) {
                        s[c] &+= 1
                        guard s[c] % every == 0 else { continue }
                        let p = burst.packet(at: j, in: pool)
                        let ts = SystemClock.realtimeNanoseconds
                        let taken = state.samplerRefs[r]._withUnsafeGuaranteedRef { ring in
                            ring.push(1, size: { _ in min(p.count, CaptureRing.maxBytes) }) { _, into in
                                let m = min(p.count, CaptureRing.maxBytes)
                                if m > 0 { into.copyMemory(from: p.baseAddress!, byteCount: m) }
                                return CaptureHeader(port: UInt8(truncatingIfNeeded: input), point: UInt8(slot), length: UInt32(m),
                                                     wireLength: UInt32(p.count), timestamp: ts)
                            }
                        }
                        s[c + 1] &+= UInt64(taken)
                    }
                case .deny(let c):
                    s[c] &+= UInt64(alive)
                    for j in k..<(k + alive) { demux[j] = FlowSlotsDrop }
                    dropped = true
                    alive = 0
                case .mirror(let c, let port):
                    guard let m = mirrors else { break }
                    s[c] &+= UInt64(alive)
                    for j in k..<(k + alive) { m[j] = UInt8(truncatingIfNeeded: port &+ 1) }
                }
                i += 1
            }
        }
        return dropped
    }
}
