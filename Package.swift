// swift-tools-version:6.1
//
// Bowman: a kernel-bypass packet engine for Linux router hosts.
// Module layering follows docs/architecture.md: pure modules (BowmanCore,
// BowmanPacket, ...) import no C and no Foundation; only BowmanSystem,
// BowmanIO and BowmanControlIO touch the kernel (the first two through
// the CShims targets, the last through BowmanSystem's typed sockets).
import PackageDescription

let cSettings: [CSetting] = [.define("_GNU_SOURCE")]
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Bowman",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bowman", targets: ["bowman"]),
        .library(name: "BowmanPacket", targets: ["BowmanPacket"]),
        .library(name: "BowmanIO", targets: ["BowmanIO"]),
        .library(name: "BowmanCore", targets: ["BowmanCore"]),
        .library(name: "BowmanPipeline", targets: ["BowmanPipeline"]),
        .library(name: "BowmanClassifier", targets: ["BowmanClassifier"]),
        .library(name: "BowmanSystem", targets: ["BowmanSystem"]),
        .library(name: "BowmanControl", targets: ["BowmanControl"]),
        .library(name: "BowmanControlIO", targets: ["BowmanControlIO"]),
        .library(name: "BowmanRouting", targets: ["BowmanRouting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The node: its config file (YAML, with line and column of every
        // node), its counters in the Prometheus format, its log.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // MARK: C shims (one per outside library; only what Swift cannot say)
        .target(name: "CBowmanLinux", path: "CShims/CBowmanLinux", cSettings: cSettings),
        .target(name: "CBowmanNUMA", path: "CShims/CBowmanNUMA", cSettings: cSettings,
                linkerSettings: [.linkedLibrary("numa")]),
        .target(name: "CBowmanPcap", path: "CShims/CBowmanPcap", cSettings: cSettings,
                linkerSettings: [.linkedLibrary("pcap")]),
        .target(name: "CBowmanXDP", path: "CShims/CBowmanXDP", cSettings: cSettings,
                linkerSettings: [.linkedLibrary("xdp"), .linkedLibrary("bpf")]),

        // MARK: pure modules
        .target(name: "BowmanCore", swiftSettings: strict),
        .target(name: "BowmanPacket", dependencies: ["BowmanCore"], swiftSettings: strict),
        .target(name: "BowmanClassifier", dependencies: ["BowmanCore", "BowmanPacket"], swiftSettings: strict),
        .target(name: "BowmanCBOR", swiftSettings: strict),
        .target(name: "BowmanRouting", dependencies: ["BowmanCore"], swiftSettings: strict),
        .target(name: "BowmanControl", dependencies: ["BowmanCore", "BowmanCBOR", "BowmanPacket", "BowmanRouting"], swiftSettings: strict),

        // MARK: kernel-facing modules
        .target(name: "BowmanSystem", dependencies: ["BowmanCore", "CBowmanLinux", "CBowmanNUMA"],
                swiftSettings: strict),
        .target(name: "BowmanIO",
                dependencies: ["BowmanCore", "BowmanSystem", "BowmanPacket", "CBowmanPcap", "CBowmanLinux", "CBowmanXDP"],
                swiftSettings: strict),

        .target(name: "BowmanPipeline",
                dependencies: ["BowmanCore", "BowmanSystem", "BowmanPacket", "BowmanIO", "BowmanClassifier", "BowmanRouting"],
                swiftSettings: strict),
        // The control plane's socket drivers: the sans-I/O machines of
        // BowmanControl on BowmanSystem's typed sockets and clock.
        .target(name: "BowmanControlIO", dependencies: ["BowmanCore", "BowmanCBOR", "BowmanControl", "BowmanRouting", "BowmanSystem"],
                swiftSettings: strict),

        // Test and demo scaffolding: network namespaces and veth pairs made
        // with ip(8), removed again; never part of a running node.
        .target(name: "BowmanLab", dependencies: ["BowmanSystem"], swiftSettings: strict),

        // MARK: the node and the command line
        .target(name: "Bowman", dependencies: ["BowmanCore", "BowmanSystem", "BowmanPacket", "BowmanIO", "BowmanPipeline", "BowmanClassifier",
                                        "BowmanCBOR", "BowmanControl", "BowmanControlIO", "BowmanLab", "BowmanRouting",
                                        .product(name: "Yams", package: "Yams"), .product(name: "Prometheus", package: "swift-prometheus")],
                swiftSettings: strict),
        .executableTarget(name: "bowman",
                          dependencies: ["Bowman", "BowmanIO", "BowmanPacket", "BowmanCore", "BowmanSystem",
                                         "BowmanPipeline", "BowmanClassifier", "BowmanCBOR", "BowmanControl", "BowmanControlIO",
                                         "BowmanRouting", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "Logging", package: "swift-log"),
                                         .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                                         .product(name: "UnixSignals", package: "swift-service-lifecycle")],
                          swiftSettings: strict),

        // MARK: tests
        // Shared by the test targets: test data paths, seeded random
        // generators of rules and frames.
        .target(name: "BowmanTestSupport", dependencies: ["BowmanCore", "BowmanPacket"], path: "Tests/BowmanTestSupport"),
        .testTarget(name: "BowmanCoreTests", dependencies: ["BowmanTestSupport", "BowmanCore"]),
        .testTarget(name: "BowmanPacketTests", dependencies: ["BowmanTestSupport", "BowmanPacket", "BowmanCore"]),
        .testTarget(name: "BowmanClassifierTests", dependencies: ["BowmanTestSupport", "BowmanClassifier", "BowmanPacket", "BowmanCore"]),
        .testTarget(name: "BowmanCBORTests", dependencies: ["BowmanTestSupport", "BowmanCBOR"]),
        .testTarget(name: "BowmanControlTests", dependencies: ["BowmanTestSupport", "BowmanControl", "BowmanCBOR", "BowmanRouting", "BowmanPacket", "BowmanCore"]),
        .testTarget(name: "BowmanRoutingTests", dependencies: ["BowmanTestSupport", "BowmanRouting", "BowmanPacket", "BowmanCore"]),
        .testTarget(name: "BowmanSystemTests", dependencies: ["BowmanTestSupport", "BowmanSystem", "BowmanLab", "BowmanCore"]),
        .testTarget(name: "BowmanIOTests", dependencies: ["BowmanTestSupport", "BowmanIO", "BowmanPacket", "BowmanSystem", "BowmanCore"]),
        .testTarget(name: "BowmanPipelineTests", dependencies: ["BowmanTestSupport", "BowmanPipeline", "BowmanClassifier", "BowmanIO", "BowmanPacket", "BowmanRouting", "BowmanCore"]),
        .testTarget(name: "BowmanControlIOTests",
                    dependencies: ["BowmanTestSupport", "BowmanControlIO", "BowmanControl", "BowmanCBOR", "BowmanRouting", "BowmanLab", "BowmanSystem", "BowmanCore"]),
        .testTarget(name: "BowmanLabTests", dependencies: ["BowmanTestSupport", "BowmanLab", "BowmanSystem"]),
        .testTarget(name: "BowmanTests", dependencies: ["BowmanTestSupport", "Bowman", "BowmanControl", "BowmanControlIO", "BowmanLab", "BowmanSystem", "BowmanIO", "BowmanPipeline", "BowmanCore"]),
        .testTarget(name: "BowmanIntegrationTests",
                    dependencies: ["BowmanTestSupport", "Bowman", "BowmanLab", "BowmanPipeline", "BowmanClassifier", "BowmanControl", "BowmanControlIO",
                                   "BowmanRouting", "BowmanIO", "BowmanPacket", "BowmanSystem", "BowmanCore"]),
    ],
    swiftLanguageModes: [.v6]
)
