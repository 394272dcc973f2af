import BowmanCore
import BowmanRouting
import BowmanSystem

/// Follows a Linux routing table into a `FIBMirror` over rtnetlink:
/// subscribes to IPv4/IPv6 route and neighbour notifications, dumps the
/// routes and neighbours the kernel has, then applies notifications as they
/// come (`pump`, from the management loop when `descriptor` is readable).
/// Notifications that arrive during a dump are held and applied after it.
/// When the kernel dropped notifications (ENOBUFS), it forgets the table
/// and dumps again.
public final class KernelFIBDriver {
    public enum Failure: Error, CustomStringConvertible {
        case socket(SocketError)
        case message(RouteNetlink.Failure)
        case table(RouteTable.Failure)
        case refused(request: String, errno: Errno)
        case timeout(String)
        public var description: String {
            switch self {
            case .socket(let e): "\(e)"
            case .message(let e): "\(e)"
            case .table(let e): "route table: \(e)"
            case .refused(let r, let e): "the kernel refused the \(r) dump: \(e)"
            case .timeout(let r): "no end to the \(r) dump within 5 s"
            }
        }
    }

    public let mirror: FIBMirror
    let socket: NetlinkSocket
    var sequence: UInt32 = 1
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    /// Resynchronisations after lost notifications.
    public private(set) var resyncs = 0
    /// Changes applied to the route table since the driver started.
    public private(set) var changes = 0

    public var descriptor: Int32 { socket.descriptor }

    /// Opens the socket and dumps the kernel's table into `mirror`.
    public init(mirror: FIBMirror) throws(Failure) {
        self.mirror = mirror
        do throws(SocketError) {
            socket = try NetlinkSocket(groups: RouteNetlink.groupIPv4Route | RouteNetlink.groupIPv6Route | RouteNetlink.groupNeighbour)
        } catch { throw .socket(error) }
        try synchronize()
    }

    /// Dumps routes (both families) and neighbours, applying them.
    public func synchronize() throws(Failure) {
        do throws(RouteTable.Failure) { try mirror.reset() } catch { throw .table(error) }
        var held: [RouteNetlink.Event] = []
        for (type, name) in [(RouteNetlink.getRoute, "route"), (RouteNetlink.getNeighbour, "neighbour")] {
            while true {
                sequence &+= 1
                let seq = sequence
                do throws(SocketError) { try socket.send(RouteNetlink.dumpRequest(type, family: 0, sequence: seq)) } catch { throw .socket(error) }
                if try dump(seq, name, holding: &held) { break }
                // The dump was interrupted by a change: forget it and ask again.
                do throws(RouteTable.Failure) { try mirror.reset() } catch { throw .table(error) }
            }
        }
        for e in held { try apply(e) }
    }

    /// Reads one dump to its NLMSG_DONE; false when the kernel says it was interrupted.
    func dump(_ seq: UInt32, _ name: String, holding held: inout [RouteNetlink.Event]) throws(Failure) -> Bool {
        let deadline = SystemClock.monotonicMilliseconds + 5_000
        while true {
            guard let events = try receive() else {
                let left = SystemClock.millisecondsUntil(deadline, cap: 1_000)
                guard left > 0 else { throw .timeout(name) }
                _ = Poll.wait(for: socket.descriptor, milliseconds: left)
                continue
            }
            for (e, s) in events {
                if s != seq { held.append(e); continue }
                switch e {
                case .done(_, let interrupted): return !interrupted
                case .error(_, let code) where code != 0: throw .refused(request: name, errno: Errno(-code))
                default: try apply(e)
                }
            }
        }
    }

    /// One datagram's events with their sequence numbers; nil when none is waiting.
    func receive() throws(Failure) -> [(RouteNetlink.Event, UInt32)]? {
        let n: Int?
        let got = buffer.withUnsafeMutableBytes { b in Result { () throws(SocketError) -> Int? in try socket.receive(into: b) } }
        do throws(SocketError) { n = try got.get() } catch { throw .socket(error) }
        guard let n else { return nil }
        let decoded = buffer.withUnsafeBytes { b in
            Result { () throws(RouteNetlink.Failure) in try RouteNetlink.sequencedEvents(UnsafeRawBufferPointer(rebasing: b[0..<n])) }
        }
        do throws(RouteNetlink.Failure) { return try decoded.get().map { ($0.event, $0.sequence) } } catch { throw .message(error) }
    }

    func apply(_ e: RouteNetlink.Event) throws(Failure) {
        do throws(RouteTable.Failure) { if try mirror.apply(e) { changes += 1 } } catch { throw .table(error) }
    }

    /// Applies every notification waiting; returns how many changed the route
    /// table. Dumps again if the kernel dropped some.
    @discardableResult
    public func pump() throws(Failure) -> Int {
        let before = changes
        while true {
            let events: [(RouteNetlink.Event, UInt32)]?
            do throws(Failure) { events = try receive() } catch {
                if case .socket(let s) = error, s.errno == .noBufferSpace {
                    resyncs += 1
                    try synchronize()
                    continue
                }
                throw error
            }
            guard let events else { return changes - before }
            for (e, _) in events { try apply(e) }
        }
    }
}
