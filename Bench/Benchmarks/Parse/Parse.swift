import Benchmark
import BenchSupport
import BowmanPacket
import CParseReference

/// Header parse + 5-tuple over one preloaded burst of 64 frames, Bowman's
/// Swift parser next to the same parse in C. One iteration = 1000 bursts
/// (64,000 packets): ns/packet = wall-clock ns per iteration / 64,000.
/// `mallocCountTotal` must be 0.
nonisolated(unsafe) let workload = ParseWorkload()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .retainCount, .releaseCount],
                                           warmupIterations: 3, maxDuration: .seconds(3), maxIterations: 2000)

    Benchmark("parse 64-packet burst x1000 (Swift)") { benchmark in
        for _ in benchmark.scaledIterations {
            var h: UInt64 = 0
            for _ in 0..<1000 { h &+= workload.parseSwift() }
            blackHole(h)
        }
    }

    Benchmark("parse 64-packet burst x1000 (C reference)") { benchmark in
        let idx = workload.indices, len = workload.lengths
        let base = UnsafePointer(workload.pool.base.assumingMemoryBound(to: UInt8.self))
        idx.withUnsafeBufferPointer { ip in
            len.withUnsafeBufferPointer { lp in
                for _ in benchmark.scaledIterations {
                    var h: UInt64 = 0
                    var errors: Int32 = 0
                    for _ in 0..<1000 { h &+= ref_parse_burst(base, 2048, ip.baseAddress, lp.baseAddress, 64, &errors) }
                    blackHole(h)
                }
            }
        }
    }
}
