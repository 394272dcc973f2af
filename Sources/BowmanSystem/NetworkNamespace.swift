import CBowmanLinux
import Glibc

/// Entering a named network namespace (`ip netns add NAME` creates
/// /run/netns/NAME). setns(2) affects only the calling thread, so a worker
/// thread can open its sockets inside a namespace while the rest of the
/// process stays where it was.
public enum NetworkNamespace {
    /// Moves the calling thread into the named namespace.
    public static func enter(_ name: String) throws(Errno) {
        let fd = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Errno.current }
        defer { close(fd) }
        // A thread that shares its fs attributes with others cannot setns
        // into some namespaces; network namespaces are fine, but unsharing
        // first keeps the call valid whatever the thread's history.
        _ = cbowman_unshare_fs()
        let rc = cbowman_setns_net(fd)
        if rc != 0 { throw Errno(rc) }
    }

    /// The calling thread's current namespace as a file descriptor, to come back to.
    public static func current() throws(Errno) -> Int32 {
        let fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Errno.current }
        return fd
    }

    /// Returns to a namespace saved with `current()` and closes the descriptor.
    public static func restore(_ fd: Int32) throws(Errno) {
        defer { close(fd) }
        let rc = cbowman_setns_net(fd)
        if rc != 0 { throw Errno(rc) }
    }

    /// The MAC address of `name` in the calling thread's namespace (six octets).
    public static func interfaceMAC(_ name: String) throws(Errno) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 6)
        let rc = out.withUnsafeMutableBufferPointer { cbowman_interface_mac(name, $0.baseAddress) }
        if rc != 0 { throw Errno(-rc) }
        return out
    }

    /// Interface index of `name` in the calling thread's namespace.
    public static func interfaceIndex(_ name: String) throws(Errno) -> Int32 {
        let i = if_nametoindex(name)
        guard i != 0 else { throw Errno.current == Errno(0) ? .noSuchDevice : Errno.current }
        return Int32(i)
    }
}
