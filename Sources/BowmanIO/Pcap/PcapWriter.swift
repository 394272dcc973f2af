import BowmanPacket
import CBowmanPcap
import Glibc

/// Writes a classic pcap file through libpcap, with the link type,
/// snapshot length and timestamp precision you give (nanosecond precision
/// writes the 0xa1b23c4d magic, so timestamps round-trip exactly).
public struct PcapWriter: ~Copyable {
    private let dumper: OpaquePointer
    private let dead: OpaquePointer
    public let path: String
    public let linkType: LinkType
    public let precision: TimestampPrecision
    public private(set) var count = 0
    private var closed = false

    public init(path: String, linkType: LinkType, snapshotLength: Int = 262_144,
                precision: TimestampPrecision = .nanoseconds) throws(PcapError) {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        var deadOut: OpaquePointer?
        guard let d = cbowman_pcap_dump_open(path, linkType.rawValue, Int32(snapshotLength),
                                              precision == .nanoseconds ? 1 : 0, &deadOut, &errbuf),
              let deadHandle = deadOut else {
            throw PcapError(.open, path: path, cString(errbuf))
        }
        self.dumper = d
        self.dead = deadHandle
        self.path = path
        self.linkType = linkType
        self.precision = precision
    }

    /// Appends one packet. `wireLength` defaults to the captured length.
    /// A classic pcap record holds 32-bit seconds; a timestamp outside that
    /// range (possible in pcapng) is refused rather than silently wrapped.
    public mutating func write(_ bytes: UnsafeRawBufferPointer, timestamp: PcapTimestamp, wireLength: Int? = nil) throws(PcapError) {
        guard timestamp.seconds >= 0, timestamp.seconds <= Int64(UInt32.max) else {
            throw PcapError(.write, path: path, "timestamp \(timestamp) of packet \(count + 1) does not fit a pcap record (32-bit seconds)")
        }
        let sub = precision == .nanoseconds ? timestamp.nanoseconds : timestamp.nanoseconds / 1000
        cbowman_pcap_dump(dumper, timestamp.seconds, sub, UInt32(bytes.count), UInt32(wireLength ?? bytes.count),
                          bytes.baseAddress?.assumingMemoryBound(to: UInt8.self))
        count += 1
    }

    public mutating func write(_ packet: PcapPacket) throws(PcapError) {
        var failure: PcapError?
        packet.bytes.withUnsafeBytes { b in
            do throws(PcapError) { try write(b, timestamp: packet.timestamp, wireLength: packet.wireLength) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Flushes buffered records to the file.
    public func flush() throws(PcapError) {
        if pcap_dump_flush(dumper) != 0 { throw PcapError(.write, path: path, String(cString: strerror(errno))) }
    }

    /// Flushes and closes; also done by deinit.
    public consuming func close() throws(PcapError) {
        defer { closed = true }
        try flush()
    }

    deinit {
        pcap_dump_close(dumper)
        pcap_close(dead)
    }
}
