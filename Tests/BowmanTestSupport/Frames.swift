import BowmanCore
import BowmanPacket

/// The bytes of a frame built from a specification (valid by construction).
public func frame(_ spec: FrameSpec) -> [UInt8] { try! PacketBuilder.bytes(spec) }

/// A UDP/IPv4 frame from `src` to 198.18.1.2 (the benchmarking range).
public func udp(sport: UInt16, dport: UInt16 = 9, src: IPv4Address = IPv4Address(198, 18, 0, 1)) -> [UInt8] {
    frame(.udp4(from: src, to: IPv4Address(198, 18, 1, 2), sourcePort: sport, destinationPort: dport))
}
