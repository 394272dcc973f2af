import BowmanControl
import BowmanCore
import BowmanSystem

/// A client of the Hal console (what `bowman ctl` and the tests use): it
/// connects, logs in, sends one command and reads the reply up to its
/// status line (`ok` or `error: ...`), never waiting longer than told.
public enum HalClient {
    public struct Answer: Equatable, Sendable {
        public var lines: [String]
        /// The reason after `error: `, nil when the reply was `ok`.
        public var error: String?
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }

    /// `ADDRESS:PORT` or `[IPV6]:PORT`.
    public static func parseAddress(_ text: String) -> SocketAddress? {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), let p = UInt16(rest.dropFirst()), let a = IPAddress(host) else { return nil }
            return SocketAddress(a, port: p)
        }
        let parts = text.split(separator: ":")
        guard parts.count == 2, let a = IPAddress(parts[0]), let p = UInt16(parts[1]) else { return nil }
        return SocketAddress(a, port: p)
    }

    public static func run(console: String, secret: [UInt8], command: String, timeoutMilliseconds: Int32 = 10_000) throws -> Answer {
        guard let address = parseAddress(console) else { throw Failure("'\(console)' is not ADDRESS:PORT") }
        let c = try Connection(address, timeout: timeoutMilliseconds)
        _ = try c.answer()                                   // the greeting
        let login = try c.ask("auth " + String(decoding: secret, as: UTF8.self))
        if let e = login.error { throw Failure("login refused: \(e)") }
        let a = try c.ask(command)
        c.send("quit")
        return a
    }

    /// One console connection, line by line.
    public final class Connection {
        let socket: TCPConnection
        let timeout: Int32
        var pending: [UInt8] = []

        public init(_ address: SocketAddress, timeout: Int32 = 10_000) throws {
            self.timeout = timeout
            socket = try TCPConnection(address.family)
            if try !socket.startConnect(to: address) {
                guard Poll.wait(for: socket.descriptor, writable: true, milliseconds: timeout) else { throw Failure("connect \(address): timed out") }
                if let e = socket.pendingError { throw Failure("connect \(address): \(e)") }
            }
        }

        public func send(_ line: String) {
            try? socket.writeAll(Array((line + "\r\n").utf8), timeout: timeout)
        }

        public func sendRaw(_ bytes: [UInt8]) throws { try socket.writeAll(bytes, timeout: timeout) }

        /// Sends a line and reads its reply.
        public func ask(_ line: String) throws -> Answer {
            send(line)
            return try answer()
        }

        /// Reads lines up to a status line.
        public func answer() throws -> Answer {
            var lines: [String] = []
            while true {
                var l = try readLine()
                while l.hasPrefix("hal> ") { l.removeFirst(5) }
                if l == "ok" { return Answer(lines: lines, error: nil) }
                if l.hasPrefix("error: ") { return Answer(lines: lines, error: String(l.dropFirst(7))) }
                lines.append(l)
            }
        }

        /// One line (without its CR LF); throws at end of stream or time-out.
        public func readLine() throws -> String {
            let deadline = SystemClock.monotonicMilliseconds + UInt64(timeout)
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                if let nl = pending.firstIndex(of: 0x0A) {
                    var line = Array(pending[..<nl])
                    pending.removeSubrange(...nl)
                    if line.last == 0x0D { line.removeLast() }
                    return String(decoding: line, as: UTF8.self)
                }
                let now = SystemClock.monotonicMilliseconds
                guard now < deadline else { throw Failure("no answer within \(timeout) ms") }
                _ = Poll.wait(for: socket.descriptor, milliseconds: Int32(deadline - now))
                let n = try buf.withUnsafeMutableBytes { try socket.read(into: $0) }
                guard let n else { continue }
                guard n > 0 else { throw Failure("the console closed the connection" + (pending.isEmpty ? "" : " after '\(String(decoding: pending, as: UTF8.self))'")) }
                pending += buf[..<n]
            }
        }

        /// Whether the server has closed (reads to end of stream within the time-out).
        public func waitClosed() -> Bool {
            let deadline = SystemClock.monotonicMilliseconds + UInt64(timeout)
            var buf = [UInt8](repeating: 0, count: 4096)
            while SystemClock.monotonicMilliseconds < deadline {
                _ = Poll.wait(for: socket.descriptor, milliseconds: 100)
                do {
                    guard let n = try buf.withUnsafeMutableBytes({ try socket.read(into: $0) }) else { continue }
                    if n == 0 { return true }
                    pending += buf[..<n]
                } catch {
                    return true
                }
            }
            return false
        }

        public func close() { socket.close() }
    }
}
