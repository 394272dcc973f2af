import BowmanPacket
import BowmanSystem

/// The capability every port kind has: move bursts of frames between the
/// port and a core's frame pool. Workers are generic over it, so each
/// worker is specialised for its port kind: no existential, no indirect call.
public protocol PacketPort: ~Copyable {
    /// Appends up to the burst's free room of received packets; returns how many.
    mutating func receive(into burst: inout Burst, pool: inout FramePool) -> Int
    /// Sends from the front of the burst, removing what was taken; what the
    /// port had no room for stays. Returns how many were taken.
    mutating func transmit(_ burst: inout Burst, pool: inout FramePool) -> Int
    /// Housekeeping between bursts (completions, refills).
    mutating func service(pool: inout FramePool)
    /// A descriptor to wait on with poll(2) when idle, or -1.
    var pollDescriptor: Int32 { get }
    /// Gives back every frame the port still holds and closes it.
    mutating func close(returningFramesTo pool: inout FramePool)
    /// "kind:interface:queue" for logs and counters.
    var name: String { get }
    /// True only for `NullPort` (a worker's absent second port).
    static var isNull: Bool { get }
    /// Packets `transmit` could take now (a ring's free slots); `Int.max` when unbounded.
    mutating func transmitRoom() -> Int
}

extension PacketPort where Self: ~Copyable {
    public static var isNull: Bool { false }
    @inlinable public mutating func transmitRoom() -> Int { Int.max }
}

/// The absent second port of a single-port worker: never receives, takes nothing.
public struct NullPort: PacketPort {
    public init() {}
    public static var isNull: Bool { true }
    @inlinable public mutating func receive(into burst: inout Burst, pool: inout FramePool) -> Int { 0 }
    @inlinable public mutating func transmit(_ burst: inout Burst, pool: inout FramePool) -> Int { 0 }
    @inlinable public mutating func service(pool: inout FramePool) {}
    public var pollDescriptor: Int32 { -1 }
    public mutating func close(returningFramesTo pool: inout FramePool) {}
    public var name: String { "none" }
}

extension AFXDPPort: PacketPort {
    @inlinable public mutating func service(pool: inout FramePool) { reclaimCompletions(pool: &pool) }
    public var pollDescriptor: Int32 { socketDescriptor }
    public var name: String { "af_xdp:\(interface):\(queue)" }
}

extension PacketSocket: PacketPort {
    @inlinable public mutating func receive(into burst: inout Burst, pool: inout FramePool) -> Int {
        do { return try receiveBurst(into: &burst, pool: &pool) } catch {
            noteError(error, receiving: true)
            return 0
        }
    }
    @inlinable public mutating func transmit(_ burst: inout Burst, pool: inout FramePool) -> Int {
        do { return try sendBurst(&burst, pool: &pool) } catch {
            noteError(error, receiving: false)
            return 0
        }
    }
    @usableFromInline mutating func noteError(_ e: Errno, receiving: Bool) {
        if receiving { receiveErrors &+= 1 } else { sendErrors &+= 1 }
        lastError = e
    }
    @inlinable public mutating func service(pool: inout FramePool) {}
    public var pollDescriptor: Int32 { fd }
    public mutating func close(returningFramesTo pool: inout FramePool) {}
    public var name: String { "af_packet:\(interface)" }
}
