import Synchronization

/// A flag the management core sets to stop workers; workers read it once
/// per round (relaxed: stopping a round late is harmless).
public final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
    public init() {}
    public func set() { value.store(true, ordering: .relaxed) }
    /// Clears the flag before a worker is started again.
    public func clear() { value.store(false, ordering: .relaxed) }
    @inlinable public var isSet: Bool { load() }
    @usableFromInline func load() -> Bool { value.load(ordering: .relaxed) }
}
