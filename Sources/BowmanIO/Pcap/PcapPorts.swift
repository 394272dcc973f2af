import BowmanPacket
import BowmanSystem

/// A capture file as an input port: each packet is copied into a pool frame
/// (truncated to the frame size, counted) at full speed or at the pace the
/// capture was recorded. After the last packet it receives nothing and
/// `isFinished` is true.
public struct PcapReplayPort: ~Copyable {
    var reader: PcapReader
    public let path: String
    public let recordedPace: Bool
    var firstStamp: PcapTimestamp?
    var startNanoseconds: UInt64 = 0
    /// A packet read into its frame but not yet due (recorded pace).
    var held: (index: UInt32, length: UInt32, stamp: PcapTimestamp)?
    public private(set) var isFinished = false
    public private(set) var packets: UInt64 = 0
    public private(set) var truncated: UInt64 = 0
    /// A read error ended the replay early (the message).
    public private(set) var readError: String?

    public init(path: String, recordedPace: Bool = false) throws(PcapError) {
        reader = try PcapReader(path: path)
        self.path = path
        self.recordedPace = recordedPace
    }

    public var linkType: LinkType { reader.linkType }

    func due(_ ts: PcapTimestamp, now: UInt64) -> Bool {
        guard recordedPace, let first = firstStamp else { return true }
        let offset = (ts.seconds - first.seconds) * 1_000_000_000 + Int64(ts.nanoseconds) - Int64(first.nanoseconds)
        return offset <= Int64(now &- startNanoseconds)
    }
}

extension PcapReplayPort: PacketPort {
    /// Each record is copied from libpcap's buffer straight into a pool
    /// frame: nothing is allocated per packet.
    public mutating func receive(into burst: inout Burst, pool: inout FramePool) -> Int {
        var n = 0
        let now = recordedPace ? SystemClock.monotonicNanoseconds : 0
        while !burst.isFull && !isFinished {
            if let h = held {
                if !due(h.stamp, now: now) { break }
                held = nil
                burst.append(index: h.index, length: h.length)
                packets += 1
                n += 1
                continue
            }
            guard let i = pool.allocateIndex() else { break }
            let frame = pool.buffer(index: i)
            let record: (stamp: PcapTimestamp, length: Int, cut: Bool)?
            do {
                record = try reader.next { ts, _, bytes in
                    let len = min(bytes.count, frame.count)
                    if len > 0 { frame.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: len) }
                    return (ts, len, len < bytes.count)
                }
            } catch {
                readError = (error as? PcapError)?.description ?? "\(error)"
                isFinished = true
                pool.release(index: i)
                break
            }
            guard let r = record else { isFinished = true; pool.release(index: i); break }
            if r.cut { truncated += 1 }
            if firstStamp == nil { firstStamp = r.stamp; startNanoseconds = now }
            if !due(r.stamp, now: now) { held = (i, UInt32(r.length), r.stamp); break }
            burst.append(index: i, length: UInt32(r.length))
            packets += 1
            n += 1
        }
        return n
    }
    public mutating func transmit(_ burst: inout Burst, pool: inout FramePool) -> Int { 0 }
    public mutating func service(pool: inout FramePool) {}
    public var pollDescriptor: Int32 { -1 }
    public mutating func close(returningFramesTo pool: inout FramePool) {
        if let h = held { pool.release(index: h.index); held = nil }
    }
    public var name: String { "pcap:\(path)" }
}

/// A pcap file as an output port: every transmitted packet is written with
/// the time it left (nanosecond precision) and its frame goes back to the pool.
public struct PcapCapturePort: ~Copyable {
    var writer: PcapWriter
    public let path: String
    public private(set) var packets: UInt64 = 0
    public private(set) var writeErrors: UInt64 = 0

    public init(path: String, linkType: LinkType = .ethernet) throws(PcapError) {
        writer = try PcapWriter(path: path, linkType: linkType, snapshotLength: 65535, precision: .nanoseconds)
        self.path = path
    }

    public func flush() throws(PcapError) { try writer.flush() }
}

extension PcapCapturePort: PacketPort {
    public mutating func receive(into burst: inout Burst, pool: inout FramePool) -> Int { 0 }
    public mutating func transmit(_ burst: inout Burst, pool: inout FramePool) -> Int {
        let n = burst.count
        let now = SystemClock.realtimeTimestamp
        for k in 0..<n {
            do throws(PcapError) {
                try writer.write(UnsafeRawBufferPointer(burst.packet(at: k, in: pool)), timestamp: now)
                packets += 1
            } catch { writeErrors += 1 }
            pool.release(index: burst.index(at: k))
        }
        burst.removeAll()
        return n
    }
    public mutating func service(pool: inout FramePool) {}
    public var pollDescriptor: Int32 { -1 }
    public mutating func close(returningFramesTo pool: inout FramePool) { try? writer.flush() }
    public var name: String { "pcap-out:\(path)" }
}
