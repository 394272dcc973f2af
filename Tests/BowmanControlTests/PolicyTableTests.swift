import BowmanControl
import Testing

@Suite struct PolicyTableTests {
    typealias T = SecondShim.PolicyTable

    @Test func mostSpecificEntryWins() throws {
        let t = try T(parsing: """
            # second shim per application
            default      sources-only
            echo-app     off          # the app's own choice
            video.*      all-pairs
            video.hd.*   off
            *            all-pairs
            """)
        #expect(t.policy(for: "echo-app") == .off)
        #expect(t.policy(for: "video.sd") == .allPairs)
        #expect(t.policy(for: "video.hd.1") == .off)
        #expect(t.policy(for: "anything") == .allPairs, "'*' matches everything before default")
        #expect(try T(parsing: "default all-pairs").policy(for: "x") == .allPairs)
        #expect(try T(parsing: "").policy(for: "x") == .off, "an empty table leaves applications alone")
        #expect(try T(parsing: "a off\r\n\r\nb all-pairs\r\n").policy(for: "b") == .allPairs)
    }

    @Test(arguments: [
        ("echo-app", 1, 9, "expected a policy after 'echo-app'"),
        ("echo-app off extra", 1, 14, "found more after the policy"),
        ("\n  echo-app  sometimes", 2, 13, "unknown policy 'sometimes'"),
        ("vi*deo off", 1, 3, "'*' may only end a name"),
        ("a off\nb off\na all-pairs", 3, 1, "'a' already set on line 1"),
    ])
    func malformedTablesNameLineAndColumn(_ text: String, _ line: Int, _ column: Int, _ message: String) {
        do {
            _ = try T(parsing: text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.line == line && error.column == column, "\(error)")
            #expect(error.description.contains(message), "\(error)")
        }
    }

    @Test func aRefusedTableLeavesTheRunningOneAsItWas() throws {
        var running = try T(parsing: "default all-pairs\necho-app off")
        let before = running
        if let next = try? T(parsing: "default all-pairs\necho-app bogus") { running = next }
        #expect(running == before)
        #expect(running.policy(for: "echo-app") == .off)
    }
}
