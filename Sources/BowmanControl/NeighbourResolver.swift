import BowmanCore
import BowmanPacket

/// Next-hop resolution on the management core (the seed's "ARP service",
/// and its IPv6 twin, Neighbour Discovery), sans-I/O: a query for an
/// address answers at once from the table, or sends a request and waits;
/// queries for an address already being resolved wait together, the
/// request is repeated every `retransmit` and after `timeout` (3 s, as the
/// seed says) every waiter is told it failed. Entries are kept without a
/// time limit (as the seed's) and refreshed whenever the address is seen
/// with a MAC in traffic (ARP requests and replies, NS, NA).
public struct NeighbourResolver: Sendable {
    public struct Key: Hashable, Sendable {
        public var interface: Int32
        public var address: IPAddress
        public init(interface: Int32, address: IPAddress) { self.interface = interface; self.address = address }
    }
    public struct Entry: Sendable, Equatable {
        public var mac: MACAddress
        /// When it was last confirmed (ms).
        public var seen: UInt64
    }
    struct Pending: Sendable {
        var started: UInt64, lastSent: UInt64
        var waiters: [Int]
    }

    public enum Action: Sendable, Equatable {
        /// Send an ARP request / neighbour solicitation for this address on this interface.
        case solicit(Key)
        case resolved(query: Int, Key, MACAddress)
        case failed(query: Int, Key)
    }

    public var timeout: UInt64 = 3_000
    public var retransmit: UInt64 = 1_000
    public private(set) var entries: [Key: Entry] = [:]
    var pending: [Key: Pending] = [:]

    public init() {}

    public func lookup(_ k: Key) -> MACAddress? { entries[k]?.mac }

    /// Asks for `k`'s MAC on behalf of query `id`.
    public mutating func query(_ k: Key, id: Int, now: UInt64) -> [Action] {
        if let e = entries[k] { return [.resolved(query: id, k, e.mac)] }
        if pending[k] != nil {
            pending[k]!.waiters.append(id)
            return []
        }
        pending[k] = Pending(started: now, lastSent: now, waiters: [id])
        return [.solicit(k)]
    }

    /// `k` was seen at `mac` (a reply, or any ARP/ND packet that carries it).
    public mutating func learn(_ k: Key, mac: MACAddress, now: UInt64) -> [Action] {
        entries[k] = Entry(mac: mac, seen: now)
        guard let p = pending.removeValue(forKey: k) else { return [] }
        return p.waiters.map { .resolved(query: $0, k, mac) }
    }

    /// Forgets an entry (the link went down, or the operator flushed it).
    public mutating func forget(_ k: Key) { entries[k] = nil }

    /// Retransmissions due and queries that timed out.
    public mutating func tick(now: UInt64) -> [Action] {
        var out: [Action] = []
        for (k, p) in pending.sorted(by: { $0.value.started < $1.value.started }) {
            if now >= p.started + timeout {
                pending[k] = nil
                out += p.waiters.map { .failed(query: $0, k) }
            } else if now >= p.lastSent + retransmit {
                pending[k]!.lastSent = now
                out.append(.solicit(k))
            }
        }
        return out
    }

    /// When `tick` next has something to do.
    public var nextDeadline: UInt64? {
        pending.values.map { min($0.started + timeout, $0.lastSent + retransmit) }.min()
    }

    public var pendingCount: Int { pending.count }
}

/// The frames of next-hop resolution: ARP requests (RFC 826) and neighbour
/// solicitations (RFC 4861 §7.2.2: to the solicited-node multicast group,
/// hop limit 255, with the source link-layer address), and what a received
/// ARP or ND packet tells about its sender or target.
public enum NeighbourFrames {
    /// The request for `target`, from an interface with `mac` and `source` (of the same family).
    public static func request(for target: IPAddress, mac: MACAddress, source: IPAddress) -> [UInt8]? {
        switch (target, source) {
        case (.v4(let t), .v4(let s)):
            let spec = FrameSpec(source: mac, destination: MACAddress(rawValue: 0xFFFF_FFFF_FFFF),
                                 network: .arp(operation: 1, senderMAC: mac, senderIP: s, targetMAC: MACAddress(rawValue: 0), targetIP: t))
            return try? PacketBuilder.bytes(spec)
        case (.v6(let t), .v6(let s)):
            // ff02::1:ffXX:XXXX and its MAC 33:33:ff:XX:XX:XX.
            let low24 = t.low & 0xFF_FFFF
            let group = IPv6Address(high: 0xFF02_0000_0000_0000, low: 0x0000_0001_FF00_0000 | low24)
            let dmac = MACAddress(rawValue: 0x3333_FF00_0000 | low24)
            var body = [UInt8](repeating: 0, count: 4)          // reserved
            withUnsafeBytes(of: t.high.bigEndian) { body += $0 }
            withUnsafeBytes(of: t.low.bigEndian) { body += $0 }
            body += [1, 1]                                       // source link-layer address, 8 bytes
            withUnsafeBytes(of: mac.rawValue.bigEndian) { body += $0.suffix(6) }
            let spec = FrameSpec(source: mac, destination: dmac,
                                 network: .ipv6(FrameSpec.IPv6Spec(source: s, destination: group, hopLimit: 255)),
                                 transport: .icmp(type: 135, code: 0, body: body))
            return try? PacketBuilder.bytes(spec)
        default:
            return nil
        }
    }

    /// (address, MAC) pairs a frame proves: an ARP packet's sender; an NS's
    /// source with its source link-layer option; an NA's target with its
    /// target link-layer option (or the frame's source MAC). Nothing for
    /// other frames, malformed ones, or hop limits other than 255.
    public static func learned(from frame: UnsafeRawBufferPointer) -> [(IPAddress, MACAddress)] {
        var m = PacketMetadata()
        guard (try? PacketParser.parse(ethernet: frame, into: &m)) != nil else { return [] }
        let l3 = Int(m.l3Offset)
        if m.etherType == EtherType.arp {
            guard let a = try? ARPHeader(frame, at: l3), let ip = a.senderIP, let mac = a.senderMAC, ip.rawValue != 0 else { return [] }
            return [(.v4(ip), mac)]
        }
        guard m.etherType == EtherType.ipv6, frame.count >= l3 + 40, frame[l3 + 7] == 255, frame[l3 + 6] == 58 else { return [] }
        let payload = Int(frame[l3 + 4]) << 8 | Int(frame[l3 + 5])
        guard let msg = try? ICMPv6Message(frame, at: l3 + 40, length: payload) else { return [] }
        let src = IPv6Address(loadingFrom: frame, at: l3 + 8)
        switch msg.body {
        case .neighborSolicitation(_, let options):
            guard src != IPv6Address(high: 0, low: 0), let mac = options.first(where: { $0.type == 1 })?.linkLayerAddress else { return [] }
            return [(.v6(src), mac)]
        case .neighborAdvertisement(let target, _, _, _, let options):
            let mac = options.first(where: { $0.type == 2 })?.linkLayerAddress ?? MACAddress(loadingFrom: frame, at: 6)
            return [(.v6(target), mac)]
        default:
            return []
        }
    }
}
