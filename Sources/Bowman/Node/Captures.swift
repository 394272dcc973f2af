import BowmanClassifier
import BowmanIO
import BowmanPacket
import BowmanPipeline
import BowmanSystem
import Foundation

/// Packet capture on a running node: a port's packets as received (before
/// the forwarding function) or as sent (after it), copied by the workers
/// into their capture taps' bounded rings and written here, on the
/// management core, into a pcap file, filtered by a tcpdump expression
/// (libpcap's compiler) or an Odyssey filter (`[ ethernet | ip ... ]`).
/// A worker never waits for the writer: when a tap's ring is full the
/// packet is dropped and counted against the captures running then.
public final class Captures {
    public enum Point: String, Sendable, CaseIterable {
        case rx, tx
        var raw: UInt8 { self == .rx ? 0 : 1 }
    }

    public enum Filter: CustomStringConvertible {
        case all
        case tcpdump(BPFFilter)
        case odyssey(BowmanClassifier.Filter, String)

        /// `[ ... ]` is an Odyssey filter, anything else a tcpdump expression; empty: every packet.
        public init(parsing text: String) throws {
            let t = text.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { self = .all; return }
            if t.hasPrefix("[") {
                self = .odyssey(try BowmanClassifier.Filter(parsing: t, registry: .standard()), t)
            } else {
                self = .tcpdump(try BPFFilter(expression: t))
            }
        }

        func matches(_ b: UnsafeRawBufferPointer, wireLength: Int) -> Bool {
            switch self {
            case .all: true
            case .tcpdump(let f): f.matches(b, wireLength: wireLength)
            case .odyssey(let f, _): f.matches(b)
            }
        }

        public var description: String {
            switch self {
            case .all: "every packet"
            case .tcpdump(let f): "tcpdump '\(f.expression)'"
            case .odyssey(_, let t): "Odyssey \(t)"
            }
        }
    }

    public final class Session {
        public let id: Int
        public let port: Int
        public let portName: String
        public let point: Point
        public let file: String
        public let filter: Filter
        public let limit: Int?
        public internal(set) var written = 0
        public internal(set) var filteredOut = 0
        /// Packets the taps could not copy while this capture ran (shared with captures running at once).
        public internal(set) var dropped: UInt64 = 0
        public internal(set) var state = "running"
        var writer: PcapWriter?
        var overflowAtStart: [UInt64]
        let started = SystemClock.monotonicMilliseconds
        public internal(set) var finishedAfter: UInt64?

        init(id: Int, port: Int, portName: String, point: Point, file: String, filter: Filter, limit: Int?, writer: consuming PcapWriter,
             overflow: [UInt64]) {
            self.id = id; self.port = port; self.portName = portName; self.point = point; self.file = file
            self.filter = filter; self.limit = limit; self.writer = Optional(writer); overflowAtStart = overflow
        }

        public var isRunning: Bool { state == "running" }

        public var summary: String {
            "\(id) \(portName) \(point.rawValue) \(state): \(written) written" + (limit.map { " of \($0)" } ?? "")
                + ", \(filteredOut) filtered out, \(dropped) dropped, into \(file)"
        }

        public var detail: [String] {
            ["capture \(id)", "port \(port) \(portName), \(point == .rx ? "as received (before the forwarding function)" : "as sent (after it)")",
             "file \(file)", "filter \(filter)", "limit " + (limit.map { "\($0) packets" } ?? "none (until stopped)"),
             "state \(state)", "written \(written)", "filtered out \(filteredOut)", "dropped \(dropped) (the workers' capture rings were full)",
             String(format: "running for %.1f s", Double((finishedAfter ?? (SystemClock.monotonicMilliseconds - started))) / 1000)]
        }
    }

    let taps: [CaptureTap]
    let ports: [PortSpec]
    public private(set) var sessions: [Session] = []
    var nextID = 1

    init(taps: [CaptureTap], ports: [PortSpec]) {
        self.taps = taps
        self.ports = ports
    }

    public var running: [Session] { sessions.filter(\.isRunning) }

    /// The port named by an index, a port spec or an interface name.
    public func portIndex(_ text: String) -> Int? {
        if let i = Int(text), i >= 0, i < ports.count { return i }
        return ports.firstIndex { $0.description == text || $0.interface == text }
    }

