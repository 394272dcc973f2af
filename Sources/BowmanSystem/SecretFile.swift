import Glibc

/// A secret kept in a file only its owner can read (the Hal console's).
public enum SecretFile {
    public struct Refused: Error, Equatable, Sendable, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }

    /// The secret: the file's first line, without its line end. Refused
    /// when the file is not a regular file owned by root or by this
    /// process's user, when group or others may read or write it (mode
    /// must be 0600 or 0400), or when the secret is shorter than 12 bytes
    /// or holds spaces or control bytes.
    public static func read(_ path: String) throws(Refused) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw Refused("secret file \(path): \(Errno.current)") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Refused("secret file \(path): fstat: \(Errno.current)") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw Refused("secret file \(path) is not a regular file") }
        guard st.st_uid == 0 || st.st_uid == geteuid() else {
            throw Refused("secret file \(path) belongs to uid \(st.st_uid), not root or this process's user")
        }
        let mode = st.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw Refused("secret file \(path) has mode \(String(mode, radix: 8)): group and others must have no access (chmod 600 \(path))")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while bytes.count < 4096 {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += chunk[..<n]
        }
        let line = Array(bytes.prefix { $0 != 0x0A && $0 != 0x0D })
        guard line.count >= 12 else { throw Refused("secret file \(path): the secret is shorter than 12 bytes") }
        guard line.count <= 512 else { throw Refused("secret file \(path): the secret is longer than 512 bytes") }
        guard line.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else { throw Refused("secret file \(path): the secret holds spaces or control bytes") }
        return line
    }
}
