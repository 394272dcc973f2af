import BowmanControl
import BowmanCore
import BowmanSystem

/// The management core's event loop: one thread, one poll(2) over every
/// control-plane socket (the shim-UDP driver's listen and flow sockets, the
/// GRASP listeners and sessions), woken by input or by the earliest timer
/// of any of them. Results go to the handlers, on this thread. The data
/// plane's workers take the last CPUs; this loop belongs on the first.
public final class ManagementLoop {
    public let shim: ShimUDPDriver?
    public let grasp: GRASPDriver?
    public let alm: ALMDriver?
    /// The ALM/ATM/routing manager sockets, and the kernel table followed.
    public let administration: NodeAdministrationDriver?
    public let fib: KernelFIBDriver?
    public var onShim: (ShimUDP.Action) -> Void = { _ in }
    public var onGRASP: (GRASPNode.Action) -> Void = { _ in }
    public var onNeighbour: (ALMNeighbours.Neighbour) -> Void = { _ in }
    /// Rounds run and errors met (a failing socket action is reported, never fatal).
    public private(set) var rounds = 0
    public private(set) var errors: [String] = []

    /// `alm`, when given, must run on `grasp`.
    public init(shim: ShimUDPDriver? = nil, grasp: GRASPDriver? = nil, alm: ALMDriver? = nil,
                administration: NodeAdministrationDriver? = nil, fib: KernelFIBDriver? = nil) {
        precondition(alm == nil || alm!.node === grasp, "ALMDriver must run on the loop's GRASP driver")
        self.shim = shim
        self.grasp = grasp
        self.alm = alm
        self.administration = administration
        self.fib = fib
    }

    func note(_ s: String) {
        errors.append(s)
        if errors.count > 100 { errors.removeFirst() }
    }

    /// One round: waits for input or the next timer (at most `milliseconds`), then services everything.
    public func runOnce(milliseconds: Int32) {
        rounds += 1
        let shimFDs = shim?.descriptors ?? []
        let graspPoll = grasp?.pollRequests ?? []
        let deadlines = [shim?.nextDeadline, grasp?.nextDeadline, alm?.nextDeadline].compactMap { $0 }
        let wait = SystemClock.millisecondsUntil(deadlines.min(), cap: milliseconds)
        let adminFDs = administration?.descriptors ?? []
        let fibFDs = fib.map { [$0.descriptor] } ?? []
        let ready = Poll.wait((shimFDs + adminFDs + fibFDs).map { Poll.Request($0) } + graspPoll, milliseconds: wait)
        if let administration, !ready.isDisjoint(with: adminFDs) {
            do { try administration.service(readable: ready) } catch { note("administration: \(error)") }
        }
        if let fib, ready.contains(fib.descriptor) {
            do { try fib.pump() } catch { note("kernel FIB: \(error)") }
        }
        if let shim {
            do { for a in try shim.service(readable: ready.intersection(shimFDs)) { onShim(a) } } catch { note("shim-udp: \(error)") }
        }
        if let grasp {
            let results = grasp.service(readable: ready.intersection(graspPoll.map(\.descriptor)))
            for a in results { onGRASP(a) }
            if let alm { for n in alm.step(results) { onNeighbour(n) } }
        }
    }

    /// Runs until `stop` is set, on the calling thread.
    public func run(until stop: StopFlag) {
        while !stop.isSet { runOnce(milliseconds: 100) }
    }
}