    /// Starts a capture; the file is opened (and truncated) now.
    public func start(port text: String, point: Point, file: String, filter: String, limit: Int?) throws -> Session {
        guard let port = portIndex(text) else {
            throw DataPlane.Failure("no port '\(text)': give its index, its spec or its interface (\(ports.map(\.description).joined(separator: ", ")))")
        }
        guard file.hasPrefix("/") else { throw DataPlane.Failure("give the capture file as an absolute path, not '\(file)'") }
        if let l = limit, l < 1 { throw DataPlane.Failure("count must be at least 1") }
        guard running.count < 8 else { throw DataPlane.Failure("8 captures are running; stop one first") }
        let f: Filter
        do { f = try Filter(parsing: filter) } catch { throw DataPlane.Failure("filter: \(error)") }
        let w: PcapWriter
        do { w = try PcapWriter(path: file, linkType: .ethernet, snapshotLength: CaptureRing.maxBytes) } catch {
            throw DataPlane.Failure("\(error)")
        }
        let s = Session(id: nextID, port: port, portName: ports[port].description, point: point, file: file, filter: f, limit: limit,
                        writer: w, overflow: taps.map { $0.ring.overflow.load(ordering: .relaxed) })
        nextID += 1
        sessions.append(s)
        if sessions.count > 64 { sessions.removeFirst(sessions.count - 64) }
        arm()
        return s
    }

    public func stop(_ id: Int, why: String = "stopped") -> Session? {
        guard let s = sessions.first(where: { $0.id == id }) else { return nil }
        if s.isRunning { finish(s, why) }
        return s
    }

    /// Every running capture stops (the node is stopping).
    public func stopAll() {
        drain()
        for s in running { finish(s, "stopped with the node") }
    }

    func finish(_ s: Session, _ why: String) {
        s.state = why
        s.finishedAfter = SystemClock.monotonicMilliseconds - s.started
        s.writer = nil   // flushes and closes
        arm()
    }

    /// What the taps are armed for: the union of the running captures.
    func arm() {
        var mask: UInt64 = 0
        for s in running { mask |= CaptureTap.bit(port: s.port, afterProcessing: s.point == .tx) }
        for t in taps { t.armed.store(mask, ordering: .relaxed) }
    }

    /// Writes what the workers copied; finishes captures that reached their count.
    public func drain() {
        guard !running.isEmpty else {
            for t in taps { _ = t.ring.pop(max: Int.max) { _, _ in } }   // left over from a finished capture
            return
        }
        let live = running
        for t in taps {
            _ = t.ring.pop(max: 65536) { h, bytes in
                for s in live where s.isRunning && s.port == Int(h.port) && s.point.raw == h.point {
                    guard s.filter.matches(bytes, wireLength: Int(h.wireLength)) else { s.filteredOut += 1; continue }
                    let ts = PcapTimestamp(seconds: Int64(h.timestamp / 1_000_000_000), nanoseconds: UInt32(h.timestamp % 1_000_000_000))
                    do {
                        try s.writer?.write(bytes, timestamp: ts, wireLength: Int(h.wireLength))
                        s.written += 1
                    } catch {
                        finish(s, "failed: \(error)")
                        continue
                    }
                    if let l = s.limit, s.written >= l { finish(s, "done") }
                }
            }
        }
        for s in live where s.isRunning {
            s.dropped = zip(taps, s.overflowAtStart).reduce(0) { $0 + ($1.0.ring.overflow.load(ordering: .relaxed) &- $1.1) }
            try? s.writer?.flush()
        }
    }
}

/// `bowman run --capture FILE`: one capture from start to stop, written
/// on the management thread, for runs without a node config.
public final class CaptureService: NodeServices {
    let port: String, point: Captures.Point, file: String, filter: String
    let log: (String) -> Void
    var captures: Captures?
    public init(port: String, point: Captures.Point, file: String, filter: String, log: @escaping (String) -> Void) {
        self.port = port; self.point = point; self.file = file; self.filter = filter; self.log = log
    }
    public func started(_ r: RunningDataPlane) {
        let c = Captures(taps: r.captureTaps, ports: r.options.ports)
        do {
            let s = try c.start(port: port, point: point, file: file, filter: filter, limit: nil)
            log("capturing \(s.portName) \(point.rawValue) into \(file), \(s.filter)")
            captures = c
        } catch {
            log("no capture: \(error)")
        }
    }
    public func service(milliseconds: Int) {
        captures?.drain()
        SystemClock.sleep(milliseconds: 1)
    }
    public func stopping() {
        guard let c = captures else { return }
        c.stopAll()
        for s in c.sessions { log("capture \(s.summary)") }
    }
}
