import BowmanControl
import Testing

/// The Hal console as bytes in, bytes out and a manual clock: log-in,
/// the registry's list/show/help, and what a hostile client gets.
@Suite struct HalTests {
    static let secret = Array("s3cret-0123456789".utf8)

    func hal() -> Hal {
        let r = InfoRegistry()
        r.put(InfoRegistry.Entry(name: "ports", help: "the node's ports", list: { ["0 af_xdp:eth1:0", "1 af_xdp:eth2:0"] },
                                 show: { $0 == "0" ? ["port 0", "interface eth1"] : nil }))
        r.put(InfoRegistry.Command(name: "clear", usage: "clear counters", help: "zero the counters") { args in
            args == ["counters"] ? .success(["counters cleared"]) : .failure(HalError("usage: clear counters"))
        })
        return Hal(registry: r, nodeName: "r1", version: "test", secret: Self.secret)
    }

    /// Sends `line` and returns the text it produced and whether the connection closes.
    func say(_ s: inout HalSession, _ line: String, now: UInt64 = 0, _ h: Hal) -> (String, Bool) {
        text(s.receive(Array((line + "\r\n").utf8), now: now, hal: h))
    }

    func text(_ outs: [StreamOutput]) -> (String, Bool) {
        var t = "", closed = false
        for o in outs {
            switch o {
            case .send(let b): t += String(decoding: b, as: UTF8.self)
            case .close: closed = true
            }
        }
        return (t, closed)
    }

    func limits(delay: UInt64 = 1000) -> HalSession.Limits {
        var l = HalSession.Limits()
        l.failureDelay = delay
        return l
    }

    @Test func logInThenListShowHelpQuit() {
        let h = hal()
        var s = HalSession(limits: limits(), now: 0)
        #expect(text(s.greeting(node: "r1", version: "test")).0 == "Hal on r1 (bowman test); log in with: auth SECRET\r\nok\r\nhal> ")
        #expect(say(&s, "auth s3cret-0123456789", h).0 == "logged in to r1\r\nok\r\nhal> ")
        #expect(s.authenticated)
        #expect(say(&s, "list ports", h).0 == "0 af_xdp:eth1:0\r\n1 af_xdp:eth2:0\r\nok\r\nhal> ")
        #expect(say(&s, "show ports 0", h).0 == "port 0\r\ninterface eth1\r\nok\r\nhal> ")
        #expect(say(&s, "show ports 7", h).0.contains("error: ports has no element '7'"))
        #expect(say(&s, "list routes", h).0.contains("error: nothing called 'routes' to list (ports)"))
        #expect(say(&s, "help ports", h).0 == "list ports\r\nshow ports INDEX\r\nthe node's ports\r\nok\r\nhal> ")
        let help = say(&s, "help", h).0
        #expect(help.contains("list WHAT") && help.contains("clear counters: zero the counters") && help.contains("what list and show know: ports"))
        #expect(say(&s, "help list", h).0.contains("an indexed table"))
        #expect(say(&s, "clear counters", h).0 == "counters cleared\r\nok\r\nhal> ")
        #expect(say(&s, "clear everything", h).0.contains("error: usage: clear counters"))
        #expect(say(&s, "frobnicate", h).0.contains("error: unknown command 'frobnicate'; try help"))
        #expect(say(&s, "", h).0 == "hal> ")
        let (bye, closed) = say(&s, "quit", h)
        #expect(bye == "bye\r\nok\r\n" && closed && s.closed)
    }

    @Test func commandsBeforeLoginAreRefused() {
        let h = hal()
        var s = HalSession(limits: limits(), now: 0)
        #expect(say(&s, "list ports", h).0.contains("error: log in first: auth SECRET"))
        #expect(say(&s, "help", h).0.contains("log in first"), "help is served, and says so")
        #expect(say(&s, "show ports 0", h).0.contains("error: log in first"))
        #expect(!s.authenticated)
        // The third refusal closes the connection.
        let (t, closed) = say(&s, "list ports", h)
        #expect(t.contains("error: log in first") && closed)
    }

