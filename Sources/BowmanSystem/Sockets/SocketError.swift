/// A socket call that failed: which call, on what address, and the errno.
public struct SocketError: Error, Equatable, Sendable, CustomStringConvertible {
    public var operation: String
    public var address: SocketAddress?
    public var errno: Errno

    public init(_ operation: String, _ address: SocketAddress? = nil, _ errno: Errno = .current) {
        self.operation = operation
        self.address = address
        self.errno = errno
    }

    public var description: String {
        var s = operation
        if let address { s += " \(address)" }
        s += ": \(errno)"
        if errno == Errno.addressNotAvailable, case .v6(let a)? = address?.address, a.isLinkLocal {
            s += " (is the link-local address still tentative?)"
        }
        return s
    }
}
