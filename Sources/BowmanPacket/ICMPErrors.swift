import BowmanCore

/// ICMP and ICMPv6 error messages a router sends about a packet it could
/// not forward (RFC 792, RFC 1812 §4.3, RFC 4443): built as whole Ethernet
/// frames back to the packet's sender, quoting as much of the packet as
/// fits in 576 bytes (IPv4, RFC 1812 §4.3.2.3) or 1280 (IPv6, RFC 4443
/// §2.4 (c)). Pure: bytes in, bytes out.
public enum ICMPErrors {
    public enum Kind: Sendable, Equatable, CaseIterable {
        /// TTL or hop limit exceeded in transit (v4 11/0, v6 3/0).
        case timeExceeded
        /// No route to the destination network (v4 3/0, v6 1/0).
        case noRoute
        /// The host could not be reached: an unreachable route, or its
        /// address did not resolve (v4 3/1, v6 1/3).
        case hostUnreachable
        /// Administratively prohibited (v4 3/13, v6 1/1).
        case prohibited
    }

    /// Why no error is sent (RFC 1812 §4.3.2.7, RFC 4443 §2.4 (e)).
    public enum Refusal: Error, Equatable, Sendable {
        case notIP, truncated, aboutAnICMPError, notTheFirstFragment, multicastOrBroadcast, badSource
    }

    /// The type and code for `kind` in `family` (4 or 6).
    public static func typeAndCode(_ kind: Kind, family: Int) -> (UInt8, UInt8) {
        switch (kind, family) {
        case (.timeExceeded, 4): (11, 0)
        case (.noRoute, 4): (3, 0)
        case (.hostUnreachable, 4): (3, 1)
        case (.prohibited, 4): (3, 13)
        case (.timeExceeded, _): (3, 0)
        case (.noRoute, _): (1, 0)
        case (.hostUnreachable, _): (1, 3)
        case (.prohibited, _): (1, 1)
        }
    }

    /// The error frame about `frame` (Ethernet, optionally behind VLAN
    /// tags, which are kept): from `source` (the router's address on the
    /// interface the packet came in by, of the packet's family) and `mac`,
    /// to the packet's source address and source MAC.
    public static func frame(about frame: UnsafeRawBufferPointer, kind: Kind, source: IPAddress, mac: MACAddress) throws(Refusal) -> [UInt8] {
        var l3 = 14
        guard frame.count >= 14 else { throw .truncated }
        var type = UInt16(frame[12]) << 8 | UInt16(frame[13])
        while type == 0x8100 || type == 0x88A8 {
            guard frame.count >= l3 + 4 else { throw .truncated }
            type = UInt16(frame[l3 + 2]) << 8 | UInt16(frame[l3 + 3])
            l3 += 4
        }
        switch type {
        case 0x0800: return try v4(frame, l3: l3, kind: kind, source: source, mac: mac)
        case 0x86DD: return try v6(frame, l3: l3, kind: kind, source: source, mac: mac)
        default: throw .notIP
        }
    }

    static func ethernet(_ frame: UnsafeRawBufferPointer, l3: Int, mac: MACAddress, into out: inout [UInt8]) {
        out.append(contentsOf: frame[6..<12])      // back to the sender
        out.append(contentsOf: mac.octets)
        out.append(contentsOf: frame[12..<l3])     // tags and EtherType as they came
    }

