/// One connection to the Hal console, sans I/O: bytes in, bytes out, a
/// clock. The protocol is Odyssey's (telnet to port 2001, `help`, `list`,
/// `show`, `quit`) with authentication in front: nothing but `auth`,
/// `help` and `quit` is served before `auth SECRET` succeeds. Every reply
/// is body lines and then one status line, `ok` or `error: REASON`, then
/// the prompt `hal> `; `bowman ctl` reads up to the status line.
///
/// What a hostile client gets: a line longer than `maxLine` bytes, or one
/// holding bytes that are not printable text, is refused (the connection
/// closes after a long line: its rest is not read as commands); a wrong
/// secret is answered only after `failureDelay` ms, during which nothing
/// else is read, and `maxFailures` of them close the connection; before
/// logging in the connection lives `loginTimeout` ms, after it
/// `idleTimeout` ms without a line and `sessionTimeout` in all.
public struct HalSession {
    public struct Limits: Sendable, Equatable {
        public var maxLine = 1024
        public var failureDelay: UInt64 = 1000
        public var maxFailures = 3
        public var loginTimeout: UInt64 = 30_000
        public var idleTimeout: UInt64 = 300_000
        public var sessionTimeout: UInt64 = 3_600_000
        /// Bytes of input kept while a reply is held back (more closes the connection).
        public var maxBuffered = 8192
        public init() {}
    }

    public typealias Output = StreamOutput

    public let limits: Limits
    public let opened: UInt64
    public private(set) var authenticated = false
    public private(set) var failures = 0
    public private(set) var lastInput: UInt64
    public private(set) var closed = false
    public private(set) var linesServed = 0
    /// Held back until this time (a wrong secret's delay); input waits.
    public private(set) var heldUntil: UInt64?
    var held: [Output] = []
    var buffer: [UInt8] = []
    /// The rest of an over-long line is being skipped.
    var skipping = false

    public init(limits: Limits = Limits(), now: UInt64) {
        self.limits = limits
        opened = now
        lastInput = now
    }

    /// The greeting a new connection gets.
    public func greeting(node: String, version: String) -> [Output] {
        [.send(Self.reply(["Hal on \(node) (bowman \(version)); log in with: auth SECRET"], ok: true))]
    }

    /// The earliest time `tick` has something to do.
    public var nextDeadline: UInt64? {
        if closed { return nil }
        let timeout = authenticated ? min(lastInput + limits.idleTimeout, opened + limits.sessionTimeout) : opened + limits.loginTimeout
        return heldUntil.map { min($0, timeout) } ?? timeout
    }

    /// Bytes from the client; `hal` answers the complete lines.
    public mutating func receive(_ bytes: some Collection<UInt8>, now: UInt64, hal: Hal) -> [Output] {
        guard !closed else { return [] }
        lastInput = now
        buffer.append(contentsOf: bytes)
        if buffer.count > limits.maxBuffered + limits.maxLine {
            closed = true
            return [.send(Self.reply([], ok: false, error: "too much input while a reply is held back")), .close("input flood")]
        }
        return serve(now: now, hal: hal)
    }

    /// Time passes: releases a held reply, closes idle and expired connections.
    public mutating func tick(now: UInt64, hal: Hal) -> [Output] {
        guard !closed else { return [] }
        var out: [Output] = []
        if let h = heldUntil, now >= h {
            heldUntil = nil
            out += held
            held = []
            if out.contains(where: { if case .close = $0 { true } else { false } }) { closed = true; return out }
            out += serve(now: now, hal: hal)
            if closed { return out }
        }
        if !authenticated && now >= opened + limits.loginTimeout {
            closed = true
            return out + [.send(Self.reply([], ok: false, error: "not logged in within \(limits.loginTimeout / 1000) s")), .close("login timeout")]
        }
        if authenticated && now >= lastInput + limits.idleTimeout {
            closed = true
            return out + [.send(Self.reply([], ok: false, error: "idle for \(limits.idleTimeout / 1000) s")), .close("idle")]
        }
        if authenticated && now >= opened + limits.sessionTimeout {
            closed = true
            return out + [.send(Self.reply([], ok: false, error: "session longer than \(limits.sessionTimeout / 1000) s")), .close("session timeout")]
        }
        return out
    }

    /// Answers complete lines until one must be held back or the input ends.
    mutating func serve(now: UInt64, hal: Hal) -> [Output] {
        var out: [Output] = []
        while heldUntil == nil, !closed {
            guard let nl = buffer.firstIndex(of: 0x0A) else {
                if buffer.count > limits.maxLine {
                    // Refuse a line that will not fit, once; then close: what
                    // follows is the rest of it, not commands.
                    closed = true
                    buffer.removeAll()
                    out += [.send(Self.reply([], ok: false, error: "line longer than \(limits.maxLine) bytes")), .close("long line")]
                }
                break
            }
            var line = Array(buffer[..<nl])
            buffer.removeSubrange(...nl)
            if line.last == 0x0D { line.removeLast() }
            if line.count > limits.maxLine {
                closed = true
                out += [.send(Self.reply([], ok: false, error: "line longer than \(limits.maxLine) bytes")), .close("long line")]
                break
            }
            if let bad = line.firstIndex(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
                // Telnet negotiation (IAC, 0xFF...) and binary junk are not commands.
                out.append(.send(Self.reply([], ok: false, error: "not a text line (byte 0x\(String(line[bad], radix: 16)) at column \(bad + 1))")))
                failures += authenticated ? 0 : 1
                if !authenticated && failures >= limits.maxFailures {
                    closed = true
                    out.append(.close("junk before login"))
                }
                continue
            }
            guard let text = String(validating: line, as: UTF8.self) else {
                out.append(.send(Self.reply([], ok: false, error: "not UTF-8 text")))
                continue
            }
            linesServed += 1
            out += execute(text, now: now, hal: hal)
        }
        return out
    }

