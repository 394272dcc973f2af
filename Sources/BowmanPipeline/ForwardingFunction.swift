import BowmanCore
import BowmanPacket

/// Where a processed burst goes.
public enum BurstVerdict: Equatable, Sendable {
    /// Every packet left in the burst goes out of this port (index in the worker).
    case forward(toPort: Int)
    /// Every packet left in the burst is dropped (frames back to the pool).
    case drop
    /// Each packet goes out of the port its entry's egress names
    /// (`Burst.setEgress`), `Burst.dropEgress` releases it; the worker
    /// sends the burst out as one batch per port, packets in order.
    case perPacket
}

/// A forwarding function (Odyssey's "underlying program"): rewrites a burst
/// in place and says where it goes. Concrete types, chosen once per worker,
/// so the call is specialised and inlined: no existential on the data path.
public protocol ForwardingFunction: Sendable {
    /// Processes a burst received on port `input` (the worker's port index).
    mutating func process(_ burst: inout Burst, input: Int, pool: inout FramePool) -> BurstVerdict
    /// The port everything received on `input` leaves by, when it is known
    /// before processing (nil: it depends on the packets, or nothing leaves).
    /// The worker then receives no more than that port can send now, so a
    /// full transmit ring holds packets back in the kernel's receive ring
    /// (dropped there, cheaply, if it stays full) instead of having them
    /// copied in, processed and dropped. `anyPort`: packets leave by
    /// ports chosen one by one (a router); the worker then receives no more
    /// than the fullest port can send.
    func destination(forInput input: Int) -> Int?
    /// The worker is about to sleep (idle policy `poll`) or stops: a
    /// function that reads published tables goes offline, so it never
    /// holds up their reclamation.
    mutating func idle()
    /// Entries of a burst the function adds packets into (mirror copies):
    /// the worker receives at most `Burst.capacity - burstHeadroom`.
    var burstHeadroom: Int { get }
}

/// `destination(forInput:)`'s answer when each packet picks its port.
public let anyPort = -1

extension ForwardingFunction {
    @inlinable public func destination(forInput input: Int) -> Int? { nil }
    @inlinable public mutating func idle() {}
    @inlinable public var burstHeadroom: Int { 0 }
}

/// Drops everything (the rx-drop benchmark).
public struct DropFunction: ForwardingFunction {
    public init() {}
    @inlinable public mutating func process(_ burst: inout Burst, input: Int, pool: inout FramePool) -> BurstVerdict { .drop }
}

/// Sends each packet back where it came from with Ethernet, IP and L4
/// source and destination swapped (checksums are unchanged: the one's
/// complement sum does not depend on the order of its words).
public struct ReflectFunction: ForwardingFunction {
    public init() {}

    @inlinable public mutating func process(_ burst: inout Burst, input: Int, pool: inout FramePool) -> BurstVerdict {
        var m = PacketMetadata()
        for k in 0..<burst.count {
            let p = burst.packet(at: k, in: pool)
            guard p.count >= 14 else { continue }
            HeaderEdits.swapMACs(p)
            do throws(ParseError) { try PacketParser.parse(ethernet: UnsafeRawBufferPointer(p), into: &m) } catch { continue }
            let l3 = Int(m.l3Offset)
            if m.ipVersion == 4 {
                swap(p, l3 + 12, l3 + 16, 4)
            } else if m.ipVersion == 6 {
                swap(p, l3 + 8, l3 + 24, 16)
            }
            if m.flags.contains(.hasL4) && (m.l4Protocol == IPProtocol.udp || m.l4Protocol == IPProtocol.tcp) {
                swap(p, Int(m.l4Offset), Int(m.l4Offset) + 2, 2)
            }
        }
        return .forward(toPort: input)
    }

    @inlinable public func destination(forInput input: Int) -> Int? { input }

    @inlinable func swap(_ p: UnsafeMutableRawBufferPointer, _ a: Int, _ b: Int, _ n: Int) {
        let base = p.baseAddress.unsafelyUnwrapped
        for i in 0..<n {
            let x = base.load(fromByteOffset: a + i, as: UInt8.self)
            base.storeBytes(of: base.load(fromByteOffset: b + i, as: UInt8.self), toByteOffset: a + i, as: UInt8.self)
            base.storeBytes(of: x, toByteOffset: b + i, as: UInt8.self)
        }
    }
}

/// A patch between two ports: what arrives on one leaves the other with the
/// Ethernet source set to the out port's MAC and the destination to the
/// next hop's (when given; else the addresses are kept).
public struct L2ForwardFunction: ForwardingFunction {
    /// Per output port: (our MAC, next hop's MAC), both optional.
    public var rewrite: [(source: MACAddress?, destination: MACAddress?)]
    @usableFromInline var raw: (UInt64, UInt64, UInt64, UInt64)   // src0, dst0, src1, dst1 (0 = keep)

    public init(rewrite: [(source: MACAddress?, destination: MACAddress?)] = [(nil, nil), (nil, nil)]) {
        self.rewrite = rewrite
        let r = rewrite + Array(repeating: (nil, nil), count: max(0, 2 - rewrite.count))
        raw = (r[0].source.map { $0.rawValue | 1 << 63 } ?? 0, r[0].destination.map { $0.rawValue | 1 << 63 } ?? 0,
               r[1].source.map { $0.rawValue | 1 << 63 } ?? 0, r[1].destination.map { $0.rawValue | 1 << 63 } ?? 0)
    }

    @inlinable public mutating func process(_ burst: inout Burst, input: Int, pool: inout FramePool) -> BurstVerdict {
        let out = 1 &- input
        let (src, dst) = out == 0 ? (raw.0, raw.1) : (raw.2, raw.3)
        if src | dst != 0 {
            for k in 0..<burst.count {
                let p = burst.packet(at: k, in: pool)
                guard p.count >= 14 else { continue }
                if dst != 0 { MACAddress(rawValue: dst).store(to: p, at: 0) }
                if src != 0 { MACAddress(rawValue: src).store(to: p, at: 6) }
            }
        }
        return .forward(toPort: out)
    }

    @inlinable public func destination(forInput input: Int) -> Int? { 1 &- input }
}
