import BowmanCore

/// Writes frames described by a `FrameSpec`, with lengths and checksums
/// filled in. Control-plane and test code: it is not on the per-packet path
/// (generators build a template once and copy it).
public enum PacketBuilder {
    public enum Error: Swift.Error, Equatable, CustomStringConvertible {
        case bufferTooSmall(needed: Int, available: Int)
        case tooLong(Int)
        case badOptions(String)
        public var description: String {
            switch self {
            case .bufferTooSmall(let n, let a): "frame needs \(n) bytes, buffer has \(a)"
            case .tooLong(let n): "IP datagram of \(n) bytes exceeds 65535"
            case .badOptions(let s): s
            }
        }
    }

    /// Bytes the frame will take.
    public static func length(of spec: FrameSpec) -> Int {
        var n = 14 + 4 * spec.vlanTags.count
        switch spec.network {
        case .none: break
        case .arp: n += 28
        case .ipv4(let v4): n += 20 + paddedIPv4Options(v4.options).count
        case .ipv6(let v6): n += 40 + v6.extensionHeaders.reduce(0) { $0 + extensionBytes($1).count }
        }
        return n + transportHeaderLength(spec.transport) + spec.payload.count
    }

    /// A new array holding the frame.
    public static func bytes(_ spec: FrameSpec) throws(Error) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length(of: spec))
        var result: Result<Int, Error> = .success(0)
        out.withUnsafeMutableBytes { buf in
            do throws(Error) { result = .success(try build(spec, into: buf)) } catch { result = .failure(error) }
        }
        _ = try result.get()
        return out
    }

    /// Bytes of the transport header the spec describes (before the payload).
    public static func transportHeaderLength(_ t: FrameSpec.Transport) -> Int {
        switch t {
        case .none: 0
        case .udp: 8
        case .tcp: 20
        case .echo: 8
        case .icmp(_, _, let body): 4 + body.count
        case .igmp(_, _, _, let extra): 8 + extra.count
        }
    }

    static func paddedIPv4Options(_ o: [UInt8]) -> [UInt8] {
        o + [UInt8](repeating: 0, count: (4 - o.count % 4) % 4)
    }

    static func paddedOptions(_ o: [UInt8]) -> [UInt8] {
        let pad = (8 - (o.count + 2) % 8) % 8
        if pad == 0 { return o }
        if pad == 1 { return o + [0] }                     // Pad1
        return o + [1, UInt8(pad - 2)] + [UInt8](repeating: 0, count: pad - 2)   // PadN
    }

    /// Body of an extension header without the next-header byte (filled later).
    static func extensionBytes(_ e: FrameSpec.ExtensionHeader) -> [UInt8] {
        switch e {
        case .hopByHop(let o), .destinationOptions(let o):
            let body = paddedOptions(o)
            return [0, UInt8((body.count + 2) / 8 - 1)] + body
        case .routing(let type, let left, let addrs):
            var b: [UInt8] = [0, UInt8(addrs.count * 2), type, left, 0, 0, 0, 0]
            for a in addrs {
                var w = [UInt8](repeating: 0, count: 16)
                w.withUnsafeMutableBytes { a.store(to: $0, at: 0) }
                b += w
            }
            return b
        case .fragment(let off, let more, let id):
            let f = off << 3 | (more ? 1 : 0)
            return [0, 0, UInt8(f >> 8), UInt8(f & 0xFF),
                    UInt8(id >> 24), UInt8(id >> 16 & 0xFF), UInt8(id >> 8 & 0xFF), UInt8(id & 0xFF)]
        }
    }

    static func protocolNumber(_ t: FrameSpec.Transport, v6: Bool) -> UInt8 {
        switch t {
        case .none(let p): p
        case .udp: IPProtocol.udp
        case .tcp: IPProtocol.tcp
        case .echo, .icmp: v6 ? IPProtocol.icmpv6 : IPProtocol.icmp
        case .igmp: IPProtocol.igmp
        }
    }

    /// Writes the frame at the start of `buf`; returns its length.
    @discardableResult
    public static func build(_ spec: FrameSpec, into buf: UnsafeMutableRawBufferPointer) throws(Error) -> Int {
        let total = length(of: spec)
        guard buf.count >= total else { throw .bufferTooSmall(needed: total, available: buf.count) }
        for i in 0..<total { buf[i] = 0 }
        func put16(_ v: UInt16, _ o: Int) { buf.storeBytes(of: v.bigEndian, toByteOffset: o, as: UInt16.self) }
        func put32(_ v: UInt32, _ o: Int) { buf.storeBytes(of: v.bigEndian, toByteOffset: o, as: UInt32.self) }

        spec.destination.store(to: buf, at: 0)
        spec.source.store(to: buf, at: 6)
        var off = 12
        for (k, tci) in spec.vlanTags.enumerated() {
            put16(k == 0 && spec.vlanTags.count > 1 ? EtherType.qinq : EtherType.vlan, off)
            put16(tci, off + 2)
            off += 4
        }
        let l3 = off + 2
        var l4 = l3
        var v6 = false
        switch spec.network {
        case .none(let t):
            put16(t, off)
        case .arp(let op, let sha, let spa, let tha, let tpa):
            put16(EtherType.arp, off)
            put16(1, l3); put16(EtherType.ipv4, l3 + 2); buf[l3 + 4] = 6; buf[l3 + 5] = 4; put16(op, l3 + 6)
            sha.store(to: buf, at: l3 + 8); spa.store(to: buf, at: l3 + 14)
            tha.store(to: buf, at: l3 + 18); tpa.store(to: buf, at: l3 + 24)
            l4 = l3 + 28
        case .ipv4(let s):
            put16(EtherType.ipv4, off)
            let opts = paddedIPv4Options(s.options)
            guard opts.count <= 40 else { throw .badOptions("IPv4 options of \(opts.count) bytes exceed 40") }
            let ihl = 20 + opts.count
            let datagram = total - l3
            guard datagram <= 65535 else { throw .tooLong(datagram) }
            buf[l3] = 0x40 | UInt8(ihl / 4)
            buf[l3 + 1] = s.tos
            put16(UInt16(datagram), l3 + 2)
            put16(s.identification, l3 + 4)
            put16((s.dontFragment ? 0x4000 : 0) | (s.moreFragments ? 0x2000 : 0) | (s.fragmentOffset & 0x1FFF), l3 + 6)
            buf[l3 + 8] = s.ttl
            buf[l3 + 9] = protocolNumber(spec.transport, v6: false)
            s.source.store(to: buf, at: l3 + 12)
            s.destination.store(to: buf, at: l3 + 16)
            for (i, b) in opts.enumerated() { buf[l3 + 20 + i] = b }
            put16(Checksum.internet(UnsafeRawBufferPointer(rebasing: buf[l3..<(l3 + ihl)])), l3 + 10)
            l4 = l3 + ihl
        case .ipv6(let s):
            v6 = true
            put16(EtherType.ipv6, off)
            let payload = total - l3 - 40
            guard payload <= 65535 else { throw .tooLong(payload) }
            put32(6 << 28 | UInt32(s.trafficClass) << 20 | (s.flowLabel & 0xFFFFF), l3)
            put16(UInt16(payload), l3 + 4)
            buf[l3 + 7] = s.hopLimit
            s.source.store(to: buf, at: l3 + 8)
            s.destination.store(to: buf, at: l3 + 24)
            var nextField = l3 + 6
            var cur = l3 + 40
            for e in s.extensionHeaders {
                let code: UInt8 = switch e {
                case .hopByHop: IPProtocol.hopByHop
                case .destinationOptions: IPProtocol.destinationOptions
                case .routing: IPProtocol.routing
                case .fragment: IPProtocol.fragment
                }
                buf[nextField] = code
                let bytes = extensionBytes(e)
                for (i, b) in bytes.enumerated() { buf[cur + i] = b }
                nextField = cur
                cur += bytes.count
            }
            buf[nextField] = protocolNumber(spec.transport, v6: true)
            l4 = cur
        }

        let payloadStart = l4 + transportHeaderLength(spec.transport)
        for (i, b) in spec.payload.enumerated() { buf[payloadStart + i] = b }
        let segment = total - l4
        switch spec.transport {
        case .none: break
        case .udp(let sp, let dp):
            put16(sp, l4); put16(dp, l4 + 2); put16(UInt16(truncatingIfNeeded: segment), l4 + 4)
        case .tcp(let sp, let dp, let seq, let ack, let flags, let win):
            put16(sp, l4); put16(dp, l4 + 2); put32(seq, l4 + 4); put32(ack, l4 + 8)
            buf[l4 + 12] = 5 << 4; buf[l4 + 13] = flags; put16(win, l4 + 14)
        case .echo(let id, let seq, let reply):
            buf[l4] = v6 ? (reply ? 129 : 128) : (reply ? 0 : 8)
            put16(id, l4 + 4); put16(seq, l4 + 6)
        case .icmp(let type, let code, let body):
            buf[l4] = type; buf[l4 + 1] = code
            for (i, b) in body.enumerated() { buf[l4 + 4 + i] = b }
        case .igmp(let type, let maxResp, let group, let extra):
            buf[l4] = type; buf[l4 + 1] = maxResp
            group.store(to: buf, at: l4 + 4)
            for (i, b) in extra.enumerated() { buf[l4 + 8 + i] = b }
        }
        // Transport checksum over the finished frame.
        if case .none = spec.transport {} else {
            var m = PacketMetadata()
            let ro = UnsafeRawBufferPointer(rebasing: buf[0..<total])
            if (try? PacketParser.parse(ethernet: ro, into: &m)) != nil,
               let field = Checksum.fieldOffset(protocol: m.l4Protocol), !m.flags.contains(.fragment) {
                var s = Checksum.sum(ro, from: l4, to: total)
                if m.l4Protocol != IPProtocol.icmp && m.l4Protocol != IPProtocol.igmp { s &+= Checksum.pseudoHeaderSum(ro, m, length: segment) }
                var c = ~Checksum.fold(s)
                if c == 0 && m.l4Protocol == IPProtocol.udp { c = 0xFFFF }
                put16(c, l4 + field)
            }
        }
        return total
    }
}
