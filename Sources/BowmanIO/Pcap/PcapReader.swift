import BowmanPacket
import CBowmanPcap
import Glibc

/// Reads pcap and pcapng files through libpcap, with nanosecond timestamps
/// whatever the file stores. The packet bytes handed to `next(_:)` are
/// libpcap's buffer and valid only during the call.
public struct PcapReader: ~Copyable {
    public enum Format: Sendable, Equatable { case pcap, pcapng }

    private let handle: OpaquePointer
    public let path: String
    public let linkType: LinkType
    public let snapshotLength: Int
    public let format: Format
    /// The resolution the file itself stores (pcapng: the usual microseconds
    /// unless its interface block says otherwise; reported as nanoseconds then).
    public let storedPrecision: TimestampPrecision
    /// Records read so far.
    public private(set) var count = 0

    public init(path: String) throws(PcapError) {
        // Look at the magic first: libpcap would also reject a non-capture,
        // but the magic tells us the stored precision for faithful rewriting.
        guard let f = fopen(path, "rb") else {
            throw PcapError(.open, path: path, String(cString: strerror(errno)))
        }
        var magic: UInt32 = 0
        let got = fread(&magic, 4, 1, f)
        fclose(f)
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard got == 1, let h = cbowman_pcap_open_offline(path, &errbuf) else {
            let msg = got == 1 ? cString(errbuf) : "file is shorter than a capture header"
            throw PcapError(.open, path: path, msg.isEmpty ? "not a capture file" : msg)
        }
        self.handle = h
        self.path = path
        self.linkType = LinkType(pcap_datalink(h))
        self.snapshotLength = Int(pcap_snapshot(h))
        switch magic {
        case 0xA1B2_C3D4, 0xD4C3_B2A1: format = .pcap; storedPrecision = .microseconds
        case 0xA1B2_3C4D, 0x4D3C_B2A1: format = .pcap; storedPrecision = .nanoseconds
        default: format = .pcapng; storedPrecision = .nanoseconds
        }
    }

    deinit { pcap_close(handle) }

    /// Calls `body` with the next record, or returns nil at end of file.
    public mutating func next<R>(_ body: (PcapTimestamp, Int, UnsafeRawBufferPointer) throws -> R) throws -> R? {
        var rec = cbowman_pcap_record()
        switch cbowman_pcap_next(handle, &rec) {
        case 1:
            count += 1
            let ts = PcapTimestamp(seconds: rec.seconds, nanoseconds: rec.subsecond)
            return try body(ts, Int(rec.len), UnsafeRawBufferPointer(start: rec.data, count: Int(rec.caplen)))
        case 0:
            return nil
        default:
            throw PcapError(.read, path: path, String(cString: pcap_geterr(handle)))
        }
    }

    /// Reads the next record into a copy.
    public mutating func nextPacket() throws(PcapError) -> PcapPacket? {
        do {
            return try next { ts, len, bytes in PcapPacket(timestamp: ts, wireLength: len, bytes: Array(bytes)) }
        } catch let e as PcapError { throw e } catch { throw PcapError(.read, path: path, "\(error)") }
    }

    /// Every remaining record, copied.
    public mutating func readAll() throws(PcapError) -> [PcapPacket] {
        var out: [PcapPacket] = []
        while let p = try nextPacket() { out.append(p) }
        return out
    }
}
