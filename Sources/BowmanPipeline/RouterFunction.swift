import BowmanCore
import BowmanPacket
import BowmanRouting
import Synchronization

/// Why a worker hands a packet to the management core.
public enum PuntReason: UInt8, Sendable, CaseIterable {
    /// The next hop's MAC is unknown: hold the packet while it is resolved.
    case unresolved = 1
    /// A connected subnet's host is unknown: resolve the packet's destination.
    case glean
    /// Out of an interface Bowman does not own.
    case kernel
    /// ICMP time exceeded (TTL or hop limit would reach 0).
    case timeExceeded
    /// ICMP destination unreachable: no route.
    case noRoute
    /// ICMP destination unreachable: an unreachable route.
    case unreachable
    /// ICMP destination unreachable, administratively prohibited.
    case prohibit
}

/// What a punted packet's slot says: why it came and where from.
public struct PuntHeader: SlotHeader {
    public var reason: UInt8
    public var input: UInt8
    public var hop: UInt16
    public var channel: Int32
    public var length: UInt32
    public var reserved: UInt32
    @inlinable public init(reason: UInt8, input: UInt8, hop: UInt16, channel: Int32, length: UInt32, reserved: UInt32) {
        self.reason = reason; self.input = input; self.hop = hop; self.channel = channel; self.length = length; self.reserved = reserved
    }
}

/// Packets from one worker to the management core (a `SlotRing`): the
/// worker copies and releases its frame at once (its pool stays its own);
/// when the ring is full the packet is dropped and counted, which also
/// bounds how much of the worker's time the slow path can take.
public typealias PuntRing = SlotRing<PuntHeader>

extension SlotRing where Header == PuntHeader {
    /// Worker: copies `packet` into the next slot; false (and counted) when full.
    @inlinable public func push(_ reason: PuntReason, input: Int, channel: Int = -1, hop: Int = 0, packet: UnsafeRawBufferPointer) -> Bool {
        pushSlot(PuntHeader(reason: reason.rawValue, input: UInt8(truncatingIfNeeded: input), hop: UInt16(truncatingIfNeeded: hop),
                            channel: Int32(truncatingIfNeeded: channel), length: UInt32(min(packet.count, Self.slotBytes)), reserved: 0),
                 packet)
    }
}

/// One worker's router counters: written by the worker once per burst
/// (it is their only writer), read by anyone.
public final class RouterCounters: Sendable {
    public let forwarded = Atomic<UInt64>(0)
    /// Punted to the management core, by reason (index: `PuntReason.rawValue`).
    public let punted0 = Atomic<UInt64>(0), punted1 = Atomic<UInt64>(0), punted2 = Atomic<UInt64>(0), punted3 = Atomic<UInt64>(0)
    public let punted4 = Atomic<UInt64>(0), punted5 = Atomic<UInt64>(0), punted6 = Atomic<UInt64>(0)
    public let blackholed = Atomic<UInt64>(0)
    public let malformed = Atomic<UInt64>(0)
    public init() {}

    public func punted(_ r: PuntReason) -> UInt64 {
        switch r {
        case .unresolved: punted0.load(ordering: .relaxed)
        case .glean: punted1.load(ordering: .relaxed)
        case .kernel: punted2.load(ordering: .relaxed)
        case .timeExceeded: punted3.load(ordering: .relaxed)
        case .noRoute: punted4.load(ordering: .relaxed)
        case .unreachable: punted5.load(ordering: .relaxed)
        case .prohibit: punted6.load(ordering: .relaxed)
        }
    }

    @usableFromInline func store(_ t: RouterFunction.Totals) {
        forwarded.store(t.forwarded, ordering: .relaxed)
        punted0.store(t.punted.0, ordering: .relaxed); punted1.store(t.punted.1, ordering: .relaxed)
        punted2.store(t.punted.2, ordering: .relaxed); punted3.store(t.punted.3, ordering: .relaxed)
        punted4.store(t.punted.4, ordering: .relaxed); punted5.store(t.punted.5, ordering: .relaxed)
        punted6.store(t.punted.6, ordering: .relaxed)
        blackholed.store(t.blackholed, ordering: .relaxed)
        malformed.store(t.malformed, ordering: .relaxed)
    }
}

/// The IPv4/IPv6 router as a worker's forwarding function: every packet
/// of a burst through `RouterStep` against the route table and the
/// published adjacencies, its out port set per packet. What the worker
/// cannot finish (unresolved next hops, ICMP errors, routes out of
/// interfaces Bowman does not own) is copied to the management core's
/// punt ring and the frame released; blackholed and malformed packets are
/// dropped and counted.
public struct RouterFunction: ForwardingFunction {
    @usableFromInline var step: RouterStep
    @usableFromInline let tables: TablePublisher<RouterView>
    @usableFromInline let punts: PuntRing
    @usableFromInline let counters: RouterCounters
    @usableFromInline let worker: Int
    @usableFromInline var online = false
    @usableFromInline struct Totals: Sendable {
        @usableFromInline var forwarded: UInt64 = 0
        @usableFromInline var punted: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0)
        @usableFromInline var blackholed: UInt64 = 0
        @usableFromInline var malformed: UInt64 = 0
        @usableFromInline init() {}
    }
    @usableFromInline var totals = Totals()

    public init(routes: RouteTable, tables: TablePublisher<RouterView>, punts: PuntRing, counters: RouterCounters, worker: Int) {
        step = RouterStep(routes: routes, view: tables.current(worker: worker).pointee)
        self.tables = tables; self.punts = punts; self.counters = counters; self.worker = worker
    }

    /// Each packet picks its port: receive no more than every port can send.
    @inlinable public func destination(forInput input: Int) -> Int? { anyPort }

    @inlinable public mutating func idle() {
        tables.offline(worker: worker)
        online = false
    }

    @inlinable public mutating func process(_ burst: inout Burst, input: Int, pool: inout FramePool) -> BurstVerdict {
        if !online { tables.quiescent(worker: worker); online = true }
        step.view = tables.current(worker: worker).pointee
        for k in 0..<burst.count {
            let p = burst.packet(at: k, in: pool)
            let reason: PuntReason
            var channel = -1, hop = 0
            switch step.decide(p) {
            case .forward(let port):
                burst.setEgress(UInt8(truncatingIfNeeded: port), at: k)
                totals.forwarded &+= 1
                continue
            case .blackhole:
                burst.setEgress(Burst.dropEgress, at: k)
                totals.blackholed &+= 1
                continue
            case .malformed:
                burst.setEgress(Burst.dropEgress, at: k)
                totals.malformed &+= 1
                continue
            case .unresolved(let c, let h): reason = .unresolved; channel = c; hop = h
            case .glean(let c): reason = .glean; channel = c
            case .kernel: reason = .kernel
            case .timeExceeded: reason = .timeExceeded
            case .noRoute: reason = .noRoute
            case .unreachable: reason = .unreachable
            case .prohibit: reason = .prohibit
            }
            burst.setEgress(Burst.dropEgress, at: k)
            if punts.push(reason, input: input, channel: channel, hop: hop, packet: UnsafeRawBufferPointer(p)) {
                switch reason {
                case .unresolved: totals.punted.0 &+= 1
                case .glean: totals.punted.1 &+= 1
                case .kernel: totals.punted.2 &+= 1
                case .timeExceeded: totals.punted.3 &+= 1
                case .noRoute: totals.punted.4 &+= 1
                case .unreachable: totals.punted.5 &+= 1
                case .prohibit: totals.punted.6 &+= 1
                }
            }
        }
        tables.quiescent(worker: worker)
        counters.store(totals)
        return .perPacket
    }
}