    @Test func aWrongSecretIsAnsweredLateAndNothingIsReadMeanwhile() {
        let h = hal()
        var s = HalSession(limits: limits(delay: 1000), now: 0)
        let (t, closed) = say(&s, "auth guess", now: 10, h)
        #expect(t.isEmpty && !closed, "held back")
        // A right secret sent at once waits behind the wrong one.
        #expect(text(s.receive(Array("auth s3cret-0123456789\n".utf8), now: 20, hal: h)).0.isEmpty)
        #expect(text(s.tick(now: 500, hal: h)).0.isEmpty)
        #expect(s.nextDeadline == 1010)
        let (late, _) = text(s.tick(now: 1010, hal: h))
        #expect(late.hasPrefix("error: wrong secret\r\nhal> "), "\(late)")
        #expect(late.contains("logged in to r1"), "then the next line is served: \(late)")
        #expect(s.authenticated && s.failures == 1)
    }

    @Test func threeWrongSecretsClose() {
        let h = hal()
        var s = HalSession(limits: limits(delay: 0), now: 0)
        _ = say(&s, "auth a", h)
        _ = say(&s, "auth b", h)
        let (t, closed) = say(&s, "auth c", h)
        #expect(t.contains("wrong secret; closing after 3 tries") && closed && s.closed)
        #expect(text(s.receive(Array("auth s3cret-0123456789\n".utf8), now: 1, hal: h)).0.isEmpty, "a closed session reads nothing")
    }

    @Test func theSecretIsComparedWhole() {
        #expect(Hal.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!Hal.constantTimeEqual([1, 2], [1, 2, 3]))
        #expect(!Hal.constantTimeEqual([1, 2, 3, 4], [1, 2, 3]))
        #expect(!Hal.constantTimeEqual([], [1]))
        #expect(!Hal.constantTimeEqual([1, 2, 4], [1, 2, 3]))
        #expect(!Hal(registry: InfoRegistry(), nodeName: "x", version: "v", secret: []).secretMatches([]), "an empty secret never matches")
        let h = hal()
        #expect(h.secretMatches(Self.secret) && !h.secretMatches(Self.secret + [0x41]) && !h.secretMatches(Array(Self.secret.dropLast())))
    }

    @Test func aLongLineIsRefusedAndClosesTheConnection() {
        let h = hal()
        var s = HalSession(limits: limits(), now: 0)
        _ = say(&s, "auth s3cret-0123456789", h)
        // In pieces, with no newline: refused once it passes the limit.
        var out = ""
        var closed = false
        for _ in 0..<20 {
            let (t, c) = text(s.receive([UInt8](repeating: 0x41, count: 100), now: 1, hal: h))
            out += t; closed = closed || c
        }
        #expect(out.contains("error: line longer than 1024 bytes") && closed)
        // And in one piece with a newline.
        var s2 = HalSession(limits: limits(), now: 0)
        let (t2, c2) = text(s2.receive([UInt8](repeating: 0x42, count: 5000) + [0x0A], now: 1, hal: h))
        #expect(t2.contains("line longer than 1024 bytes") && c2)
    }

    @Test func binaryJunkIsRefusedWithoutACrash() {
        let h = hal()
        var rng = UInt64(0x5EED)
        for _ in 0..<200 {
            var s = HalSession(limits: limits(delay: 0), now: 0)
            var junk: [UInt8] = []
            for _ in 0..<Int(rng % 3000) {
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                junk.append(UInt8(truncatingIfNeeded: rng >> 33))
            }
            _ = s.receive(junk, now: 0, hal: h)
            _ = s.tick(now: 10_000, hal: h)
            #expect(!s.authenticated)
        }
        // Telnet negotiation bytes and a NUL name their column.
        var s = HalSession(limits: limits(), now: 0)
        let (t, _) = text(s.receive([0xFF, 0xFB, 0x01, 0x0A], now: 0, hal: h))
        #expect(t.contains("error: not UTF-8 text") || t.contains("not a text line"))
        let (t2, _) = text(s.receive(Array("li\u{0}st\n".utf8), now: 0, hal: h))
        #expect(t2.contains("not a text line (byte 0x0 at column 3)"), "\(t2)")
    }

