import Glibc

/// The running process: who it is and what it may do.
public enum CurrentProcess {
    public static var id: Int32 { getpid() }
    /// Effective user id 0 (the kernel interfaces of the data plane need
    /// CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF, which root holds).
    public static var isRoot: Bool { geteuid() == 0 }
}

/// Small files the node writes for other programs to read.
public enum SmallFile {
    /// Replaces `path` with `bytes`: a temporary written with plain
    /// open/write/close, then renamed over it (a reader never sees half a
    /// file; no fsync or extended attributes, which Foundation's writing
    /// adds at ~0.3 ms a time). False if any step failed.
    @discardableResult
    public static func replace(_ path: String, with bytes: [UInt8]) -> Bool {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        let ok = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count
        close(fd)
        return ok && rename(tmp, path) == 0
    }
}
