import BowmanClassifier
import BowmanCore
import BowmanSystem
import Synchronization

/// The management core's side of live rule changes. Every change (add,
/// delete, a whole new rule set) is published at once as the current base
/// plus the changes since (`ClassifierTables(base:current:)`: cost in
/// proportion to the rules, no compile of the base); a background thread
/// then compiles a new base and publishes it, so the changes stop costing
/// the workers anything. Workers never stop and never see a half-built
/// table (`TablePublisher`); a refused change leaves everything as it was.
public final class LiveClassifier: @unchecked Sendable {
    /// The state and the work; the compile thread holds this, never the
    /// `LiveClassifier` itself, so the last release of a `LiveClassifier`
    /// (whose deinit joins that thread) never happens on that thread.
    let engine: Engine

    public init(_ c: Classifier, workers: Int, compileCore: CoreID? = nil, treeBudget: Int = TrieClassifier.defaultTreeBudget) {
        engine = Engine(c, workers: workers, compileCore: compileCore, treeBudget: treeBudget)
    }

    deinit { engine.waitForCompile() }

    public var tables: TablePublisher<ClassifierTables> { engine.tables }
    /// The rules now in force.
    public var rules: Classifier { engine.rules }
    /// How long the last change took from the call to the publish (ns).
    public var lastPublishNanoseconds: UInt64 { engine.lastPublishNanoseconds }
    /// Bases compiled in the background so far.
    public var backgroundCompiles: Int { engine.backgroundCompiles }
    /// Where the background compile runs (the management core), nil: anywhere.
    public var compileCore: CoreID? { engine.compileCore }

    /// `add_filter`: parsed, published with the running base, base recompiled in the background.
    @discardableResult
    public func add(_ text: String, demuxID: Int, priority: Int? = nil) throws(ClassifierError) -> FilterID {
        try engine.add(text, demuxID: demuxID, priority: priority)
    }
    /// `delete_filter`: refused (nothing changes) unless `demuxID` matches.
    public func delete(_ id: FilterID, demuxID: Int) throws(ClassifierError) { try engine.delete(id, demuxID: demuxID) }
    /// A whole new rule set (a reload). With the same protocols and policy it
    /// is applied as its difference from the running rules — rules that
    /// stay (same filter, demux id and priority) keep their identity and
    /// age, the others are deleted and added — and published at once as
    /// changes on the running base, then compiled; otherwise it replaces
    /// them whole (published when compiled).
    public func replace(with c: Classifier) { engine.replace(with: c) }
    /// Starts compiling a base of the current rules on a background thread.
    public func compileInBackground() { engine.compileInBackground() }
    /// Management core: compiles now if the base is behind (no thread).
    public func compileNow() { engine.compileNow() }
    /// Waits for a background compile to finish.
    public func waitForCompile() { engine.waitForCompile() }
    /// Management core: frees tables no worker can still hold.
    public func reclaim() { engine.reclaim() }
}

final class Engine: @unchecked Sendable {
    let tables: TablePublisher<ClassifierTables>

    struct State {
        var rules: Classifier
        var base: ClassifierTables.Base
        /// Bumped on every change; a finished compile of an older one is
        /// still published (its base is newer), and the changes since ride on it.
        var generation = 0
        /// The compile thread, joined before the next starts.
        var compiling: PinnedThread?
        /// It has not yet taken its last look at `generation`.
        var running = false
        var compiledGeneration = 0
        var lastPublishNanoseconds: UInt64 = 0
        var compiles = 0
    }
    private let state: Mutex<State>
    private let treeBudget: Int
    let compileCore: CoreID?

    init(_ c: Classifier, workers: Int, compileCore: CoreID?, treeBudget: Int) {
        let t = ClassifierTables(c, treeBudget: treeBudget)
        tables = TablePublisher(t, workers: workers)
        state = Mutex(State(rules: c, base: t.base))
        self.compileCore = compileCore
        self.treeBudget = treeBudget
    }

    var rules: Classifier { state.withLock { $0.rules } }
    var lastPublishNanoseconds: UInt64 { state.withLock { $0.lastPublishNanoseconds } }
    var backgroundCompiles: Int { state.withLock { $0.compiles } }

    func add(_ text: String, demuxID: Int, priority: Int? = nil) throws(ClassifierError) -> FilterID {
        try change { (c: inout Classifier) throws(ClassifierError) -> FilterID in try c.addFilter(text, demuxID: demuxID, priority: priority) }
    }

