import BowmanCore
import BowmanIO
import BowmanLab
import BowmanPacket
import BowmanSystem
import Foundation
import Synchronization

/// `bowman demo`: two namespaces joined by a veth pair; a generator sends
/// UDP frames from one side and Bowman receives them on the other through
/// an AF_PACKET port into a frame pool, parses every packet and counts it.
/// Prints packets/s once a second and a summary with the frame accounting.
public enum Demo {
    public struct Options: Sendable {
        public var seconds: Double = 3
        public var frameSize: Int = 64
        public var generatorCore: CoreID? = CoreID(0)
        public var receiverCore: CoreID? = CoreID(1)
        public init() {}
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var seconds: Double
        public var frameSize: Int
        public var sent: UInt64
        public var received: UInt64
        /// Received packets that parsed as the generator's UDP flow.
        public var matched: UInt64
        public var malformed: UInt64
        public var audit: FramePool.Audit
        public var receivedPerSecond: Double { Double(received) / seconds }
        public var description: String {
            let mpps = receivedPerSecond / 1e6
            let gbps = receivedPerSecond * Double(frameSize) * 8 / 1e9
            return String(format: "received %llu packets in %.2f s: %.3f Mpps, %.3f Gbit/s of %d-byte frames; ",
                          received, seconds, mpps, gbps, frameSize)
                + "generator sent \(sent); parsed as the test flow \(matched), malformed \(malformed); frames: \(audit)"
        }
    }

    final class Shared: Sendable {
        let stop = Atomic<Bool>(false)
        let ready = Atomic<Int>(0)
        let received = Atomic<UInt64>(0)
        let matched = Atomic<UInt64>(0)
        let malformed = Atomic<UInt64>(0)
        let sent = Atomic<UInt64>(0)
        let failure = Mutex<String?>(nil)
        let audit = Mutex<FramePool.Audit?>(nil)
    }

    public static func run(_ o: Options, log: (String) -> Void) throws -> Report {
        guard CurrentProcess.isRoot else { throw DemoError("the demo makes network namespaces and needs root") }
        let lab = VethLab(prefix: "bmdemo", tag: String(CurrentProcess.id % 100_000))
        try lab.setUp()
        defer { lab.tearDown() }
        // Ignore ARP/ND noise: Bowman counts every packet, and checks which
        // parse as the generator's flow.
        let src = IPv4Address(lab.leftIPv4)!, dst = IPv4Address(lab.rightIPv4)!
        let spec = FrameSpec.udp4(from: src, to: dst, sourcePort: 1024, destinationPort: 9, frameLength: max(o.frameSize, 60),
                                  source: MACAddress(lab.leftMAC) ?? .zero, destination: MACAddress(lab.rightMAC) ?? .broadcast)
        let frame = try PacketBuilder.bytes(spec)
        log("Bowman demo: generator in \(lab.left) (\(lab.leftInterface), cpu \(o.generatorCore?.rawValue ?? -1)) -> "
            + "Bowman AF_PACKET port in \(lab.right) (\(lab.rightInterface), cpu \(o.receiverCore?.rawValue ?? -1)), "
            + "\(frame.count)-byte UDP \(src):1024 > \(dst):9 for \(o.seconds) s")

        let shared = Shared()
        let rightNS = lab.right, rightIf = lab.rightInterface, leftNS = lab.left, leftIf = lab.leftInterface
        let dstRaw = UInt64(dst.rawValue)
        let receiver = try PinnedThread(name: "bowman-rx", core: o.receiverCore) {
            do {
                try NetworkNamespace.enter(rightNS)
                var pool = try FramePool.onNUMANode(NUMA.node(ofCPU: Affinity.currentCPU) ?? 0, frameSize: 2048, frameCount: 1024)
                let port = try PacketSocket(interface: rightIf)
                shared.ready.add(1, ordering: .releasing)
                var burst = Burst()
                var meta = PacketMetadata()
                while !shared.stop.load(ordering: .relaxed) {
                    let n = try port.receiveBurst(into: &burst, pool: &pool)
                    if n == 0 { _ = port.waitReadable(timeoutMilliseconds: 10); continue }
                    var matched: UInt64 = 0, bad: UInt64 = 0
                    for k in 0..<burst.count {
                        let bytes = UnsafeRawBufferPointer(burst.packet(at: k, in: pool))
                        do throws(ParseError) {
                            try PacketParser.parse(ethernet: bytes, into: &meta)
                            if meta.l4Protocol == IPProtocol.udp && meta.dstPort == 9 && meta.dstLow == dstRaw { matched &+= 1 }
                        } catch { bad &+= 1 }
                    }
                    pool.release(burst: &burst)
                    shared.received.add(UInt64(n), ordering: .relaxed)
                    shared.matched.add(matched, ordering: .relaxed)
                    shared.malformed.add(bad, ordering: .relaxed)
                }
                shared.audit.withLock { $0 = pool.audit() }
            } catch {
                shared.failure.withLock { $0 = "receiver: \(error)" }
                shared.ready.add(1, ordering: .releasing)
            }
        }
        // Wait for the receiver to be listening before the first frame leaves.
        while shared.ready.load(ordering: .acquiring) == 0 { SystemClock.sleep(milliseconds: 1) }
        let generator = try PinnedThread(name: "bowman-gen", core: o.generatorCore) {
            do {
                try NetworkNamespace.enter(leftNS)
                let gen = try TemplateGenerator(interface: leftIf, frame: frame)
                while !shared.stop.load(ordering: .relaxed) {
                    let n = try gen.sendBurst()
                    if n > 0 { shared.sent.add(UInt64(n), ordering: .relaxed) } else { sched_yield() }
                }
            } catch {
                shared.failure.withLock { $0 = "generator: \(error)" }
            }
        }
        let start = Date()
        var last = UInt64(0)
        var lastTime = start
        while Date().timeIntervalSince(start) < o.seconds {
            Thread.sleep(forTimeInterval: min(1.0, o.seconds - Date().timeIntervalSince(start)))
            if let f = shared.failure.withLock({ $0 }) { shared.stop.store(true, ordering: .relaxed); receiver.join(); generator.join(); throw DemoError(f) }
            let now = Date(), rx = shared.received.load(ordering: .relaxed)
            let rate = Double(rx - last) / now.timeIntervalSince(lastTime)
            log(String(format: "  t=%4.1fs  rx %10.0f packets/s  (total %llu)", now.timeIntervalSince(start), rate, rx))
            last = rx; lastTime = now
        }
        let elapsed = Date().timeIntervalSince(start)
        shared.stop.store(true, ordering: .relaxed)
        generator.join()
        receiver.join()
        if let f = shared.failure.withLock({ $0 }) { throw DemoError(f) }
        let audit = shared.audit.withLock { $0 } ?? FramePool.Audit(total: 0, free: 0, inFlight: 0, duplicatedFree: 0,
                                                                    freeButReferenced: 0, lost: 0, invalidReleases: 0)
        return Report(seconds: elapsed, frameSize: frame.count, sent: shared.sent.load(ordering: .relaxed),
                      received: shared.received.load(ordering: .relaxed), matched: shared.matched.load(ordering: .relaxed),
                      malformed: shared.malformed.load(ordering: .relaxed), audit: audit)
    }
}

public struct DemoError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
