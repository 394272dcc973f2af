import BowmanCore

/// A description of a frame to build: Ethernet, optional VLAN tags, an
/// L3 header and an L4 header with a payload. Built once (a template) by
/// `PacketBuilder`; the data path only copies and patches templates.
public struct FrameSpec: Sendable, Equatable {
    public var source: MACAddress
    public var destination: MACAddress
    /// Tag control information of each tag, outermost first; the outer
    /// tag of a two-tag stack is an 802.1ad S-tag.
    public var vlanTags: [UInt16]
    public var network: Network
    public var transport: Transport
    public var payload: [UInt8]

    public enum Network: Sendable, Equatable {
        /// No L3 header: `etherType` then the payload.
        case none(etherType: UInt16)
        case ipv4(IPv4Spec)
        case ipv6(IPv6Spec)
        /// An Ethernet/IPv4 ARP packet (RFC 826): opcode 1 request, 2 reply.
        case arp(operation: UInt16, senderMAC: MACAddress, senderIP: IPv4Address, targetMAC: MACAddress, targetIP: IPv4Address)
    }

    public enum Transport: Sendable, Equatable {
        case none(protocol: UInt8)
        case udp(source: UInt16, destination: UInt16)
        case tcp(source: UInt16, destination: UInt16, sequence: UInt32, acknowledgment: UInt32, flags: UInt8, window: UInt16)
        /// ICMP (v4) or ICMPv6 echo: request unless `reply`.
        case echo(identifier: UInt16, sequence: UInt16, reply: Bool)
        /// Any ICMP (v4) or ICMPv6 message: type, code, then `body` after the
        /// checksum (ND, MLD, errors); the checksum is filled in.
        case icmp(type: UInt8, code: UInt8, body: [UInt8])
        /// An IGMP message: type, max-response code, group, then `extra`
        /// (v3 query fields and sources, or v3 report records); checksum filled in.
        case igmp(type: UInt8, maxResponse: UInt8, group: IPv4Address, extra: [UInt8])
    }

    public struct IPv4Spec: Sendable, Equatable {
        public var source: IPv4Address
        public var destination: IPv4Address
        public var ttl: UInt8 = 64
        public var tos: UInt8 = 0
        public var identification: UInt16 = 0
        public var dontFragment = false
        public var moreFragments = false
        /// In 8-byte units.
        public var fragmentOffset: UInt16 = 0
        /// Raw option bytes, padded with EOL to a multiple of 4.
        public var options: [UInt8] = []
        public init(source: IPv4Address, destination: IPv4Address, ttl: UInt8 = 64) {
            self.source = source; self.destination = destination; self.ttl = ttl
        }
    }

    public struct IPv6Spec: Sendable, Equatable {
        public var source: IPv6Address
        public var destination: IPv6Address
        public var hopLimit: UInt8 = 64
        public var trafficClass: UInt8 = 0
        public var flowLabel: UInt32 = 0
        public var extensionHeaders: [ExtensionHeader] = []
        public init(source: IPv6Address, destination: IPv6Address, hopLimit: UInt8 = 64) {
            self.source = source; self.destination = destination; self.hopLimit = hopLimit
        }
    }

    public enum ExtensionHeader: Sendable, Equatable {
        /// Option TLV bytes; padded with PadN to a multiple of 8 with the 2-byte header.
        case hopByHop(options: [UInt8])
        case destinationOptions(options: [UInt8])
        case routing(type: UInt8, segmentsLeft: UInt8, addresses: [IPv6Address])
        case fragment(offset: UInt16, more: Bool, identification: UInt32)
    }

    public init(source: MACAddress = MACAddress(0x02, 0, 0, 0, 0, 1),
                destination: MACAddress = MACAddress(0x02, 0, 0, 0, 0, 2),
                vlanTags: [UInt16] = [], network: Network, transport: Transport = .none(protocol: 0),
                payload: [UInt8] = []) {
        self.source = source; self.destination = destination; self.vlanTags = vlanTags
        self.network = network; self.transport = transport; self.payload = payload
    }

    /// A UDP/IPv4 frame of exactly `frameLength` bytes (≥ 42), as traffic generators send.
    public static func udp4(from s: IPv4Address, to d: IPv4Address, sourcePort: UInt16 = 1024, destinationPort: UInt16 = 9,
                            frameLength: Int = 64, source: MACAddress = MACAddress(0x02, 0, 0, 0, 0, 1),
                            destination: MACAddress = MACAddress(0x02, 0, 0, 0, 0, 2)) -> FrameSpec {
        let pay = max(0, frameLength - 42)
        return FrameSpec(source: source, destination: destination, network: .ipv4(IPv4Spec(source: s, destination: d)),
                         transport: .udp(source: sourcePort, destination: destinationPort),
                         payload: (0..<pay).map { UInt8(truncatingIfNeeded: $0) })
    }

    /// A UDP/IPv6 frame of exactly `frameLength` bytes (≥ 62).
    public static func udp6(from s: IPv6Address, to d: IPv6Address, sourcePort: UInt16 = 1024, destinationPort: UInt16 = 9,
                            frameLength: Int = 78, source: MACAddress = MACAddress(0x02, 0, 0, 0, 0, 1),
                            destination: MACAddress = MACAddress(0x02, 0, 0, 0, 0, 2)) -> FrameSpec {
        let pay = max(0, frameLength - 62)
        return FrameSpec(source: source, destination: destination, network: .ipv6(IPv6Spec(source: s, destination: d)),
                         transport: .udp(source: sourcePort, destination: destinationPort),
                         payload: (0..<pay).map { UInt8(truncatingIfNeeded: $0) })
    }
}
