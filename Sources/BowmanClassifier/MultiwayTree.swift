import BowmanCore

/// The classifier in the seed's own form: a multi-way tree where every node
/// is one (offset, length, value) test of a filter rule — here also masks
/// and ranges, and the test "this header can be walked" — and a rule is the
/// path from the root to the node that holds it. Rules that begin with the
/// same tests share those nodes. Matching walks every child whose test
/// succeeds (several may: it is multi-way), collecting the rules on the way,
/// and answers the best under the policy.
///
/// Slower than the compiled forms (it visits every matching branch); it is
/// the readable reference they are tested against, next to
/// `Classifier.match`.
public struct MultiwayTree: Sendable {
    /// One node's test, on a header position of the packet.
    public struct Test: Equatable, Sendable {
        public var position: Int32
        /// Bytes from the header's start; -1: the header can be walked (its length is readable).
        public var offset: Int32
        public var length: Int32
        public var test: Filter.Predicate.Test?
    }

    struct Node: Sendable {
        var test: Test
        var children: [Int] = []
        /// Rule indices (policy order) whose last test this is.
        var rules: [Int] = []
    }

    var nodes: [Node]
    let demux: [Int]
    let headers: HeaderWalk
    let storage: TableStorage

    public var nodeCount: Int { nodes.count - 1 }

    public init(_ c: Classifier) {
        let rules = c.rulesInPolicyOrder
        demux = rules.map(\.demuxID)
        var positions = HeaderPositions()
        var nodes = [Node(test: Test(position: -1, offset: -1, length: 0, test: nil))]   // the root tests nothing
        for (r, rule) in rules.enumerated() {
            let f = rule.filter
            // The rule's tests in packet order: each predicate, then its last header can be walked.
            var tests = f.predicates.map { p in
                Test(position: positions.position(f.headers, upTo: p.header), offset: Int32(p.offset), length: Int32(p.length), test: p.test)
            }
            if !f.headers.isEmpty {
                tests.append(Test(position: positions.position(f.headers, upTo: f.headers.count - 1), offset: -1, length: 0, test: nil))
            }
            var at = 0
            for t in tests {
                if let child = nodes[at].children.first(where: { nodes[$0].test == t }) {
                    at = child
                } else {
                    nodes.append(Node(test: t))
                    nodes[at].children.append(nodes.count - 1)
                    at = nodes.count - 1
                }
            }
            nodes[at].rules.append(r)
        }
        self.nodes = nodes
        let st = TableStorage()
        storage = st
        headers = positions.walk(st)
    }

    /// The demux id of the best matching rule, or -1.
    public func match(_ p: UnsafeRawBufferPointer) -> Int {
        var base = [Int](repeating: -1, count: headers.count), end = base
        for k in 0..<headers.count {
            let par = Int(headers.parent[k])
            let start = par < 0 ? 0 : end[par]
            base[k] = start
            end[k] = start < 0 ? -1 : headers.end(k, p, start)
        }
        var best = Int.max
        var stack = [0]
        while let n = stack.popLast() {
            let node = nodes[n]
            if n != 0 && !holds(node.test, p, base, end) { continue }
            if let r = node.rules.first { best = min(best, r) }   // rules at a node are in policy order
            stack += node.children
        }
        return best == Int.max ? -1 : demux[best]
    }

    func holds(_ t: Test, _ p: UnsafeRawBufferPointer, _ base: [Int], _ end: [Int]) -> Bool {
        let k = Int(t.position)
        guard let test = t.test else { return end[k] >= 0 }
        let b = base[k], at = b + Int(t.offset), len = Int(t.length)
        guard b >= 0, at + len <= p.count else { return false }
        let v = FieldValue(loading: p, at: at, length: len)
        switch test {
        case .equal(let value, let mask): return v & mask == value
        case .range(let lo, let hi): return v.low >= lo && v.low <= hi
        }
    }
}
