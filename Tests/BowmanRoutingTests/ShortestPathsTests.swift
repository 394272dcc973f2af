@testable import BowmanRouting
import BowmanTestSupport
import Testing

/// The plain reference: Bellman-Ford over the same (distance, hops, first
/// hop) labels, relaxing every up link until nothing changes; a multi-home
/// group's members share their label by being relaxed together.
func referencePaths(_ t: Topology, from s: Int, groups: [[Int]] = []) -> ShortestPaths.Result {
    let n = t.nodeCount
    var group = Array(0..<n).map { [$0] }
    for g in groups { for v in g { group[v] = g } }
    typealias Label = (UInt64, Int, Int)
    var label = [Label?](repeating: nil, count: n)
    for v in group[s] { label[v] = (0, 0, -1) }
    var changed = true
    while changed {
        changed = false
        for u in 0..<n {
            guard let lu = label[u] else { continue }
            for l in t.links[u] where l.up {
                if group[u].contains(l.to) { continue }
                let c: Label = (lu.0 + l.weight, lu.1 + 1, lu.2 == -1 ? l.to : lu.2)
                for v in group[l.to] where label[v] == nil || c < label[v]! {
                    label[v] = c
                    changed = true
                }
            }
        }
    }
    return ShortestPaths.Result(source: s, distance: label.map { $0?.0 }, hops: label.map { $0?.1 ?? -1 },
                                firstHop: label.map { $0?.2 ?? -1 })
}

@Suite struct ShortestPathsTests {
    static let maps = ["Abilene", "Sprint", "Geant2012", "Uninett2011", "Cogentco"]

    func load(_ name: String) throws -> Topology {
        try TopologyFile.parse(try TestData.text("topology/\(name).graphml"), file: name)
    }

    @Test(arguments: maps) func everySourceOfARealMapMatchesTheReference(map: String) throws {
        let t = try load(map)
        #expect(t.nodeCount > 10)
        let identity = Array(0..<t.nodeCount)
        for s in 0..<t.nodeCount {
            let r = ShortestPaths.compute(t, from: s, representative: identity)
            #expect(r == referencePaths(t, from: s), "\(map) from \(t.names[s])")
        }
    }

    @Test func randomGraphsWithTiesDownLinksAndMultiHome() {
        var rng = SeededRandom(seed: 12)
        for round in 0..<300 {
            var t = Topology()
            let n = Int.random(in: 1...24, using: &rng)
            for i in 0..<n { t.node("n\(i)") }
            for _ in 0..<Int.random(in: 0...(3 * n), using: &rng) {
                let a = Int.random(in: 0..<n, using: &rng), b = Int.random(in: 0..<n, using: &rng)
                if a == b { continue }
                // Few distinct weights: many equal-cost paths.
                t.link("n\(a)", "n\(b)", weight: UInt64.random(in: 0...4, using: &rng))
                if Bool.random(using: &rng) { t.setLink("n\(a)", "n\(b)", up: Bool.random(using: &rng)) }
            }
            var groups: [[Int]] = []
            var free = Array(0..<n).shuffled(using: &rng)
            while free.count >= 2, Int.random(in: 0..<3, using: &rng) == 0 {
                let k = Int.random(in: 2...min(4, free.count), using: &rng)
                groups.append(Array(free.prefix(k)).sorted()); free.removeFirst(k)
            }
            let s = Int.random(in: 0..<n, using: &rng)
            let r = try! ShortestPaths.compute(t, from: "n\(s)", multiHome: groups.map { $0.map { "n\($0)" } })
            #expect(r == referencePaths(t, from: s, groups: groups), "round \(round)")
        }
    }

    @Test func equalCostTiesAreBrokenByHopsThenFirstNamedNeighbour() throws {
        // a->b->d and a->c->d cost 2; a->d costs 2 in one hop.
        var t = try TopologyFile.links("a c 1\na b 1\nc d 1\nb d 1\nd e 5\n", file: "t")
        var r = try ShortestPaths.compute(t, from: "a")
        #expect(r.firstHop[t.id("d")!] == t.id("c")!)  // c was named before b
        t.link("a", "d", weight: 2)
        r = try ShortestPaths.compute(t, from: "a")
        #expect(r.firstHop[t.id("d")!] == t.id("d")! && r.hops[t.id("d")!] == 1)
        #expect(r.firstHop[t.id("e")!] == t.id("d")! && r.distance[t.id("e")!] == 7)
        // Taking a link down reroutes; bringing it up restores.
        t.setLink("a", "d", up: false)
        r = try ShortestPaths.compute(t, from: "a")
        #expect(r.firstHop[t.id("e")!] == t.id("c")!)
    }

    @Test func multiHomedHostIsOneNode() throws {
        // h1 and h2 are one host with two links; x is reached through
        // whichever is nearer, and the host's members share a distance.
        let t = try TopologyFile.links("s r1 1\nr1 h1 10\ns r2 1\nr2 h2 3\nh1 x 1\nh2 y 1\ny x 50\n", file: "t")
        let r = try ShortestPaths.compute(t, from: "s", multiHome: [["h1", "h2"]])
        #expect(r.distance[t.id("h1")!] == 4 && r.distance[t.id("h2")!] == 4)
        #expect(r.firstHop[t.id("h1")!] == t.id("r2")!)
        #expect(r.distance[t.id("x")!] == 5)  // leaves the host through h1
        let alone = try ShortestPaths.compute(t, from: "s")
        #expect(alone.distance[t.id("x")!] == 12)
        // From inside the group: every member is the source.
        let inside = try ShortestPaths.compute(t, from: "h2", multiHome: [["h1", "h2"]])
        #expect(inside.distance[t.id("h1")!] == 0 && inside.distance[t.id("x")!] == 1)
        #expect(throws: ShortestPaths.Failure.unknownNode("h3")) { try ShortestPaths.compute(t, from: "s", multiHome: [["h1", "h3"]]) }
        #expect(throws: ShortestPaths.Failure.inTwoGroups("h1")) { try ShortestPaths.compute(t, from: "s", multiHome: [["h1", "h2"], ["h1", "x"]]) }
    }

