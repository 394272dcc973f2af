import BowmanControl
import BowmanCore
import BowmanPipeline
import Glibc

/// The management core's event loop: one thread, one poll(2) over every
/// control-plane socket (the shim-UDP node's listen and flow sockets, the
/// GRASP listeners and sessions), woken by input or by the earliest timer
/// of any of them. Results go to the handlers, on this thread. The data
/// plane's workers take the last CPUs; this loop belongs on the first.
public final class ManagementLoop {
    public let shim: ShimUDPNode?
    public let grasp: GRASPSocketNode?
    public let alm: ALMNeighbours?
    public var onShim: (ShimUDP.Action) -> Void = { _ in }
    public var onGRASP: (GRASPNode.Action) -> Void = { _ in }
    public var onNeighbour: (ALMNeighbours.Neighbour) -> Void = { _ in }
    /// Rounds run and errors met (a failing socket action is reported, never fatal).
    public private(set) var rounds = 0
    public private(set) var errors: [String] = []

    /// `alm`, when given, must run on `grasp`.
    public init(shim: ShimUDPNode? = nil, grasp: GRASPSocketNode? = nil, alm: ALMNeighbours? = nil) {
        precondition(alm == nil || alm!.node === grasp, "ALMNeighbours must run on the loop's GRASP node")
        self.shim = shim
        self.grasp = grasp
        self.alm = alm
    }

    /// One round: waits for input or the next timer (at most `milliseconds`), then services everything.
    public func runOnce(milliseconds: Int32) {
        rounds += 1
        let shimFDs = shim?.descriptors ?? []
        let graspPoll = grasp?.pollDescriptors ?? []
        let graspFDs = graspPoll.map(\.fd)
        var fds = shimFDs.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) } + graspPoll
        let deadlines = [shim?.nextDeadline, grasp?.nextDeadline, alm?.nextDeadline].compactMap { $0 }
        var wait = milliseconds
        if let d = deadlines.min() { wait = min(wait, Int32(clamping: max(0, Int64(d) - Int64(ShimUDPNode.now())))) }
        _ = poll(&fds, nfds_t(fds.count), wait)
        let ready = Set(fds.filter { $0.revents != 0 }.map(\.fd))
        if let shim {
            do { for a in try shim.service(readable: ready.intersection(shimFDs)) { onShim(a) } } catch {
                errors.append("shim-udp: \(error)")
                if errors.count > 100 { errors.removeFirst() }
            }
        }
        if let grasp {
            let results = grasp.service(readable: ready.intersection(graspFDs))
            for a in results { onGRASP(a) }
            if let alm { for n in alm.step(results) { onNeighbour(n) } }
        }
    }

    /// Runs until `stop` is set, on the calling thread.
    public func run(until stop: StopFlag) {
        while !stop.isSet { runOnce(milliseconds: 100) }
    }
}
