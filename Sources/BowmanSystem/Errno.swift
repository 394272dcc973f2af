import CBowmanLinux
import Glibc

/// A Linux error number, thrown by the typed syscall wrappers.
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    @inlinable public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's errno.
    @inlinable public static var current: Errno { Errno(cbowman_errno()) }

    public static let permissionDenied = Errno(EPERM)
    public static let noSuchDevice = Errno(ENODEV)
    public static let busy = Errno(EBUSY)
    public static let wouldBlock = Errno(EAGAIN)
    public static let interrupted = Errno(EINTR)
    public static let invalid = Errno(EINVAL)
    public static let noEntry = Errno(ENOENT)
    public static let addressNotAvailable = Errno(EADDRNOTAVAIL)
    public static let inProgress = Errno(EINPROGRESS)
    public static let connectionRefused = Errno(ECONNREFUSED)
    public static let noBufferSpace = Errno(ENOBUFS)

    public var description: String {
        guard let s = strerror(rawValue) else { return "errno \(rawValue)" }
        return String(cString: s)
    }
}

/// Runs a syscall that returns -1 and sets errno, retrying on EINTR.
@inlinable
public func retryingEINTR<T: FixedWidthInteger>(_ body: () -> T) throws(Errno) -> T {
    while true {
        let r = body()
        if r != -1 { return r }
        let e = Errno.current
        if e == .interrupted { continue }
        throw e
    }
}
