import BowmanSystem

/// Where a thread's result waits for the thread that started it.
public final class ResultBox<T>: @unchecked Sendable {
    public var result: Result<T, any Error>?
    public init() {}
}

/// Runs `body` on a fresh thread inside network namespace `ns` (setns(2)
/// moves only that thread) and returns its result or rethrows its error.
public func inNamespace<T: Sendable>(_ ns: String, _ body: @escaping @Sendable () throws -> T) throws -> T {
    let box = ResultBox<T>()
    let t = try PinnedThread(name: "ns-\(ns)", core: nil) {
        do {
            try NetworkNamespace.enter(ns)
            box.result = .success(try body())
        } catch { box.result = .failure(error) }
    }
    t.join()
    return try box.result!.get()
}
