/// Why an XDP or AF_XDP operation failed: one line an operator can act on.
public struct XDPError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// How an XDP program is attached (libxdp's `enum xdp_attach_mode`).
public enum XDPAttachMode: String, Sendable, CaseIterable, CustomStringConvertible {
    /// In the driver (veth, most NICs).
    case native
    /// Generic (SKB) mode: any interface, slower.
    case generic
    /// On the NIC itself, where it supports offload.
    case offload

    public var libxdpValue: Int32 {
        switch self { case .native: 1; case .generic: 2; case .offload: 3 }
    }
    public init?(libxdpValue: Int32) {
        switch libxdpValue { case 1: self = .native; case 2: self = .generic; case 3: self = .offload; default: return nil }
    }
    public var description: String { rawValue }
}
