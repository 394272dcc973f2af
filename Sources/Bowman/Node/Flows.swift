import BowmanClassifier
import BowmanIO
import BowmanPacket
import BowmanPipeline
import BowmanSystem

/// The config's channels and flows made into what the workers run: the
/// flows' filters as one classifier (flow i is demux id i) and the stages
/// bound at their `pre-route` slot as a `FlowProgram`, with the state
/// slots each stage's counters live in. Also the flows' state stores and
/// the registries shared by name (management core only).
public final class NodeFlows {
    public struct Bound: Sendable {
        public var flow: Int
        public var slot: FlowSlot
        public var stage: NodeConfig.Stage
        public var op: StageOp
    }
    public let config: [NodeConfig.Flow]
    public let classifier: Classifier
    public let program: FlowProgram
    public let bound: [Bound]
    /// Per flow: its state store (put/get/remove).
    public private(set) var stores: [[String: String]]
    /// Stores shared by name between flows.
    public private(set) var registries: [String: [String: String]] = [:]
    final class Sampler {
        let file: String
        var writer: PcapWriter?
        var written = 0
        init(file: String, writer: consuming PcapWriter) { self.file = file; self.writer = Optional(writer) }
    }
    var samplers: [Sampler] = []
    /// Mirror copies made, and refused for want of room (burst or frames), summed over workers.
    public func mirrorTotals(_ states: [FlowStageState]) -> (copies: UInt64, noRoom: UInt64) {
        (states.reduce(0) { $0 + $1.value(0) }, states.reduce(0) { $0 + $1.value(1) })
    }
    /// Packets each sampler wrote, in the order of the sample stages.
    public var sampled: [Int] { samplers.map(\.written) }

    public init(_ c: NodeConfig, workers: Int) throws {
        config = c.flows
        var cl = Classifier(policy: .mostPredicates)
        var slots: [[[StageOp]]] = FlowSlot.allCases.map { _ in [] }
        var ports: [[Int]?] = []
        var bound: [Bound] = []
        var slot = FlowProgram.firstStageSlot, rings = 0
        let share = Double(max(1, workers))
        for (i, f) in c.flows.enumerated() {
            try cl.addFilter(f.filter, demuxID: i)
            ports.append(f.channel.flatMap { name in c.channels.first { $0.name == name }?.ports })
            for at in FlowSlot.allCases {
            var ops: [StageOp] = []
            for st in f.slots[at.rawValue] {
                let op: StageOp
                switch st {
                case .counter: op = .counter(slot: slot); slot += 2
                case .deny: op = .deny(slot: slot); slot += 1
                case .rateLimit(let rate, let burst):
                    // Each worker keeps its share of the rate.
                    op = .rateLimit(slot: slot, rate: rate / share, burst: max(1, burst / share)); slot += 3
                case .sample(let every, _): op = .sample(slot: slot, every: UInt64(every), ring: rings); slot += 2; rings += 1
                case .mirror(let port): op = .mirror(slot: slot, port: port); slot += 1
                }
                ops.append(op)
                bound.append(Bound(flow: i, slot: at, stage: st, op: op))
            }
            slots[at.rawValue].append(ops)
            }
        }
        classifier = cl
        program = FlowProgram(slots: slots, ports: ports)
        self.bound = bound
        stores = c.flows.map { _ in [:] }
    }

    /// Opens the samplers' capture files (when the workers start).
    func openSamplers() throws {
        for b in bound {
            guard case .sample(_, let file) = b.stage else { continue }
            do {
                let w = try PcapWriter(path: file, linkType: .ethernet, snapshotLength: CaptureRing.maxBytes)
                samplers.append(Sampler(file: file, writer: w))
            } catch {
                throw DataPlane.Failure("flow \(config[b.flow].name): sample: \(error)")
            }
        }
    }

    /// Writes what the workers' samplers copied.
    func drain(_ states: [FlowStageState]) {
        for st in states {
            for (r, ring) in st.samplers.enumerated() where r < samplers.count {
                _ = ring.pop(max: 65536) { h, bytes in
                    let ts = PcapTimestamp(seconds: Int64(h.timestamp / 1_000_000_000), nanoseconds: UInt32(h.timestamp % 1_000_000_000))
                    let sm = samplers[r]
                    if (try? sm.writer?.write(bytes, timestamp: ts, wireLength: Int(h.wireLength))) != nil { sm.written += 1 }
                }
                try? samplers[r].writer?.flush()
            }
        }
    }

    func closeSamplers() { for s in samplers { s.writer = nil } }

    /// A stage's counters summed over the workers: (name, value) pairs.
    public func values(_ b: Bound, _ states: [FlowStageState]) -> [(String, UInt64)] {
        func sum(_ k: Int) -> UInt64 { states.reduce(0) { $0 + $1.value(k) } }
        switch b.op {
        case .counter(let k): return [("packets", sum(k)), ("bytes", sum(k + 1))]
        case .rateLimit(let k, _, _): return [("dropped", sum(k + 2))]
        case .sample(let k, _, _): return [("seen", sum(k)), ("copied", sum(k + 1))]
        case .deny(let k): return [("denied", sum(k))]
        case .mirror(let k, _): return [("mirrored", sum(k))]
        }
    }

    // MARK: the state store

    public func put(flow: Int, _ key: String, _ value: String) { stores[flow][key] = value }
    public func get(flow: Int, _ key: String) -> String? { stores[flow][key] }
    @discardableResult public func remove(flow: Int, _ key: String) -> String? { stores[flow].removeValue(forKey: key) }
    public func put(registry: String, _ key: String, _ value: String) { registries[registry, default: [:]][key] = value }
    public func get(registry: String, _ key: String) -> String? { registries[registry]?[key] }

    public func index(_ text: String) -> Int? {
        if let i = Int(text), i >= 0, i < config.count { return i }
        return config.firstIndex { $0.name == text }
    }
}
