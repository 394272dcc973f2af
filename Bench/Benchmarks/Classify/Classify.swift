import Benchmark
import BowmanClassifier
import ClassifyWorkload

/// Mallocs and retains per lookup (one iteration = 4096 lookups on
/// acl1_1k): must be 0 per lookup, for the bit-vector tables, the tree one
/// packet at a time, and the tree in bursts of 64 (what workers run).
nonisolated(unsafe) let workload = try! ClassifyWorkload(set: "acl1_1k", root: ClassifyWorkload.testData)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal, .retainCount, .releaseCount],
                                           warmupIterations: 2, maxDuration: .seconds(3), maxIterations: 200)
    Benchmark("flat classifier, acl1_1k, 4096 lookups") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(workload.classifyAll()) }
    }
    Benchmark("tree, acl1_1k, 4096 lookups") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(workload.classifyAllTrie()) }
    }
    Benchmark("tree, acl1_1k, 4096 lookups in bursts of 64") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(workload.classifyAllTrieBursts()) }
    }
}
