import BowmanCBOR
import BowmanTestSupport
import Foundation
import Testing

func hexBytes(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex { let j = s.index(i, offsetBy: 2); out.append(UInt8(s[i..<j], radix: 16)!); i = j }
    return out
}
func hexString(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

/// Runs a Python snippet (with cbor2) and returns its standard output.
func python(_ script: String, input: String = "") throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script]
    let inPipe = Pipe(), outPipe = Pipe()
    p.standardInput = inPipe
    p.standardOutput = outPipe
    p.standardError = FileHandle.nullDevice
    try p.run()
    inPipe.fileHandleForWriting.write(Data(input.utf8))
    try inPipe.fileHandleForWriting.close()
    let data = outPipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// Compact JSON of a decoded item, as Python's json.dumps(..., ensure_ascii=False, separators=(',', ':')).
func json(_ v: CBOR) -> String {
    switch v {
    case .unsigned(let n): return String(n)
    case .negative(let n): return n == .max ? "-18446744073709551616" : "-\(UInt128(n) + 1)"
    case .tagged(2, .bytes(let b)), .tagged(3, .bytes(let b)):
        var n: UInt128 = 0
        for x in b { n = n << 8 | UInt128(x) }
        if case .tagged(3, _) = v { return "-\(n + 1)" }
        return "\(n)"
    case .text(let s):
        return "\"" + s.unicodeScalars.map { c -> String in
            switch c { case "\"": "\\\""; case "\\": "\\\\"; case "\n": "\\n"; case "\t": "\\t"; case "\r": "\\r"
            default: c.value < 0x20 ? String(format: "\\u%04x", c.value) : String(c) }
        }.joined() + "\""
    case .array(let a): return "[" + a.map(json).joined(separator: ",") + "]"
    case .map(let m): return "{" + m.map { "\(json($0.key)):\(json($0.value))" }.joined(separator: ",") + "}"
    case .bool(let b): return b ? "true" : "false"
    case .null: return "null"
    case .half, .float, .double:
        let d = v.doubleValue!
        return d == d.rounded() && abs(d) < 1e16 ? String(format: "%.1f", d) : "\(d)"
    default: return "\(v)"
    }
}

@Suite struct CBORTests {
    struct Vector: Decodable { var hex: String; var roundtrip: Bool; var diagnostic: String? }
    static let vectors: [Vector] = (try? JSONDecoder().decode([Vector].self,
        from: Data(contentsOf: URL(fileURLWithPath: TestData.path("cbor/appendix_a.json"))))) ?? []