    @Test func disconnectedPartsAreUnreachable() throws {
        let t = try TopologyFile.links("a b 1\nc d 1\nb a 1\n", file: "t")
        let r = try ShortestPaths.compute(t, from: "a")
        #expect(r.distance == [0, 1, nil, nil] && r.firstHop == [-1, 1, -1, -1])
    }
}

@Suite struct TopologyFileTests {
    @Test func graphMLNamesWeightsAndDirections() throws {
        let t = try TopologyFile.parse(try TestData.text("topology/Abilene.graphml"), file: "Abilene")
        #expect(t.nodeCount == 11 && t.linkCount == 28)
        let ny = t.id("New_York")!, chi = t.id("Chicago")!
        // New York - Chicago is about 1,145 km along the great circle.
        let w = t.links[ny].first { $0.to == chi }!.weight
        #expect((1130...1160).contains(w), "\(w)")
        #expect(t.links[chi].first { $0.to == ny }?.weight == w)
        // Shared labels get the node's id; nodes without coordinates get the mean weight.
        let u = try TopologyFile.parse(try TestData.text("topology/Uninett2011.graphml"), file: "Uninett2011")
        #expect(u.names.contains { $0.hasPrefix("UiO@") } && !u.names.contains("UiO"))
        #expect(u.nodeCount == 69)
    }

    @Test func trigonometryWithoutLibm() {
        for x in stride(from: -20.0, through: 20.0, by: 0.37) {
            let s = GreatCircle.sin(x), c = GreatCircle.cos(x)
            #expect(abs(s * s + c * c - 1) < 1e-12)
            #expect(abs(GreatCircle.atan(GreatCircle.sin(x) / GreatCircle.cos(x)) - atanReference(s / c)) < 1e-12)
        }
        #expect(abs(GreatCircle.sin(.pi / 6) - 0.5) < 1e-15)
        #expect(abs(4 * GreatCircle.atan(1) - .pi) < 1e-15)
        // A quarter of the Earth's circumference, pole to equator.
        #expect(abs(GreatCircle.kilometres((90, 0), (0, 0)) - GreatCircle.earthRadiusKilometres * .pi / 2) < 1e-6)
    }

    /// atan by bisection on tan = sin/cos (independent of the series).
    func atanReference(_ y: Double) -> Double {
        var lo = -Double.pi / 2, hi = Double.pi / 2
        for _ in 0..<80 {
            let m = (lo + hi) / 2
            if GreatCircle.sin(m) / GreatCircle.cos(m) < y { lo = m } else { hi = m }
        }
        return (lo + hi) / 2
    }

    @Test(arguments: [
        ("a b\n", "t:1:4: a link needs FROM TO WEIGHT: the weight is missing"),
        ("a\n", "t:1:2: a link needs FROM TO WEIGHT: the other end is missing"),
        ("a b 1\n  a+1 b,2 x\n", "t:2:11: 'x' is not a weight (a whole number from 0 to 2^48)"),
        ("a b 1 2\n", "t:1:7: unexpected '2' after the weight"),
        ("a b -1\n", "t:1:5: '-1' is not a weight (a whole number from 0 to 2^48)"),
        ("<graphml><graph><node id=\"a\"/></graph>", "t:1:1: element <graphml> is not closed"),
        ("<graphml>\n <graph>\n  <edge source=\"a\" target=\"b\"/>\n </graph>\n</graphml>", "t:3:3: edge source 'a' is not a node"),
        ("<graphml><graph><node id=\"a\"></nod></graph></graphml>", "t:1:35: </nod> closes <node> (opened at line 1, column 17)"),
        ("<graphml><graph><node id=a/></graph></graphml>", "t:1:26: a quoted value is expected for attribute 'id'"),
        ("<graphml><graph><node id=\"a&b\"/></graph></graphml>", "t:1:28: an '&' that does not start an entity (write &amp;)"),
        ("<graph/>", "t:1:1: the root element is <graph>, not <graphml>"),
    ]) func malformedTopologiesNameLineAndColumn(text: String, message: String) {
        do {
            _ = try TopologyFile.parse(text, file: "t")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func truncatedGraphMLIsRefusedNeverCrashes() throws {
        let text = try TestData.text("topology/Abilene.graphml")
        let bytes = Array(text.utf8)
        var refused = 0
        for cut in stride(from: 0, to: bytes.count - 12, by: 97) {
            let part = String(decoding: bytes[0..<cut], as: UTF8.self)
            if (try? TopologyFile.graphML(part, file: "t")) == nil { refused += 1 }
        }
        #expect(refused == (bytes.count - 12 + 96) / 97)
    }

    @Test func xmlEntitiesCDATAAndComments() throws {
        let e = try XML.parse("<?xml version=\"1.0\"?>\n<!-- c --><a x='1 &amp; 2' y=\"&#x41;&#66;\"><![CDATA[<raw>]]>&lt;t&gt;<b/><!-- d --></a>\n")
        #expect(e.attribute("x") == "1 & 2" && e.attribute("y") == "AB")
        #expect(e.text == "<raw><t>" && e.children.map(\.name) == ["b"])
    }
}
