import Glibc

/// Small reads of /proc and /sys files (control plane only).
public enum SysFS {
    /// Whether this process may read `path` (access(2), nothing is read).
    public static func isReadable(_ path: String) -> Bool { Glibc.access(path, R_OK) == 0 }

    /// Reads a whole (small) file as UTF-8 text.
    public static func read(_ path: String) throws(Errno) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Errno.current }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if Errno.current == .interrupted { continue }; throw Errno.current }
            if n == 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Writes text to a file (sysctl, sysfs knobs).
    public static func write(_ path: String, _ text: String) throws(Errno) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Errno.current }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw Errno.current }
    }
}

extension String {
    /// The string without leading and trailing ASCII whitespace.
    public func trimmingWhitespace() -> String {
        let ws: Set<Character> = [" ", "\n", "\t", "\r"]
        var s = Substring(self)
        while let f = s.first, ws.contains(f) { s.removeFirst() }
        while let l = s.last, ws.contains(l) { s.removeLast() }
        return String(s)
    }
}
