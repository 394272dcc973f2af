import BowmanCore

/// Which filter wins when several match a packet.
public enum MatchPolicy: String, Sendable, CaseIterable {
    /// Odyssey's rule: the matching filter with the most predicates; among
    /// equals, the one added first (lowest filter id).
    case mostPredicates = "most-predicates"
    /// ACL rule sets: the matching filter with the lowest priority number
    /// (insertion order unless given), as ClassBench files are ordered.
    case firstMatch = "first-match"
}

/// Identifies one added filter (Odyssey's filter id).
public struct FilterID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: Int
    public init(_ v: Int) { rawValue = v }
    public static func < (a: FilterID, b: FilterID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "filter \(rawValue)" }
}

/// Odyssey's packet classifier API (seed 003, "Packet Classifier API"):
/// `add_filter`, `delete_filter`, `match_filter`, `add_pf_protocol`.
///
/// This value type holds the rules and answers `match` with the reference
/// semantics (every filter evaluated): the specification the compiled
/// tables are tested against. It lives on the management core.
public struct Classifier: Sendable {
    public static let noMatch = -1

    public struct Rule: Sendable, Equatable {
        public var id: FilterID
        public var filter: Filter
        public var demuxID: Int
        public var priority: Int
    }

    public private(set) var registry: ProtocolRegistry
    public let policy: MatchPolicy
    /// Tells classifiers apart: filter ids mean something only within one
    /// classifier and the copies made of it (a fresh one numbers from 0
    /// again), so tables built on one never take another's ids as theirs.
    public let lineage: UInt64
    public private(set) var rules: [Rule] = []
    private var nextID = 0

    public init(registry: ProtocolRegistry = .standard(), policy: MatchPolicy = .mostPredicates) {
        self.registry = registry
        self.policy = policy
        var g = SystemRandomNumberGenerator()
        lineage = g.next()
    }

    /// `add_filter(ft, text, demux_id)`: parses and adds a rule; returns its id.
    /// - Parameter priority: for `.firstMatch` (lower wins); default: the order of addition.
    @discardableResult
    public mutating func addFilter(_ text: String, demuxID: Int, priority: Int? = nil) throws(ClassifierError) -> FilterID {
        guard demuxID >= 0 else { throw ClassifierError("demux id \(demuxID) is negative; demux ids are non-negative") }
        let f = try Filter(parsing: text, registry: registry)
        let id = FilterID(nextID)
        nextID += 1
        rules.append(Rule(id: id, filter: f, demuxID: demuxID, priority: priority ?? id.rawValue))
        return id
    }

    /// `delete_filter(fid, ft, demux_id)`: refused unless `demuxID` is the one the rule was added with.
    public mutating func deleteFilter(_ id: FilterID, demuxID: Int) throws(ClassifierError) {
        guard let i = rules.firstIndex(where: { $0.id == id }) else { throw ClassifierError("no \(id)") }
        guard rules[i].demuxID == demuxID else {
            throw ClassifierError("\(id) was added with demux id \(rules[i].demuxID), not \(demuxID); not deleted")
        }
        rules.remove(at: i)
    }

    /// Appends a rule as it is (its id kept), for tables built from part of a rule set.
    mutating func adoptRule(_ r: Rule) {
        rules.append(r)
        nextID = max(nextID, r.id.rawValue + 1)
    }

    /// `add_pf_protocol`: teaches protocols and defines (all or nothing).
    public mutating func addProtocol(_ text: String) throws(ClassifierError) {
        try registry.add(text)
    }

    /// `match_filter(ft, buf)`: the winning rule's demux id, or `noMatch` (-1).
    public func match(_ packet: UnsafeRawBufferPointer) -> Int {
        matchingRule(packet)?.demuxID ?? Self.noMatch
    }

    /// The winning rule under the policy, by evaluating every rule.
    public func matchingRule(_ packet: UnsafeRawBufferPointer) -> Rule? {
        var best: Rule?
        for r in rules where r.filter.matches(packet) {
            guard let b = best else { best = r; continue }
            switch policy {
            case .mostPredicates:
                let (n, m) = (r.filter.predicates.count, b.filter.predicates.count)
                if n > m || (n == m && r.id < b.id) { best = r }
            case .firstMatch:
                if r.priority < b.priority || (r.priority == b.priority && r.id < b.id) { best = r }
            }
        }
        return best
    }
}

extension Classifier {
    /// A rule's rank under the policy, lower wins: (priority, id) for first
    /// match, (-predicates, id) for most predicates — the order every
    /// compiled form numbers its rules in.
    public func rank(_ r: Rule) -> (Int, Int) {
        switch policy {
        case .firstMatch: return (r.priority, r.id.rawValue)
        case .mostPredicates: return (-r.filter.predicates.count, r.id.rawValue)
        }
    }

    /// The rules in the order the policy ranks them (best first).
    public var rulesInPolicyOrder: [Rule] { rules.sorted { rank($0) < rank($1) } }
}