    @Test func idleAndLoginTimeoutsClose() {
        let h = hal()
        var l = limits()
        l.loginTimeout = 30_000
        l.idleTimeout = 60_000
        l.sessionTimeout = 100_000
        var s = HalSession(limits: l, now: 0)
        #expect(s.nextDeadline == 30_000)
        let (t, closed) = text(s.tick(now: 30_000, hal: h))
        #expect(t.contains("not logged in within 30 s") && closed)

        var a = HalSession(limits: l, now: 0)
        _ = say(&a, "auth s3cret-0123456789", now: 1000, h)
        #expect(a.nextDeadline == 61_000)
        #expect(text(a.tick(now: 60_999, hal: h)).1 == false)
        _ = say(&a, "list ports", now: 50_000, h)
        #expect(a.nextDeadline == 100_000, "the session limit comes first now")
        let (t2, c2) = text(a.tick(now: 100_000, hal: h))
        #expect(t2.contains("session longer than 100 s") && c2)

        var b = HalSession(limits: l, now: 0)
        _ = say(&b, "auth s3cret-0123456789", now: 0, h)
        let (t3, c3) = text(b.tick(now: 60_000, hal: h))
        #expect(t3.contains("idle for 60 s") && c3)
    }

    @Test func inputFloodWhileHeldCloses() {
        let h = hal()
        var s = HalSession(limits: limits(delay: 5000), now: 0)
        _ = say(&s, "auth wrong", h)
        var closed = false
        for _ in 0..<20 where !closed {
            closed = text(s.receive(Array(repeating: Array("list ports\n".utf8), count: 100).flatMap { $0 }, now: 1, hal: h)).1
        }
        #expect(closed && s.closed)
    }
}

/// The metrics endpoint's HTTP, on bytes.
@Suite struct ScrapeSessionTests {
    func answer(_ request: String, split: Int? = nil) -> (String, Bool) {
        var s = ScrapeSession(now: 0)
        let bytes = Array(request.utf8)
        var outs: [StreamOutput] = []
        if let k = split {
            var i = 0
            while i < bytes.count { outs += s.receive(bytes[i..<min(bytes.count, i + k)]) { Array("m 1\n".utf8) }; i += k }
        } else {
            outs = s.receive(bytes) { Array("m 1\n".utf8) }
        }
        var t = "", closed = false
        for o in outs { if case .send(let b) = o { t += String(decoding: b, as: UTF8.self) } else { closed = true } }
        return (t, closed)
    }

    @Test func getMetrics() {
        let (t, closed) = answer("GET /metrics HTTP/1.1\r\nHost: x\r\nUser-Agent: Prometheus/2\r\n\r\n")
        #expect(t == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 4\r\nConnection: close\r\n\r\nm 1\n")
        #expect(closed)
        #expect(answer("GET /metrics HTTP/1.0\n\n").0.hasPrefix("HTTP/1.1 200 OK"), "bare LF")
        #expect(answer("GET /metrics?x=1 HTTP/1.1\r\n\r\n", split: 1).0.hasPrefix("HTTP/1.1 200 OK"), "a byte at a time")
        let head = answer("HEAD /metrics HTTP/1.1\r\n\r\n").0
        #expect(head.hasPrefix("HTTP/1.1 200 OK") && head.contains("Content-Length: 4") && head.hasSuffix("\r\n\r\n"))
    }

    @Test func refusals() {
        #expect(answer("POST /metrics HTTP/1.1\r\n\r\n").0.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        #expect(answer("GET /admin HTTP/1.1\r\n\r\n").0.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(answer("SSH-2.0-OpenSSH_9\r\n\r\n").0.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(answer("GET /metrics HTTP/1.1\r\nX: " + String(repeating: "a", count: 9000) + "\r\n\r\n").0.hasPrefix("HTTP/1.1 431 "))
        var s = ScrapeSession(now: 0)
        #expect(s.receive(Array(repeating: 0x61, count: 9000)) { [] }.count == 2, "too long without an end: answered at once")
        var slow = ScrapeSession(now: 0)
        _ = slow.receive(Array("GET /met".utf8)) { [] }
        #expect(slow.tick(now: 9_999).isEmpty)
        let late = slow.tick(now: 10_000)
        #expect(late.count == 2 && late.last == .close("answered 408"))
        var junk = UInt64(3)
        for _ in 0..<300 {
            var t = ScrapeSession(now: 0)
            var b: [UInt8] = []
            for _ in 0..<Int(junk % 400) { junk = junk &* 6364136223846793005 &+ 1; b.append(UInt8(truncatingIfNeeded: junk >> 40)) }
            _ = t.receive(b + [0x0A, 0x0A]) { [] }
            #expect(t.done)
        }
    }
}
