import Benchmark
import BowmanClassifier
import ClassifyWorkload

/// Mallocs and retains per lookup of the flat classifier (one iteration =
/// 4096 lookups on acl1_1k): must be 0 per lookup.
nonisolated(unsafe) let workload = try! ClassifyWorkload(set: "acl1_1k", root: ClassifyWorkload.testData)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal, .retainCount, .releaseCount],
                                           warmupIterations: 2, maxDuration: .seconds(3), maxIterations: 200)
    Benchmark("flat classifier, acl1_1k, 4096 lookups") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(workload.classifyAll()) }
    }
}