    mutating func execute(_ text: String, now: UInt64, hal: Hal) -> [Output] {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = words.first else { return [.send(Array("hal> ".utf8))] }
        switch first {
        case "auth", "login":
            if authenticated { return [.send(Self.reply([], ok: true))] }
            guard words.count == 2, hal.secretMatches(Array(words[1].utf8)) else {
                failures += 1
                let last = failures >= limits.maxFailures
                let answer: [Output] = [.send(Self.reply([], ok: false, error: last ? "wrong secret; closing after \(failures) tries" : "wrong secret"))]
                    + (last ? [.close("too many failed logins")] : [])
                // Held back: nothing else is read from this client meanwhile.
                heldUntil = now + limits.failureDelay
                held = answer
                if limits.failureDelay == 0 {
                    heldUntil = nil
                    held = []
                    if last { closed = true }
                    return answer
                }
                return []
            }
            authenticated = true
            lastInput = now
            return [.send(Self.reply(["logged in to \(hal.nodeName)"], ok: true))]
        case "quit", "exit":
            closed = true
            return [.send(Self.reply(["bye"], ok: true, prompt: false)), .close("quit")]
        case "help" where !authenticated:
            return [.send(Self.reply(["log in first: auth SECRET", "then: help, list, show, quit"], ok: true))]
        default:
            guard authenticated else {
                failures += 1
                let last = failures >= limits.maxFailures
                if last { closed = true }
                return [.send(Self.reply([], ok: false, error: "log in first: auth SECRET"))] + (last ? [.close("commands before login")] : [])
            }
            switch hal.execute(words) {
            case .success(let lines): return [.send(Self.reply(lines, ok: true))]
            case .failure(let e): return [.send(Self.reply([], ok: false, error: e.description))]
            }
        }
    }

    /// Body lines, the status line and the prompt.
    public static func reply(_ lines: [String], ok: Bool, error: String = "", prompt: Bool = true) -> [UInt8] {
        var s = ""
        for l in lines { s += l; s += "\r\n" }
        s += ok ? "ok\r\n" : "error: \(error)\r\n"
        if prompt { s += "hal> " }
        return Array(s.utf8)
    }
}

/// The console's interpreter: the info registry, the node's name and the
/// secret. `execute` serves a logged-in user's command words.
public final class Hal {
    public let registry: InfoRegistry
    public var nodeName: String
    public var version: String
    var secret: [UInt8]

    public init(registry: InfoRegistry, nodeName: String, version: String, secret: [UInt8]) {
        self.registry = registry
        self.nodeName = nodeName
        self.version = version
        self.secret = secret
    }

    /// A new secret (read again on reload).
    public func setSecret(_ s: [UInt8]) { secret = s }

    /// Compares in time that depends only on the secret's length, never on
    /// where the first difference is.
    public func secretMatches(_ given: [UInt8]) -> Bool {
        Hal.constantTimeEqual(given, secret) && !secret.isEmpty
    }

    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff: UInt8 = a.count == b.count ? 0 : 1
        let n = b.count
        for i in 0..<n {
            let x = i < a.count ? a[i] : ~b[i]
            diff |= x ^ b[i]
        }
        return diff == 0
    }

    public func execute(_ words: [String]) -> Result<[String], HalError> {
        guard let cmd = words.first else { return .success([]) }
        let args = Array(words.dropFirst())
        switch cmd {
        case "help":
            if let what = args.first {
                if let e = registry.get(what) { return .success(["list \(what)", "show \(what) INDEX", e.help]) }
                if let c = registry.commands[what] { return .success([c.usage, c.help]) }
                if let h = Hal.builtins.first(where: { $0.0.split(separator: " ").first.map(String.init) == what }) { return .success([h.1]) }
                return .failure(HalError("no command or registry entry '\(what)'; try help"))
            }
            var lines = Hal.builtins.map { "\($0.0): \($0.1)" }
            lines += registry.commands.keys.sorted().map { "\(registry.commands[$0]!.usage): \(registry.commands[$0]!.help)" }
            lines.append("what list and show know: " + registry.names.joined(separator: ", "))
            return .success(lines)
        case "list":
            guard args.count == 1 else { return .failure(HalError("usage: list WHAT (one of \(registry.names.joined(separator: ", ")))")) }
            guard let e = registry.get(args[0]) else { return .failure(HalError("nothing called '\(args[0])' to list (\(registry.names.joined(separator: ", ")))")) }
            return .success(e.list())
        case "show":
            guard args.count == 2 else { return .failure(HalError("usage: show WHAT INDEX")) }
            guard let e = registry.get(args[0]) else { return .failure(HalError("nothing called '\(args[0])' to show (\(registry.names.joined(separator: ", ")))")) }
            guard let lines = e.show(args[1]) else { return .failure(HalError("\(args[0]) has no element '\(args[1])' (list \(args[0]) shows them)")) }
            return .success(lines)
        default:
            guard let c = registry.commands[cmd] else { return .failure(HalError("unknown command '\(cmd)'; try help")) }
            return c.run(args)
        }
    }

    static let builtins: [(String, String)] = [
        ("help [COMMAND]", "what the console knows, or one command's use"),
        ("list WHAT", "an indexed table: ports, routes, flows, counters, ..."),
        ("show WHAT INDEX", "detail on one element of a list"),
        ("quit", "close this connection"),
    ]
}
