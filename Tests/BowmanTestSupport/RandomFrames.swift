import BowmanCore
import BowmanPacket

/// Random but valid frame specifications for property tests.
public enum RandomFrames {
    public static func spec(_ rng: inout SeededRandom) -> FrameSpec {
        let vlans = (0..<Int.random(in: 0...2, using: &rng)).map { _ in UInt16.random(in: 0...0xFFFF, using: &rng) }
        let payload = (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let transport: FrameSpec.Transport = switch Int.random(in: 0..<4, using: &rng) {
        case 0: .udp(source: .random(in: 1...65535, using: &rng), destination: .random(in: 1...65535, using: &rng))
        case 1: .tcp(source: .random(in: 1...65535, using: &rng), destination: .random(in: 1...65535, using: &rng),
                     sequence: .random(in: 0...UInt32.max, using: &rng), acknowledgment: 0, flags: 0x02, window: 1024)
        case 2: .echo(identifier: .random(in: 0...65535, using: &rng), sequence: 1, reply: Bool.random(using: &rng))
        default: .none(protocol: 47)
        }
        if Bool.random(using: &rng) {
            var v4 = FrameSpec.IPv4Spec(source: IPv4Address(rawValue: .random(in: 0...UInt32.max, using: &rng)),
                                        destination: IPv4Address(rawValue: .random(in: 0...UInt32.max, using: &rng)),
                                        ttl: .random(in: 1...255, using: &rng))
            v4.tos = .random(in: 0...255, using: &rng)
            if Int.random(in: 0..<4, using: &rng) == 0 { v4.options = [1, 1, 1] }   // NOPs
            return FrameSpec(vlanTags: vlans, network: .ipv4(v4), transport: transport, payload: payload)
        }
        var v6 = FrameSpec.IPv6Spec(source: IPv6Address(high: .random(in: 0...UInt64.max, using: &rng), low: .random(in: 0...UInt64.max, using: &rng)),
                                    destination: IPv6Address(high: .random(in: 0...UInt64.max, using: &rng), low: 7),
                                    hopLimit: .random(in: 1...255, using: &rng))
        for _ in 0..<Int.random(in: 0...3, using: &rng) {
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: v6.extensionHeaders.append(.hopByHop(options: []))
            case 1: v6.extensionHeaders.append(.destinationOptions(options: [1, 2, 0, 0]))
            default: v6.extensionHeaders.append(.routing(type: 0, segmentsLeft: 1, addresses: [IPv6Address("fd00::99")!]))
            }
        }
        return FrameSpec(vlanTags: vlans, network: .ipv6(v6), transport: transport, payload: payload)
    }

}