    func delete(_ id: FilterID, demuxID: Int) throws(ClassifierError) {
        try change { (c: inout Classifier) throws(ClassifierError) in try c.deleteFilter(id, demuxID: demuxID) }
    }

    /// Published as changes on the running base (fast when it differs in few rules), then compiled.
    func replace(with new: Classifier) {
        _ = try? change { (r: inout Classifier) throws(ClassifierError) in
            guard new.registry == r.registry && new.policy == r.policy else { r = new; return }
            struct Key: Hashable { var text: String; var demux: Int; var priority: Int }
            // Priority orders rules only under first match (most predicates ranks by predicates, then age).
            let byPriority = new.policy == .firstMatch
            func key(_ x: Classifier.Rule) -> Key { Key(text: x.filter.text, demux: x.demuxID, priority: byPriority ? x.priority : 0) }
            var wanted: [Key: Int] = [:]
            for x in new.rules { wanted[key(x), default: 0] += 1 }
            // Rules that stay are used up from `wanted`; the rest of the old go.
            for x in r.rules {
                let k = key(x)
                if let n = wanted[k], n > 0 { wanted[k] = n - 1 } else { try r.deleteFilter(x.id, demuxID: x.demuxID) }
            }
            for x in new.rules {
                let k = key(x)
                guard let n = wanted[k], n > 0 else { continue }
                wanted[k] = n - 1
                try r.addFilter(x.filter.text, demuxID: x.demuxID, priority: x.priority)
            }
        }
    }

    private func change<T>(_ body: (inout Classifier) throws(ClassifierError) -> T) throws(ClassifierError) -> T {
        let t0 = SystemClock.monotonicNanoseconds
        let result: Result<T, ClassifierError> = state.withLock { s in
            var c = s.rules
            do throws(ClassifierError) {
                let v = try body(&c)
                // Changes ride on the running base only while the rules descend
                // from the ones it was compiled from; else compile (here).
                let sameRules = c.policy == s.base.policy && c.lineage == s.base.lineage
                let base = sameRules ? s.base : ClassifierTables.Base(c, treeBudget: treeBudget)
                tables.publish(ClassifierTables(base: base, current: c))
                s.rules = c
                s.base = base
                s.generation += 1
                s.lastPublishNanoseconds = SystemClock.monotonicNanoseconds - t0
                return .success(v)
            } catch {
                return .failure(error)
            }
        }
        let v = try result.get()
        compileInBackground()
        return v
    }

    /// Starts compiling a base of the current rules on a background thread
    /// (unless one is running: it picks up the newest rules when it ends).
    func compileInBackground() {
        state.withLock { s in
            guard !s.running, s.compiledGeneration < s.generation else { return }
            s.compiling?.join()   // finished: its last act was clearing `running`
            s.running = true
            s.compiling = try? PinnedThread(name: "bowman-compile", core: compileCore) { [self] in backgroundLoop() }
            if s.compiling == nil { s.running = false; compileNowLocked(&s) }   // no thread: compile here
        }
    }

    private func backgroundLoop() {
        while true {
            let (c, generation) = state.withLock { ($0.rules, $0.generation) }
            let base = ClassifierTables.Base(c, treeBudget: treeBudget)
            let again = state.withLock { s -> Bool in
                // Publish the new base with whatever changed while it compiled.
                if base.policy == s.rules.policy {
                    tables.publish(ClassifierTables(base: base, current: s.rules))
                    s.base = base
                }
                s.compiledGeneration = generation
                s.compiles += 1
                if s.generation > generation { return true }
                s.running = false
                return false
            }
            if !again { break }
        }
    }

    private func compileNowLocked(_ s: inout State) {
        let base = ClassifierTables.Base(s.rules, treeBudget: treeBudget)
        tables.publish(ClassifierTables(base: base, current: s.rules))
        s.base = base
        s.compiledGeneration = s.generation
        s.compiles += 1
    }

    /// Management core: compiles now if the base is behind (no thread).
    func compileNow() {
        waitForCompile()
        state.withLock { s in if s.compiledGeneration < s.generation { compileNowLocked(&s) } }
    }

    /// Waits for a background compile to finish.
    func waitForCompile() {
        while let t = state.withLock({ $0.compiling }) {
            t.join()
            let done = state.withLock { s -> Bool in
                if s.compiling === t && !s.running { s.compiling = nil }
                return s.compiling == nil
            }
            if done { break }
        }
    }

    /// Management core: frees tables no worker can still hold.
    func reclaim() { state.withLock { _ in _ = tables.reclaim() } }
}
