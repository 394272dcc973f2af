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
}

/// What the flows' slots hold, compiled once at configuration time (the
/// management core) and shared read-only by every worker: per flow (demux
/// id) the channel's ports it subscribes on and the stages bound at its
/// `pre-route` slot, in order.
public final class FlowProgram: @unchecked Sendable {
    public let flowCount: Int
    /// Per flow: bit P set when the flow's channel includes port P (all bits: any port).
    @usableFromInline let portMasks: UnsafeMutablePointer<UInt64>
    /// Flow d's stages are ops[starts[d]..<starts[d+1]].
    @usableFromInline let starts: UnsafeMutablePointer<Int>
    @usableFromInline let ops: UnsafeMutablePointer<StageOp>
    public let stages: [[StageOp]]
    /// State slots each worker needs.
    public let slotCount: Int
    public let samplerCount: Int

    /// `preRoute[d]`: flow d's stages; `ports[d]`: its channel's port indices (nil: every port).
    public init(preRoute: [[StageOp]], ports: [[Int]?]) {
        precondition(preRoute.count == ports.count)
        flowCount = preRoute.count
        stages = preRoute
        let masks = ports.map { p in p.map { $0.reduce(UInt64(0)) { $0 | (UInt64(1) << UInt64($1 & 63)) } } ?? ~0 }
        var s: [Int] = [], o: [StageOp] = []
        var slots = 0, rings = 0
        for stages in preRoute {
            s.append(o.count)
            for op in stages {
                o.append(op)
                switch op {
                case .counter(let k), .deny(let k): slots = max(slots, k + 2)
                case .rateLimit(let k, _, _): slots = max(slots, k + 3)
                case .sample(let k, _, let r): slots = max(slots, k + 2); rings = max(rings, r + 1)
                }
            }
        }
        s.append(o.count)
        portMasks = .allocate(capacity: max(1, masks.count))
        portMasks.initialize(from: masks, count: masks.count)
        starts = .allocate(capacity: s.count)
        starts.initialize(from: s, count: s.count)
        ops = .allocate(capacity: max(1, o.count))
        ops.initialize(from: o, count: o.count)
        slotCount = slots
        samplerCount = rings
    }

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
    /// Runs the pre-route stages of each packet's flow (`demux[k]`); sets
    /// `demux[k]` to `FlowSlotsDrop` for a packet a stage dropped. Returns
    /// whether any was.
    mutating func preRoute(_ burst: borrowing Burst, input: Int, demux: UnsafeMutablePointer<Int>, pool: borrowing FramePool) -> Bool
}

/// The demux id a stage gives a packet it drops.
public let FlowSlotsDrop = -2

public struct NoSlots: FlowSlots {
    public init() {}
    @inlinable public mutating func preRoute(_ burst: borrowing Burst, input: Int, demux: UnsafeMutablePointer<Int>, pool: borrowing FramePool) -> Bool { false }
}

public struct BoundSlots: FlowSlots {
    @usableFromInline let program: FlowProgram
    @usableFromInline let state: FlowStageState
    public init(program: FlowProgram, state: FlowStageState) { self.program = program; self.state = state }

    /// The stages run over runs of consecutive packets of one flow (one
    /// kind of traffic arrives in runs): a counter adds a run at once, a
    /// token bucket hands out a run's tokens at once; a burst of mixed
    /// flows is runs of one.
    @inlinable public mutating func preRoute(_ burst: borrowing Burst, input: Int, demux: UnsafeMutablePointer<Int>, pool: borrowing FramePool) -> Bool {
        let s = state.slots
        let flows = program.flowCount
        let n = burst.count
        var dropped = false
        var now: UInt64 = 0
        let bit = UInt64(1) << UInt64(input & 63)
        var k = 0
        while k < n {
            let d = demux[k]
            var e = k + 1
            while e < n && demux[e] == d { e += 1 }
            defer { k = e }
            guard d >= 0, d < flows, program.portMasks[d] & bit != 0 else { continue }
            // Packets k..<e are flow d's; `alive` of them still go on (a stage drops from the end).
            var alive = e - k
            var i = program.starts[d]
            let last = program.starts[d + 1]
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
                                return CaptureHeader(port: UInt8(truncatingIfNeeded: input), point: 0, length: UInt32(m),
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
                }
                i += 1
            }
        }
        return dropped
    }
}
