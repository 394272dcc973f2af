import BowmanCBOR
import BowmanCore

/// GRASP (RFC 8990) message and option codes.
public enum GRASP {
    public static let port: UInt16 = 7017
    public static let allGraspNeighbors = IPv6Address("ff02::13")!

    public enum MessageType: UInt64, Sendable, CaseIterable {
        case noop = 0, discovery = 1, response = 2, requestNegotiation = 3, requestSynchronization = 4
        case negotiate = 5, end = 6, wait = 7, synch = 8, flood = 9, invalid = 99
        public var name: String {
            switch self {
            case .noop: "M_NOOP"
            case .discovery: "M_DISCOVERY"
            case .response: "M_RESPONSE"
            case .requestNegotiation: "M_REQ_NEG"
            case .requestSynchronization: "M_REQ_SYN"
            case .negotiate: "M_NEGOTIATE"
            case .end: "M_END"
            case .wait: "M_WAIT"
            case .synch: "M_SYNCH"
            case .flood: "M_FLOOD"
            case .invalid: "M_INVALID"
            }
        }
    }

    public enum OptionType: UInt64, Sendable {
        case divert = 100, accept = 101, decline = 102, ipv6Locator = 103, ipv4Locator = 104, fqdnLocator = 105, uriLocator = 106
    }
}

/// A GRASP objective: `[objective-name, objective-flags, loop-count, ?objective-value]`.
public struct GRASPObjective: Equatable, Sendable {
    public struct Flags: OptionSet, Equatable, Sendable {
        public var rawValue: UInt64
        public init(rawValue: UInt64) { self.rawValue = rawValue }
        /// F_DISC (bit 0), F_NEG (1), F_SYNCH (2), F_NEG_DRY (3).
        public static let discovery = Flags(rawValue: 1 << 0)
        public static let negotiation = Flags(rawValue: 1 << 1)
        public static let synchronization = Flags(rawValue: 1 << 2)
        public static let dryRun = Flags(rawValue: 1 << 3)
    }
    public var name: String
    public var flags: Flags
    public var loopCount: UInt8
    /// Absent and CBOR null are distinguished (absent: not sent).
    public var value: CBOR?

    public init(name: String, flags: Flags, loopCount: UInt8, value: CBOR? = nil) {
        self.name = name; self.flags = flags; self.loopCount = loopCount; self.value = value
    }
}

/// Where a service is reached: `[O_*_LOCATOR, address, transport-proto, port]`.
public enum GRASPLocator: Equatable, Sendable {
    case ipv6(IPv6Address, transport: UInt8, port: UInt16)
    case ipv4(IPv4Address, transport: UInt8, port: UInt16)
    case fqdn(String, transport: UInt8, port: UInt16)
    case uri(String, transport: UInt8?, port: UInt16?)
}

/// Options carried by GRASP messages.
public enum GRASPOption: Equatable, Sendable {
    case divert([GRASPLocator])
    case accept
    case decline(reason: String?)
    case locator(GRASPLocator)
}

/// A GRASP message (RFC 8990 §2.8). Session ids are 32-bit; times are milliseconds.
public enum GRASPMessage: Equatable, Sendable {
    case noop
    case discovery(session: UInt32, initiator: IPAddress, objective: GRASPObjective)
    /// `options` holds the locator options or one divert option.
    case response(session: UInt32, initiator: IPAddress, ttl: UInt32, options: [GRASPOption], objective: GRASPObjective?)
    case requestNegotiation(session: UInt32, objective: GRASPObjective)
    case requestSynchronization(session: UInt32, objective: GRASPObjective)
    case negotiate(session: UInt32, objective: GRASPObjective)
    /// `option` is `.accept` or `.decline`.
    case end(session: UInt32, option: GRASPOption)
    case wait(session: UInt32, waitingTime: UInt32)
    case synch(session: UInt32, objective: GRASPObjective)
    case flood(session: UInt32, initiator: IPAddress, ttl: UInt32, objectives: [(GRASPObjective, GRASPLocator?)])
    case invalid(session: UInt32, diagnostic: CBOR?)

    public var type: GRASP.MessageType {
        switch self {
        case .noop: .noop
        case .discovery: .discovery
        case .response: .response
        case .requestNegotiation: .requestNegotiation
        case .requestSynchronization: .requestSynchronization
        case .negotiate: .negotiate
        case .end: .end
        case .wait: .wait
        case .synch: .synch
        case .flood: .flood
        case .invalid: .invalid
        }
    }

    public static func == (a: GRASPMessage, b: GRASPMessage) -> Bool { a.cbor == b.cbor }

    /// The session id (every type but M_NOOP has one).
    public var session: UInt32? {
        switch self {
        case .noop: nil
        case .discovery(let s, _, _), .response(let s, _, _, _, _), .requestNegotiation(let s, _),
             .requestSynchronization(let s, _), .negotiate(let s, _), .end(let s, _), .wait(let s, _),
             .synch(let s, _), .flood(let s, _, _, _), .invalid(let s, _): s
        }
    }
}

/// A refused GRASP message: which message type and field, and why.
public struct GRASPError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ m: String) { message = m }
    public var description: String { "GRASP: \(message)" }
}

extension GRASPLocator: CustomStringConvertible {
    /// `[fe80::1]:7017/tcp`, `198.18.0.1:3359/udp`, `host.example:80/tcp`, a URI as is.
    public var description: String {
        func proto(_ t: UInt8?) -> String {
            switch t { case 6: "tcp"; case 17: "udp"; case nil: "-"; case let t?: "proto\(t)" }
        }
        switch self {
        case .ipv6(let a, let t, let p): return "[\(a)]:\(p)/\(proto(t))"
        case .ipv4(let a, let t, let p): return "\(a):\(p)/\(proto(t))"
        case .fqdn(let h, let t, let p): return "\(h):\(p)/\(proto(t))"
        case .uri(let u, _, _): return u
        }
    }
}
