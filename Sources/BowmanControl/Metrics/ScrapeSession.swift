/// One connection to the metrics endpoint, sans I/O: an HTTP/1.x request
/// in, one response out, then the connection closes (`Connection: close`;
/// a scrape every few seconds does not need keep-alive). `GET /metrics`
/// (and `/`) get the Prometheus text exposition format; HEAD gets its
/// headers; another method is 405, another path 404, a request head
/// larger than `maxHead` bytes 431, one that is not HTTP 400, one not
/// finished within `timeout` ms 408.
public struct ScrapeSession {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
    public let opened: UInt64
    public var maxHead = 8192
    public var timeout: UInt64 = 10_000
    var head: [UInt8] = []
    public private(set) var done = false

    public init(now: UInt64) { opened = now }

    public var nextDeadline: UInt64? { done ? nil : opened + timeout }

    /// Bytes of the request; `body` makes the exposition when one is asked for.
    public mutating func receive(_ bytes: some Collection<UInt8>, body: () -> [UInt8]) -> [StreamOutput] {
        guard !done else { return [] }
        head.append(contentsOf: bytes)
        guard let end = Self.headEnd(head) else {
            if head.count > maxHead { return finish(431, "Request Header Fields Too Large", "request head longer than \(maxHead) bytes\n") }
            return []
        }
        if end > maxHead { return finish(431, "Request Header Fields Too Large", "request head longer than \(maxHead) bytes\n") }
        let lineEnd = head.firstIndex(of: 0x0D) ?? head.firstIndex(of: 0x0A) ?? end
        guard let line = String(validating: head[..<lineEnd], as: UTF8.self) else { return finish(400, "Bad Request", "not an HTTP request\n") }
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else { return finish(400, "Bad Request", "not an HTTP/1.x request line\n") }
        let method = parts[0]
        let target = parts[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        guard method == "GET" || method == "HEAD" else { return finish(405, "Method Not Allowed", "GET /metrics\n", extra: "Allow: GET, HEAD\r\n") }
        guard target == "/metrics" || target == "/" else { return finish(404, "Not Found", "the metrics are at /metrics\n") }
        return finish(200, "OK", body(), contentType: Self.contentType, headOnly: method == "HEAD")
    }

    /// The request head did not arrive in time.
    public mutating func tick(now: UInt64) -> [StreamOutput] {
        guard !done, now >= opened + timeout else { return [] }
        return finish(408, "Request Timeout", "no request within \(timeout / 1000) s\n")
    }

    mutating func finish(_ code: Int, _ reason: String, _ body: String, extra: String = "") -> [StreamOutput] {
        finish(code, reason, Array(body.utf8), contentType: "text/plain; charset=utf-8", extra: extra)
    }

    mutating func finish(_ code: Int, _ reason: String, _ body: [UInt8], contentType: String, extra: String = "", headOnly: Bool = false) -> [StreamOutput] {
        done = true
        let h = "HTTP/1.1 \(code) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n\(extra)Connection: close\r\n\r\n"
        return [.send(Array(h.utf8) + (headOnly ? [] : body)), .close("answered \(code)")]
    }

    /// Where the head ends (after its blank line), CRLF or bare LF.
    static func headEnd(_ b: [UInt8]) -> Int? {
        var i = 0
        while i < b.count {
            if b[i] == 0x0A {
                if i + 1 < b.count && b[i + 1] == 0x0A { return i + 2 }
                if i + 2 < b.count && b[i + 1] == 0x0D && b[i + 2] == 0x0A { return i + 3 }
            }
            i += 1
        }
        return nil
    }
}
