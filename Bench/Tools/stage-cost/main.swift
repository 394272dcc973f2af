import BenchSupport
import BowmanCore
import BowmanPacket
import BowmanPipeline
import BowmanSystem
import ClassifyWorkload

// stage-cost MODE ROUNDS: ROUNDS × 64,000 packets of one acl1_1k flow
// through the real worker loop, classified and forwarded by l2fwd, with
// MODE: none, stages (a counter and a token bucket at every flow's
// pre-route slot), post (the same at post-route), tap (a capture tap
// present, not armed). Run under callgrind with ROUNDS 0 and N: the
// difference of the instruction counts over N×64,000 is per packet,
// free of the machine's noise (Bench/run-stage-cost).
let args = CommandLine.arguments
let mode = args.count > 1 ? args[1] : "none"
let rounds = args.count > 2 ? Int(args[2]) ?? 10 : 10
let acl = try! ClassifyWorkload(set: "acl1_1k", root: ClassifyWorkload.testData, headers: 1)
let tables = TablePublisher(acl.tables, workers: 1)
let flows = FlowCounters(capacity: 4096)
let rig = WorkerRig(frame: acl.frames[0])
let demuxCount = (acl.classifier.rules.map(\.demuxID).max() ?? 0) + 1
let two: [[StageOp]] = (0..<demuxCount).map { d in [.counter(slot: 5 * d), .rateLimit(slot: 5 * d + 2, rate: 1e12, burst: 1e12)] }
let none: [[StageOp]] = Array(repeating: [], count: demuxCount)
let ports = [[Int]?](repeating: nil, count: demuxCount)
let l2 = L2ForwardFunction()
let t0 = SystemClock.monotonicNanoseconds
switch mode {
case "none":
    for _ in 0..<rounds { rig.run(ClassifyFunction(tables: tables, worker: 0, flows: flows, dropUnmatched: false, then: l2)) }
case "stages", "post":
    let program = FlowProgram(slots: mode == "stages" ? [two] : [none, two], ports: ports)
    let state = FlowStageState(program)
    for _ in 0..<rounds {
        rig.run(ClassifyFunction(tables: tables, worker: 0, flows: flows, dropUnmatched: false, slots: BoundSlots(program: program, state: state), then: l2))
    }
case "tap":
    let tap = CaptureTap()
    for _ in 0..<rounds { rig.run(ClassifyFunction(tables: tables, worker: 0, flows: flows, dropUnmatched: false, then: l2), tap: tap) }
default:
    fatalError("mode: none, stages, post or tap")
}
let ns = Double(SystemClock.monotonicNanoseconds - t0) / Double(max(1, rounds) * 64_000)
print("\(mode): \(rounds) rounds, \(String(format: "%.2f", ns)) ns/packet (wall clock)")
