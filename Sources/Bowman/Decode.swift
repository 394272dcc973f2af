import BowmanIO
import BowmanPacket

/// `bowman decode`: one line per packet of a capture file.
public enum Decode {
    public struct Totals: Sendable {
        public var packets = 0
        public var malformed = 0
        public var badChecksums = 0
    }

    /// Decodes every packet of `path`, handing each line to `emit`.
    /// Throws only when the file cannot be opened or read as a capture.
    public static func run(path: String, emit: (String) -> Void) throws(PcapError) -> Totals {
        var reader = try PcapReader(path: path)
        var totals = Totals()
        let linkType = reader.linkType
        do {
            while try reader.next({ (ts, wireLength, bytes) -> Void in
                totals.packets += 1
                let s = PacketDescription.describe(bytes, linkType: linkType, wireLength: wireLength)
                if s.error != nil { totals.malformed += 1 }
                if s.hasBadChecksum { totals.badChecksums += 1 }
                emit("\(totals.packets) \(ts) \(s.text)")
            }) != nil {}
        } catch let e as PcapError {
            throw e
        } catch {
            throw PcapError(.read, path: path, "\(error)")
        }
        return totals
    }
}
