import Foundation

/// Runs system tools (`ip`, `sysctl`) for the lab and the demo. Control
/// plane only; never on a worker.
public enum Shell {
    public struct Failure: Error, CustomStringConvertible {
        public var command: [String]
        public var status: Int32
        public var output: String
        public var description: String {
            "`\(command.joined(separator: " "))` exited with \(status): \(output.trimmingCharacters(in: .whitespacesAndNewlines))"
        }
    }

    /// Runs `argv` (looked up in PATH) and returns its standard output; throws
    /// with its combined output when it exits non-zero.
    @discardableResult
    public static func run(_ argv: [String]) throws -> String {
        let (status, text) = try status(argv)
        guard status == 0 else { throw Failure(command: argv, status: status, output: text) }
        return text
    }

    /// Runs `argv` (looked up in PATH) and returns its exit status and
    /// combined output, whatever the status.
    public static func status(_ argv: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