    /// Every RFC 8949 Appendix A vector decodes; the round-trip ones
    /// re-encode to the same bytes; the rest have the right meaning
    /// (checked against Python's json of cbor2's decoding, or the diagnostic).
    @Test func appendixA() throws {
        #expect(Self.vectors.count == 82)
        let expected = try python("""
        import sys, json, cbor2
        for line in sys.stdin:
            try: print(json.dumps(cbor2.loads(bytes.fromhex(line.strip())), ensure_ascii=False, separators=(',', ':')))
            except Exception: print("-")
        """, input: Self.vectors.map(\.hex).joined(separator: "\n") + "\n").split(separator: "\n", omittingEmptySubsequences: false)
        // One line per vector, or the comparison below would check nothing (needs python3 with cbor2: scripts/setup).
        #expect(expected.count >= Self.vectors.count, "python3 with cbor2 did not answer")
        var compared = 0
        for (i, v) in Self.vectors.enumerated() {
            let bytes = hexBytes(v.hex)
            if v.hex == "f818" {
                // simple(24) in two bytes: RFC 7049's vector, not well-formed
                // under RFC 8949 §3.3 ("MUST NOT ... 0xf8 ... less than 0x20").
                #expect(throws: CBORError(.badSimpleValue(24), at: 0)) { _ = try CBORDecoder.decode(bytes) }
                continue
            }
            let item: CBOR
            do { item = try CBORDecoder.decode(bytes) } catch { Issue.record("\(v.hex): \(error)"); continue }
            if v.roundtrip { #expect(item.encoded() == bytes, "\(v.hex) re-encodes as \(hexString(item.encoded()))") }
            if let d = v.diagnostic {
                if !d.contains("_") { #expect(item.description == d, "\(v.hex)") }
            } else if i < expected.count, expected[i] != "-" {
                #expect(json(item) == String(expected[i]), "\(v.hex)")
                compared += 1
            }
        }
        #expect(compared > 50)
    }

    /// Random items from cbor2 decode and re-encode to cbor2's bytes; random
    /// items from Bowman decode in cbor2 and re-encode to Bowman's bytes.
    @Test func crossCheckWithCbor2() throws {
        let fromPython = try python("""
        import random, cbor2
        random.seed(8949)
        def item(d):
            k = random.randrange(10 if d < 4 else 6)
            if k == 0: return random.randrange(-2**64, 2**64)
            if k == 1: return random.randrange(-30, 30)
            if k == 2: return bytes(random.randrange(256) for _ in range(random.randrange(40)))
            if k == 3: return ''.join(random.choice('aé水😀\\"\\\\\\n') for _ in range(random.randrange(20)))
            if k == 4: return random.choice([True, False, None])
            if k == 5: return random.uniform(-1e300, 1e300)
            if k in (6, 7): return [item(d + 1) for _ in range(random.randrange(6))]
            return {str(random.randrange(1000)): item(d + 1) for _ in range(random.randrange(5))}
        for _ in range(2000): print(cbor2.dumps(item(0)).hex())
        """).split(separator: "\n").map(String.init)
        #expect(fromPython.count == 2000)
        for h in fromPython {
            let b = hexBytes(h)
            #expect((try? CBORDecoder.decode(b))?.encoded() == b, "\(h)")
        }
        var rng = SeededRandom(seed: 8949)
        func item(_ d: Int) -> CBOR {
            switch Int.random(in: 0..<(d < 4 ? 9 : 6), using: &rng) {
            case 0: return .unsigned(UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng))
            case 1: return .negative(UInt64.random(in: 0...1000, using: &rng))
            case 2: return .bytes((0..<Int.random(in: 0...30, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            case 3: return .text(String((0..<Int.random(in: 0...15, using: &rng)).map { _ in "ab水😀\"\\".randomElement(using: &rng)! }))
            case 4: return [.bool(true), .bool(false), .null].randomElement(using: &rng)!
            case 5: return .double(Double.random(in: -1e300...1e300, using: &rng))
            case 6, 7: return .array((0..<Int.random(in: 0...5, using: &rng)).map { _ in item(d + 1) })
            default:
                var seen = Set<String>()
                return .map((0..<Int.random(in: 0...4, using: &rng)).compactMap { _ in
                    let k = "k\(Int.random(in: 0...99, using: &rng))"
                    return seen.insert(k).inserted ? CBOR.MapEntry(.text(k), item(d + 1)) : nil
                })
            }
        }
        let ours = (0..<2000).map { _ in hexString(item(0).encoded()) }
        let back = try python("""
        import sys, cbor2
        for line in sys.stdin: print(cbor2.dumps(cbor2.loads(bytes.fromhex(line.strip()))).hex())
        """, input: ours.joined(separator: "\n") + "\n").split(separator: "\n").map(String.init)
        #expect(back == ours)
    }

    /// Every prefix of a valid item is refused as truncated, never a crash.
    @Test func truncationIsRefused() throws {
        for v in Self.vectors where v.hex.count > 2 {
            let b = hexBytes(v.hex)
            for cut in 0..<b.count {
                do {
                    _ = try CBORDecoder.decode(Array(b[0..<cut]))
                    Issue.record("\(v.hex) cut at \(cut) decoded")
                } catch {
                    #expect(error.reason == .truncated, "\(v.hex) cut at \(cut): \(error)")
                }
            }
        }
    }

    @Test(arguments: [
        ("1c", CBORError(.reservedAdditionalInfo(28), at: 0)),
        ("ff", CBORError(.unexpectedBreak, at: 0)),
        ("62c328", CBORError(.invalidUTF8, at: 0)),
        ("0001", CBORError(.trailingBytes(count: 1), at: 1)),
        ("f800", CBORError(.badSimpleValue(0), at: 0)),
        ("1f", CBORError(.badIndefinite, at: 0)),
        ("5f4101420203ff", nil),                            // a good indefinite byte string
        ("5f410161ff", CBORError(.badChunk, at: 3)),          // text chunk in a byte string
        ("5bffffffffffffffff", CBORError(.tooLong(.max), at: 0)),   // refused before any allocation
        ("9b00000000ffffffff", CBORError(.tooLong(0xFFFF_FFFF), at: 0)),
        ("9a0000ffff00", CBORError(.truncated, at: 5)),         // a count beyond the input
    ] as [(String, CBORError?)])
    func malformed(_ hex: String, _ expected: CBORError?) {
        do {
            _ = try CBORDecoder.decode(hexBytes(hex))
            #expect(expected == nil, "\(hex) decoded")
        } catch {
            #expect(error == expected, "\(hex)")
        }
    }

    @Test func overlongHeadsRefusedWhenStrict() {
        var strict = CBORDecoder.Options()
        strict.requireShortest = true
        for hex in ["1817", "190017", "1a00000017", "1b0000000000000017", "5801ff"] {
            #expect(throws: CBORError(.notShortest, at: 0)) { _ = try CBORDecoder.decode(hexBytes(hex), options: strict) }
            #expect((try? CBORDecoder.decode(hexBytes(hex))) != nil)   // lenient by default, as RFC 8949 §5.3 allows
        }
    }

    @Test func nestingTooDeepIsRefused() {
        let deep = [UInt8](repeating: 0x81, count: 10_000) + [0x00]
        #expect(throws: CBORError(.tooDeep(limit: 64), at: 65)) { _ = try CBORDecoder.decode(deep) }
        let ok = [UInt8](repeating: 0x81, count: 64) + [0x00]
        #expect((try? CBORDecoder.decode(ok)) != nil)
    }
}
