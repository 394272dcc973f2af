import Foundation

/// Paths to the shared public test data (`../shared/testdata` beside the
/// repository), read in place and never copied into the project.
public enum TestData {
    /// The repository root, found from this file's location.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static let root: URL = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/testdata")

    public static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// A test data file read whole as UTF-8 text.
    public static func text(_ relative: String) throws -> String { try String(contentsOfFile: path(relative), encoding: .utf8) }

    /// Every file under `relative` whose name ends in one of `extensions`, sorted.
    public static func files(under relative: String, extensions: [String]) -> [String] {
        let base = root.appendingPathComponent(relative)
        guard let e = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil) else { return [] }
        var out: [String] = []
        for case let url as URL in e where extensions.contains(url.pathExtension) { out.append(url.path) }
        return out.sorted()
    }

    /// Every capture file (pcap, pcapng) in the shared test data.
    public static var allCaptures: [String] {
        files(under: "pcap", extensions: ["pcap", "pcapng", "cap"])
    }

    public static var isRoot: Bool { geteuid() == 0 }

    /// A fresh temporary directory for one test.
    public static func temporaryDirectory() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("bowman-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}

/// A small deterministic random generator (SplitMix64), so property tests
/// are reproducible from their seed.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Packets copied to memory of their own, as stable buffer pointers (what a
/// burst lookup takes), freed with this object.
public final class PacketBuffers {
    public let views: [UnsafeRawBufferPointer]
    private let blocks: [UnsafeMutableRawBufferPointer]
    public init(_ packets: [[UInt8]]) {
        blocks = packets.map { p in
            let b = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, p.count), alignment: 8)
            p.withUnsafeBytes { b.copyMemory(from: $0) }
            return b
        }
        views = zip(blocks, packets).map { UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer($0)[0..<$1.count]) }
    }
    deinit { for b in blocks { b.deallocate() } }

    /// What `classify` answers for every packet when they are fed to it in
    /// consecutive bursts, the i-th of `size(i)` packets (64 unless told).
    public func answersInBursts(of size: (Int) -> Int = { _ in 64 },
                                _ classify: (UnsafeBufferPointer<UnsafeRawBufferPointer>, UnsafeMutablePointer<Int>) -> Void) -> [Int] {
        var out = [Int](repeating: -2, count: views.count)
        views.withUnsafeBufferPointer { all in
            out.withUnsafeMutableBufferPointer { o in
                var start = 0, burst = 0
                while start < all.count {
                    let n = min(size(burst), all.count - start)
                    classify(UnsafeBufferPointer(rebasing: all[start..<(start + n)]), o.baseAddress! + start)
                    start += n; burst += 1
                }
            }
        }
        return out
    }
}
