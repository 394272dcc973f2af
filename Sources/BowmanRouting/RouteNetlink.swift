import BowmanCore

/// rtnetlink (NETLINK_ROUTE) messages as bytes: the requests Bowman sends
/// to dump the kernel's routes and neighbours, and a decoder for what the
/// kernel sends back and multicasts (RTM_NEWROUTE/DELROUTE,
/// RTM_NEWNEIGH/DELNEIGH, NLMSG_DONE, NLMSG_ERROR). Layouts from
/// linux/netlink.h, linux/rtnetlink.h and linux/neighbour.h; host byte
/// order, 4-byte alignment. A message that is cut or whose attributes run
/// past it is refused with the byte offset and the field.
public enum RouteNetlink {
    // Message types and flags.
    public static let done: UInt16 = 3, error: UInt16 = 2
    public static let newRoute: UInt16 = 24, delRoute: UInt16 = 25, getRoute: UInt16 = 26
    public static let newNeighbour: UInt16 = 28, delNeighbour: UInt16 = 29, getNeighbour: UInt16 = 30
    public static let flagRequest: UInt16 = 0x1, flagMulti: UInt16 = 0x2, flagDump: UInt16 = 0x300, flagDumpInterrupted: UInt16 = 0x10
    // Multicast groups (RTMGRP_*), for bind(2).
    public static let groupNeighbour: UInt32 = 0x4, groupIPv4Route: UInt32 = 0x40, groupIPv6Route: UInt32 = 0x400
    // Route attributes.
    static let rtaDst: UInt16 = 1, rtaOIF: UInt16 = 4, rtaGateway: UInt16 = 5, rtaPriority: UInt16 = 6
    static let rtaMultipath: UInt16 = 9, rtaTable: UInt16 = 15, rtaVia: UInt16 = 18
    static let ndaDst: UInt16 = 1, ndaLLAddr: UInt16 = 2
    public static let familyV4: UInt8 = 2, familyV6: UInt8 = 10

    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public var offset: Int
        public var reason: String
        public var description: String { "netlink message at byte \(offset): \(reason)" }
    }

    /// One message of a datagram: its header fields and where its payload lies.
    public struct Message: Sendable, Equatable {
        public var type: UInt16, flags: UInt16, sequence: UInt32, port: UInt32
        public var payload: [UInt8]
    }

    public struct NextHop: Sendable, Hashable, CustomStringConvertible {
        public var gateway: IPAddress?
        public var interface: Int32
        /// ECMP weight (rtnh_hops + 1), 1 for a single next hop.
        public var weight: Int
        public init(gateway: IPAddress?, interface: Int32, weight: Int = 1) {
            self.gateway = gateway; self.interface = interface; self.weight = weight
        }
        public var description: String {
            (gateway.map { "via \($0) " } ?? "") + "dev \(interface)" + (weight == 1 ? "" : " weight \(weight)")
        }
    }

    /// The kinds of route (RTN_*) a router acts on; others are carried as `other`.
    public enum RouteType: Sendable, Hashable {
        case unicast, local, broadcast, blackhole, unreachable, prohibit, other(UInt8)
        init(_ v: UInt8) {
            switch v {
            case 1: self = .unicast
            case 2: self = .local
            case 3: self = .broadcast
            case 6: self = .blackhole
            case 7: self = .unreachable
            case 8: self = .prohibit
            default: self = .other(v)
            }
        }
    }

    public struct Route: Sendable, Hashable {
        public var prefix: IPPrefix
        public var table: UInt32
        public var type: RouteType
        public var protocolID: UInt8
        public var priority: UInt32
        public var nextHops: [NextHop]
        public init(prefix: IPPrefix, table: UInt32, type: RouteType, protocolID: UInt8, priority: UInt32, nextHops: [NextHop]) {
            self.prefix = prefix; self.table = table; self.type = type
            self.protocolID = protocolID; self.priority = priority; self.nextHops = nextHops
        }
    }

    public struct Neighbour: Sendable, Hashable {
        public var address: IPAddress
        public var interface: Int32
        public var mac: MACAddress?
        /// NUD_* bits (REACHABLE 0x02, STALE 0x04, FAILED 0x20, PERMANENT 0x80, ...).
        public var state: UInt16
        public var isUsable: Bool { mac != nil && state & 0x20 == 0 && state != 0 }
    }

    public enum Event: Sendable, Equatable {
        case addRoute(Route, replace: Bool)
        case deleteRoute(Route)
        case addNeighbour(Neighbour)
        case deleteNeighbour(Neighbour)
        case done(sequence: UInt32, interrupted: Bool)
        /// NLMSG_ERROR: 0 is an acknowledgement; otherwise a negative errno.
        case error(sequence: UInt32, code: Int32)
        /// A message of another type, or a route of a family Bowman does not route.
        case ignored(UInt16)
    }

    // MARK: Requests

    /// A dump request: RTM_GETROUTE or RTM_GETNEIGH for one family (0: all).
    public static func dumpRequest(_ type: UInt16, family: UInt8, sequence: UInt32) -> [UInt8] {
        var b = [UInt8]()
        put32(&b, 16 + 12)
        put16(&b, type)
        put16(&b, flagRequest | flagDump)
        put32(&b, sequence)
        put32(&b, 0)
        // rtmsg and ndmsg are both 12 bytes with the family first.
        b.append(family)
        b += [UInt8](repeating: 0, count: 11)
        return b
    }

    static func put16(_ b: inout [UInt8], _ v: UInt16) { withUnsafeBytes(of: v) { b += $0 } }
    static func put32(_ b: inout [UInt8], _ v: UInt32) { withUnsafeBytes(of: v) { b += $0 } }

    // MARK: Decoding

    static func load<T: FixedWidthInteger>(_ p: UnsafeRawBufferPointer, _ at: Int, as: T.Type) -> T {
        p.loadUnaligned(fromByteOffset: at, as: T.self)
    }

    /// Splits one datagram into its messages.
    public static func messages(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> [Message] {
        var out: [Message] = []
        var at = 0
        while at < bytes.count {
            guard bytes.count - at >= 16 else { throw Failure(offset: at, reason: "\(bytes.count - at) bytes left, a header needs 16") }
            let len = Int(load(bytes, at, as: UInt32.self))
            guard len >= 16 else { throw Failure(offset: at, reason: "nlmsg_len \(len) is shorter than its header") }
            guard len <= bytes.count - at else { throw Failure(offset: at, reason: "nlmsg_len \(len) runs past the datagram (\(bytes.count - at) bytes)") }
            out.append(Message(type: load(bytes, at + 4, as: UInt16.self), flags: load(bytes, at + 6, as: UInt16.self),
                               sequence: load(bytes, at + 8, as: UInt32.self), port: load(bytes, at + 12, as: UInt32.self),
                               payload: Array(bytes[(at + 16)..<(at + len)])))
            at += (len + 3) & ~3
        }
        return out
    }

    /// Attributes (type, value) from `start` to the end; `base` is the
    /// payload's offset in the datagram, for messages.
    static func attributes(_ p: UnsafeRawBufferPointer, from start: Int, base: Int, what: String) throws(Failure) -> [(UInt16, Range<Int>)] {
        var out: [(UInt16, Range<Int>)] = []
        var at = start
        while at + 4 <= p.count {
            let len = Int(load(p, at, as: UInt16.self)), type = load(p, at + 2, as: UInt16.self) & 0x3FFF
            guard len >= 4, at + len <= p.count else {
                throw Failure(offset: base + at, reason: "\(what) attribute \(type) has length \(len), \(p.count - at) bytes left")
            }
            out.append((type, (at + 4)..<(at + len)))
            at += (len + 3) & ~3
        }
        return out
    }

    static func address(_ p: UnsafeRawBufferPointer, _ r: Range<Int>, family: UInt8) -> IPAddress? {
        if family == familyV4, r.count == 4 {
            return .v4(IPv4Address(rawValue: UInt32(bigEndian: load(p, r.lowerBound, as: UInt32.self))))
        }
        if family == familyV6, r.count == 16 {
            return .v6(IPv6Address(high: UInt64(bigEndian: load(p, r.lowerBound, as: UInt64.self)),
                                   low: UInt64(bigEndian: load(p, r.lowerBound + 8, as: UInt64.self))))
        }
        return nil
    }

    /// Decodes one message. `base`: its offset in the datagram, for errors.
    public static func decode(_ m: Message, base: Int = 0) throws(Failure) -> Event {
        let payloadBase = base + 16
        switch m.type {
        case done:
            return .done(sequence: m.sequence, interrupted: m.flags & flagDumpInterrupted != 0)
        case error:
            guard m.payload.count >= 4 else { throw Failure(offset: payloadBase, reason: "NLMSG_ERROR without its error code") }
            let code = m.payload.withUnsafeBytes { load($0, 0, as: Int32.self) }
            return .error(sequence: m.sequence, code: code)
        case newRoute, delRoute:
            return try withPayload(m) { (p) throws(Failure) -> Event in
                guard p.count >= 12 else { throw Failure(offset: payloadBase, reason: "rtmsg needs 12 bytes, has \(p.count)") }
                let family = p[0], dstLen = Int(p[1])
                guard family == familyV4 || family == familyV6 else { return .ignored(m.type) }
                let width = family == familyV4 ? 32 : 128
                guard dstLen <= width else { throw Failure(offset: payloadBase + 1, reason: "rtm_dst_len \(dstLen) is longer than \(width)") }
                var table = UInt32(p[4])
                var dst: IPAddress = family == familyV4 ? .v4(IPv4Address(rawValue: 0)) : .v6(IPv6Address(high: 0, low: 0))
                var gateway: IPAddress?, oif: Int32 = 0, priority: UInt32 = 0
                var hops: [NextHop] = []
                for (t, r) in try attributes(p, from: 12, base: payloadBase, what: "route") {
                    switch t {
                    case rtaDst:
                        guard let a = address(p, r, family: family) else { throw Failure(offset: payloadBase + r.lowerBound, reason: "RTA_DST of \(r.count) bytes") }
                        dst = a
                    case rtaGateway:
                        guard let a = address(p, r, family: family) else { throw Failure(offset: payloadBase + r.lowerBound, reason: "RTA_GATEWAY of \(r.count) bytes") }
                        gateway = a
                    case rtaVia:
                        // struct rtvia: family (u16) then the address (IPv4 routes via IPv6 gateways).
                        guard r.count >= 2 else { throw Failure(offset: payloadBase + r.lowerBound, reason: "RTA_VIA of \(r.count) bytes") }
                        let f = UInt8(truncatingIfNeeded: load(p, r.lowerBound, as: UInt16.self))
                        gateway = address(p, (r.lowerBound + 2)..<r.upperBound, family: f)
                    case rtaOIF:
                        guard r.count == 4 else { throw Failure(offset: payloadBase + r.lowerBound, reason: "RTA_OIF of \(r.count) bytes") }
                        oif = load(p, r.lowerBound, as: Int32.self)
                    case rtaPriority:
                        guard r.count == 4 else { throw Failure(offset: payloadBase + r.lowerBound, reason: "RTA_PRIORITY of \(r.count) bytes") }
                        priority = load(p, r.lowerBound, as: UInt32.self)
                    case rtaTable:
                        guard r.count == 4 else { throw Failure(offset: payloadBase + r.lowerBound, reason: "RTA_TABLE of \(r.count) bytes") }
                        table = load(p, r.lowerBound, as: UInt32.self)
                    case rtaMultipath:
                        hops = try multipath(p, r, family: family, base: payloadBase)
                    default: break
                    }
                }
                if hops.isEmpty, gateway != nil || oif != 0 { hops = [NextHop(gateway: gateway, interface: oif)] }
                let route = Route(prefix: IPPrefix(address: dst, length: dstLen)!, table: table, type: RouteType(p[7]),
                                  protocolID: p[5], priority: priority, nextHops: hops)
                return m.type == newRoute ? .addRoute(route, replace: m.flags & 0x100 != 0) : .deleteRoute(route)
            }
        case newNeighbour, delNeighbour:
            return try withPayload(m) { (p) throws(Failure) -> Event in
                guard p.count >= 12 else { throw Failure(offset: payloadBase, reason: "ndmsg needs 12 bytes, has \(p.count)") }
                let family = p[0]
                guard family == familyV4 || family == familyV6 else { return .ignored(m.type) }
                let ifindex = load(p, 4, as: Int32.self), state = load(p, 8, as: UInt16.self)
                var dst: IPAddress?, mac: MACAddress?
                for (t, r) in try attributes(p, from: 12, base: payloadBase, what: "neighbour") {
                    if t == ndaDst {
                        guard let a = address(p, r, family: family) else { throw Failure(offset: payloadBase + r.lowerBound, reason: "NDA_DST of \(r.count) bytes") }
                        dst = a
                    } else if t == ndaLLAddr, r.count == 6 {
                        mac = MACAddress(loadingFrom: p, at: r.lowerBound)
                    }
                }
                guard let dst else { throw Failure(offset: payloadBase, reason: "a neighbour without NDA_DST") }
                let n = Neighbour(address: dst, interface: ifindex, mac: mac, state: state)
                return m.type == newNeighbour ? .addNeighbour(n) : .deleteNeighbour(n)
            }
        default:
            return .ignored(m.type)
        }
    }

    /// Runs `body` over a message's payload bytes, keeping the typed error.
    static func withPayload(_ m: Message, _ body: (UnsafeRawBufferPointer) throws(Failure) -> Event) throws(Failure) -> Event {
        let r = m.payload.withUnsafeBytes { p in Result { () throws(Failure) -> Event in try body(p) } }
        return try r.get()
    }

    /// RTA_MULTIPATH: a list of struct rtnexthop (len u16, flags u8, hops u8,
    /// ifindex i32) each followed by its own attributes.
    static func multipath(_ p: UnsafeRawBufferPointer, _ r: Range<Int>, family: UInt8, base: Int) throws(Failure) -> [NextHop] {
        var out: [NextHop] = []
        var at = r.lowerBound
        while at + 8 <= r.upperBound {
            let len = Int(load(p, at, as: UInt16.self))
            guard len >= 8, at + len <= r.upperBound else {
                throw Failure(offset: base + at, reason: "rtnexthop of length \(len), \(r.upperBound - at) bytes left in RTA_MULTIPATH")
            }
            let weight = Int(p[at + 3]) + 1, ifindex = load(p, at + 4, as: Int32.self)
            var gateway: IPAddress?
            let sub = UnsafeRawBufferPointer(rebasing: p[(at + 8)..<(at + len)])
            for (t, sr) in try attributes(sub, from: 0, base: base + at + 8, what: "next hop") {
                if t == rtaGateway { gateway = address(sub, sr, family: family) }
                if t == rtaVia, sr.count >= 2 {
                    let f = UInt8(truncatingIfNeeded: load(sub, sr.lowerBound, as: UInt16.self))
                    gateway = address(sub, (sr.lowerBound + 2)..<sr.upperBound, family: f)
                }
            }
            out.append(NextHop(gateway: gateway, interface: ifindex, weight: weight))
            at += (len + 3) & ~3
        }
        return out
    }

    /// Every event of one datagram, in order, with its message's sequence number.
    public static func sequencedEvents(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> [(event: Event, sequence: UInt32)] {
        var out: [(event: Event, sequence: UInt32)] = []
        var at = 0
        for m in try messages(bytes) {
            out.append((try decode(m, base: at), m.sequence))
            at += (16 + m.payload.count + 3) & ~3
        }
        return out
    }

    /// Every event of one datagram, in order.
    public static func events(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> [Event] {
        try sequencedEvents(bytes).map(\.event)
    }
}
