import CBowmanPcap

/// A tcpdump expression compiled by libpcap (`tcp port 80 and host
/// 198.18.0.1`), matched against Ethernet frames on the management core.
public final class BPFFilter {
    let filter: OpaquePointer
    public let expression: String

    public struct Refused: Error, Equatable, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(expression: String) throws(Refused) {
        var err = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let f = cbowman_bpf_compile(expression, 1, &err) else {
            throw Refused(description: "tcpdump expression '\(expression)': \(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        filter = f
        self.expression = expression
    }

    deinit { cbowman_bpf_free(filter) }

    /// Whether the frame (its captured bytes and its length on the wire) matches.
    public func matches(_ bytes: UnsafeRawBufferPointer, wireLength: Int) -> Bool {
        guard let base = bytes.baseAddress else { return false }
        return cbowman_bpf_matches(filter, base.assumingMemoryBound(to: UInt8.self), UInt32(bytes.count), UInt32(wireLength)) != 0
    }
}
