// swift-tools-version:6.1
//
// Bowman's benchmarks: a separate package (ordo-one/benchmark's plugin wants
// Benchmarks/<Suite>/), depending on the main package by path, plus the C
// references they are compared with in the same run.
import Foundation
import PackageDescription

// A path dependency's identity is its folder name, which depends on where the
// repository was cloned; read it instead of guessing.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let bowman = root.lastPathComponent

let package = Package(
    name: "BowmanBench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The same parse written in C, compiled here with clang -O2 (SwiftPM release).
        .target(name: "CParseReference", path: "C/CParseReference"),
        .target(name: "BenchSupport",
                dependencies: [.product(name: "BowmanPacket", package: bowman), .product(name: "BowmanCore", package: bowman),
                               .product(name: "BowmanPipeline", package: bowman), .product(name: "BowmanIO", package: bowman),
                               .product(name: "BowmanSystem", package: bowman)],
                path: "Support"),
        .executableTarget(
            name: "Parse",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "BowmanPacket", package: bowman),
                "CParseReference", "BenchSupport",
            ],
            path: "Benchmarks/Parse",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        // The real worker loop over synthetic ports: mallocs and retains per packet.
        .executableTarget(
            name: "Worker",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "BowmanPipeline", package: bowman), .product(name: "BowmanIO", package: bowman),
                .product(name: "BowmanPacket", package: bowman), .product(name: "BowmanCore", package: bowman),
                .product(name: "BowmanClassifier", package: bowman), .product(name: "BowmanSystem", package: bowman), "ClassifyWorkload",
                .product(name: "BowmanRouting", package: bowman), "BenchSupport",
            ],
            path: "Benchmarks/Worker",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        // Classifier: compile time, table memory, lookups/s on ClassBench sets; mallocs per lookup.
        .target(name: "ClassifyWorkload",
                dependencies: [.product(name: "BowmanClassifier", package: bowman), .product(name: "BowmanCore", package: bowman)],
                path: "ClassifySupport"),
        .executableTarget(name: "classify-bench", dependencies: ["ClassifyWorkload", .product(name: "BowmanClassifier", package: bowman),
                                                                 .product(name: "BowmanIO", package: bowman)],
                          path: "Tools/classify-bench"),
        .executableTarget(
            name: "Classify",
            dependencies: [.product(name: "Benchmark", package: "benchmark"), "ClassifyWorkload",
                           .product(name: "BowmanClassifier", package: bowman)],
            path: "Benchmarks/Classify",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        // Longest-prefix match on the full Internet table, next to rte_lpm / rte_lpm6 (lpm/lpm_dpdk.c).
        .executableTarget(name: "lpm-bench", dependencies: ["BenchSupport", .product(name: "BowmanRouting", package: bowman),
                                                            .product(name: "BowmanCore", package: bowman)],
                          path: "Tools/lpm-bench"),
        // Routing lookups and the router step: mallocs and retains per lookup.
        .executableTarget(
            name: "Route",
            dependencies: [.product(name: "Benchmark", package: "benchmark"), "BenchSupport", .product(name: "BowmanRouting", package: bowman),
                           .product(name: "BowmanPipeline", package: bowman), .product(name: "BowmanPacket", package: bowman),
                           .product(name: "BowmanCore", package: bowman)],
            path: "Benchmarks/Route",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        // The worker loop's cost of stages and capture taps as instruction
        // counts: run under callgrind with 0 and N rounds (Bench/run-stage-cost).
        .executableTarget(
            name: "stage-cost",
            dependencies: ["BenchSupport", "ClassifyWorkload", .product(name: "BowmanPipeline", package: bowman),
                           .product(name: "BowmanPacket", package: bowman), .product(name: "BowmanCore", package: bowman),
                           .product(name: "BowmanSystem", package: bowman)],
            path: "Tools/stage-cost"),
        // Interleaved Swift/C rounds with a plain clock, printing the ratio.
        .executableTarget(
            name: "parse-ratio",
            dependencies: [.product(name: "BowmanPacket", package: bowman), "CParseReference", "BenchSupport"],
            path: "Tools/parse-ratio"),
    ],
    swiftLanguageModes: [.v6]
)
