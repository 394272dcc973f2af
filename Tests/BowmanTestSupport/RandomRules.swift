import BowmanCore
import BowmanPacket

// Rule-set and packet generators for the classifier's differential tests:
// rules in Odyssey's filter language and packets that often hit them.

/// Random filters over ethernet/ip/udp/tcp with prefixes, ranges, masks
/// (contiguous and not), and random packets that often hit them.
public struct RandomRules {
    public var rng: SeededRandom
    public let nets: [IPv4Address]

    public init(seed: UInt64) {
        rng = SeededRandom(seed: seed)
        var r = SeededRandom(seed: seed ^ 0xABCD)
        nets = (0..<8).map { _ in IPv4Address(rawValue: UInt32.random(in: 0...UInt32.max, using: &r)) }
    }

    public mutating func filter() -> String {
        var ip = ""
        if Bool.random(using: &rng) {
            let len = Int.random(in: 0...32, using: &rng)
            ip += " (src = \(nets.randomElement(using: &rng)!)/\(len))"
        }
        if Int.random(in: 0..<3, using: &rng) == 0 { ip += " (dst = \(nets.randomElement(using: &rng)!)/\(Int.random(in: 8...32, using: &rng)))" }
        if Int.random(in: 0..<5, using: &rng) == 0 { ip += " (tos & 0x\(String(UInt8.random(in: 0...255, using: &rng), radix: 16)) = 0)" }
        let l4: String
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: l4 = ""
        case 1:
            let lo = UInt16.random(in: 0...2000, using: &rng)
            l4 = " | udp (dport in \(lo)..\(lo + UInt16.random(in: 0...500, using: &rng)))"
            ip += " (proto = 17)"
        default:
            l4 = " | tcp (sport = \(UInt16.random(in: 1000...1010, using: &rng)))" + (Bool.random(using: &rng) ? " (flags & 0x12 = 0x02)" : "")
            ip += " (proto = 6)"
        }
        let eth = Bool.random(using: &rng) ? " (proto = ETHERTYPE_IP)" : ""
        return "[ ethernet\(eth) | ip\(ip)\(l4) | * ]"
    }

    public mutating func packet() -> [UInt8] {
        let src = IPv4Address(rawValue: nets.randomElement(using: &rng)!.rawValue ^ UInt32.random(in: 0...0xFFF, using: &rng))
        let dst = IPv4Address(rawValue: nets.randomElement(using: &rng)!.rawValue ^ UInt32.random(in: 0...0xFF, using: &rng))
        var v4 = FrameSpec.IPv4Spec(source: src, destination: dst)
        v4.tos = UInt8.random(in: 0...255, using: &rng)
        if Int.random(in: 0..<4, using: &rng) == 0 { v4.options = [1, 1, 1, 1] }
        let t: FrameSpec.Transport = switch Int.random(in: 0..<3, using: &rng) {
        case 0: .udp(source: 1, destination: UInt16.random(in: 0...2600, using: &rng))
        case 1: .tcp(source: UInt16.random(in: 998...1012, using: &rng), destination: 80, sequence: 0, acknowledgment: 0,
                     flags: [0x02, 0x12, 0x10][Int.random(in: 0..<3, using: &rng)], window: 1)
        default: .echo(identifier: 1, sequence: 1, reply: false)
        }
        var f = try! PacketBuilder.bytes(FrameSpec(network: .ipv4(v4), transport: t))
        if Int.random(in: 0..<20, using: &rng) == 0 { f = Array(f[0..<Int.random(in: 0..<f.count, using: &rng)]) }   // truncated
        return f
    }
}

/// Random IPv6 filters and packets: prefixes on 16-byte addresses, next
/// header, UDP/TCP port ranges and exact ports, traffic-class masks.
public struct RandomRules6 {
    public var rng: SeededRandom
    public let nets: [IPv6Address]
    public init(seed: UInt64) {
        rng = SeededRandom(seed: seed)
        var r = SeededRandom(seed: seed ^ 0x6666)
        nets = (0..<6).map { _ in IPv6Address(high: 0xFD00_0000_0000_0000 | UInt64.random(in: 0...0xFFFF_FFFF, using: &r) << 16, low: UInt64.random(in: 0...UInt64.max, using: &r)) }
    }
    public mutating func filter() -> String {
        var ip = ""
        if Bool.random(using: &rng) { ip += " (src = \(nets.randomElement(using: &rng)!)/\(Int.random(in: 0...128, using: &rng)))" }
        if Bool.random(using: &rng) { ip += " (dst = \(nets.randomElement(using: &rng)!)/\(Int.random(in: 16...128, using: &rng)))" }
        if Int.random(in: 0..<4, using: &rng) == 0 { ip += " (vtcfl & 0x0ff00000 = 0x\(String(UInt32.random(in: 0...3, using: &rng) << 20, radix: 16)))" }
        var l4 = ""
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: break
        case 1:
            ip += " (proto = IPPROTO_UDP)"
            let lo = UInt16.random(in: 0...60000, using: &rng)
            l4 = " | udp (dport in \(lo)..\(lo &+ UInt16.random(in: 0...(65535 - lo), using: &rng)))"
        default:
            ip += " (proto = IPPROTO_TCP)"
            l4 = " | tcp (sport = \(UInt16.random(in: 1000...1003, using: &rng)))"
        }
        return "[ ethernet (proto = ETHERTYPE_IPV6) | ipv6\(ip)\(l4) | * ]"
    }
    public mutating func packet() -> [UInt8] {
        func near(_ a: IPv6Address) -> IPv6Address {
            IPv6Address(high: a.high ^ (Bool.random(using: &rng) ? 0 : UInt64.random(in: 0...0xFF, using: &rng)),
                        low: a.low ^ UInt64.random(in: 0...0xFFFF, using: &rng))
        }
        var v6 = FrameSpec.IPv6Spec(source: near(nets.randomElement(using: &rng)!), destination: near(nets.randomElement(using: &rng)!))
        v6.trafficClass = UInt8.random(in: 0...3, using: &rng) << 4
        let t: FrameSpec.Transport = switch Int.random(in: 0..<3, using: &rng) {
        case 0: .udp(source: 1, destination: UInt16.random(in: 0...65535, using: &rng))
        case 1: .tcp(source: UInt16.random(in: 999...1004, using: &rng), destination: 80, sequence: 0, acknowledgment: 0, flags: 0x10, window: 1)
        default: .echo(identifier: 1, sequence: 1, reply: false)
        }
        var f = try! PacketBuilder.bytes(FrameSpec(network: .ipv6(v6), transport: t))
        if Int.random(in: 0..<10, using: &rng) == 0 { f = Array(f[0..<Int.random(in: 0..<f.count, using: &rng)]) }
        return f
    }
}
