import Glibc

/// Writes to standard error with write(2), without C's `stderr` global
/// (not concurrency-safe in Swift 6). One call per line: lines from
/// several threads do not interleave.
public enum StandardError {
    public static func writeLine(_ s: String) {
        let line = s + "\n"
        _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
    }
}
