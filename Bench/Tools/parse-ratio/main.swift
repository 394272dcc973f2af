import BenchSupport
import BowmanPacket
import CParseReference
import Glibc

// Interleaved rounds of the Swift and C parse on the same burst, timed with
// CLOCK_MONOTONIC; prints ns/packet for each, their ratio (median of the
// rounds), and checks both parsers agree on every packet.
let workload = ParseWorkload()
let rounds = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 21 : 21
let bursts = 20_000

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

let idx = workload.indices, len = workload.lengths
let base = UnsafePointer(workload.pool.base.assumingMemoryBound(to: UInt8.self))
var errors: Int32 = 0
let cHash = ref_parse_burst(base, 2048, idx, len, 64, &errors)
precondition(errors == 0, "C reference rejected a workload frame")
precondition(cHash == workload.parseSwift(), "Swift and C parsers disagree on the workload")

var swiftNs: [Double] = [], cNs: [Double] = [], ratios: [Double] = []
var sink: UInt64 = 0
for _ in 0..<rounds {
    var t0 = now()
    for _ in 0..<bursts { sink &+= workload.parseSwift() }
    let s = Double(now() - t0) / Double(bursts * 64)
    t0 = now()
    idx.withUnsafeBufferPointer { ip in
        len.withUnsafeBufferPointer { lp in
            for _ in 0..<bursts { sink &+= ref_parse_burst(base, 2048, ip.baseAddress, lp.baseAddress, 64, &errors) }
        }
    }
    let c = Double(now() - t0) / Double(bursts * 64)
    swiftNs.append(s); cNs.append(c); ratios.append(s / c)
}
func median(_ a: [Double]) -> Double { a.sorted()[a.count / 2] }
func f(_ v: Double) -> String { let r = (v * 100).rounded() / 100; return "\(r)" }
print("parse+5-tuple, burst of 64 mixed frames, \(rounds) interleaved rounds of \(bursts * 64) packets")
print("  Swift (BowmanPacket): \(f(median(swiftNs))) ns/packet")
print("  C reference (clang -O2): \(f(median(cNs))) ns/packet")
print("  ratio Swift/C: \(f(median(ratios))) (median of per-round ratios; lower is better)")
if sink == 42 { print("") }