    static func v4(_ f: UnsafeRawBufferPointer, l3: Int, kind: Kind, source: IPAddress, mac: MACAddress) throws(Refusal) -> [UInt8] {
        guard case .v4(let me) = source else { throw .badSource }
        guard f.count >= l3 + 20, f[l3] >> 4 == 4 else { throw .truncated }
        let ihl = Int(f[l3] & 0x0F) * 4
        guard ihl >= 20, f.count >= l3 + ihl else { throw .truncated }
        let src = IPv4Address(loadingFrom: f, at: l3 + 12), dst = IPv4Address(loadingFrom: f, at: l3 + 16)
        let fragment = UInt16(f[l3 + 6] & 0x1F) << 8 | UInt16(f[l3 + 7])
        guard fragment == 0 else { throw .notTheFirstFragment }
        guard dst.rawValue >> 28 != 0xE, dst.rawValue != 0xFFFF_FFFF else { throw .multicastOrBroadcast }
        guard src.rawValue != 0, src.rawValue >> 28 != 0xE, src.rawValue >> 24 != 127, src.rawValue != 0xFFFF_FFFF else { throw .badSource }
        if f[l3 + 9] == 1 {
            guard f.count >= l3 + ihl + 1 else { throw .truncated }
            if [3, 4, 5, 11, 12].contains(f[l3 + ihl]) { throw .aboutAnICMPError }
        }
        // The packet as it came (its own length field, not the frame's padding).
        let total = min(Int(f[l3 + 2]) << 8 | Int(f[l3 + 3]), f.count - l3)
        let quoted = min(max(total, ihl), 576 - 20 - 8)
        let (type, code) = typeAndCode(kind, family: 4)
        var out: [UInt8] = []
        out.reserveCapacity(l3 + 28 + quoted)
        ethernet(f, l3: l3, mac: mac, into: &out)
        let length = 20 + 8 + quoted
        out += [0x45, 0, UInt8(length >> 8), UInt8(length & 0xFF), 0, 0, 0, 0, 64, 1, 0, 0]
        out += [UInt8(me.rawValue >> 24), UInt8(me.rawValue >> 16 & 0xFF), UInt8(me.rawValue >> 8 & 0xFF), UInt8(me.rawValue & 0xFF)]
        out += f[(l3 + 12)..<(l3 + 16)]
        out += [type, code, 0, 0, 0, 0, 0, 0]
        out += f[l3..<(l3 + quoted)]
        out.withUnsafeMutableBytes { b in
            let r = UnsafeRawBufferPointer(b)
            let ip = ~Checksum.fold(Checksum.sum(r, from: l3, to: l3 + 20))
            b[l3 + 10] = UInt8(ip >> 8); b[l3 + 11] = UInt8(ip & 0xFF)
            let icmp = ~Checksum.fold(Checksum.sum(r, from: l3 + 20, to: r.count))
            b[l3 + 22] = UInt8(icmp >> 8); b[l3 + 23] = UInt8(icmp & 0xFF)
        }
        return out
    }

    static func v6(_ f: UnsafeRawBufferPointer, l3: Int, kind: Kind, source: IPAddress, mac: MACAddress) throws(Refusal) -> [UInt8] {
        guard case .v6(let me) = source else { throw .badSource }
        guard f.count >= l3 + 40, f[l3] >> 4 == 6 else { throw .truncated }
        let src = IPv6Address(loadingFrom: f, at: l3 + 8), dst = IPv6Address(loadingFrom: f, at: l3 + 24)
        guard dst.high >> 56 != 0xFF else { throw .multicastOrBroadcast }
        guard src.high >> 56 != 0xFF, src.high != 0 || src.low > 1 else { throw .badSource }
        // An ICMPv6 error right behind the fixed header is never answered
        // (behind extension headers it is not looked for: RFC 4443 asks
        // for the first, cheap, check).
        if f[l3 + 6] == 58 {
            guard f.count >= l3 + 41 else { throw .truncated }
            if f[l3 + 40] < 128 { throw .aboutAnICMPError }
        }
        let total = min(40 + (Int(f[l3 + 4]) << 8 | Int(f[l3 + 5])), f.count - l3)
        let quoted = min(total, 1280 - 40 - 8)
        let (type, code) = typeAndCode(kind, family: 6)
        var out: [UInt8] = []
        out.reserveCapacity(l3 + 48 + quoted)
        ethernet(f, l3: l3, mac: mac, into: &out)
        let payload = 8 + quoted
        out += [0x60, 0, 0, 0, UInt8(payload >> 8), UInt8(payload & 0xFF), 58, 64]
        let at = out.count
        out += [UInt8](repeating: 0, count: 16)
        out.withUnsafeMutableBytes { me.store(to: $0, at: at) }
        out += f[(l3 + 8)..<(l3 + 24)]
        out += [type, code, 0, 0, 0, 0, 0, 0]
        out += f[l3..<(l3 + quoted)]
        out.withUnsafeMutableBytes { b in
            let r = UnsafeRawBufferPointer(b)
            // Pseudo-header: both addresses, the upper-layer length, next header 58.
            var s = Checksum.sum(r, from: l3 + 8, to: l3 + 40)
            s &+= UInt64(payload) &+ 58
            let c = ~Checksum.fold(Checksum.sum(r, from: l3 + 40, to: r.count, initial: s))
            b[l3 + 42] = UInt8(c >> 8); b[l3 + 43] = UInt8(c & 0xFF)
        }
        return out
    }
}
