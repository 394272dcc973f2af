/// The topology formats of `bowman spf` and the routing manager's tests.
///
/// - Text: one directed link a line, `FROM TO WEIGHT` (the weight a whole
///   number, 0 to 2^48); node names are any words (`+`, `,` and digits
///   included). Blank lines and `#` comments are skipped. Two links between
///   the same nodes in the same direction: the lower weight is used.
/// - GraphML (the Internet Topology Zoo's form): nodes named by their
///   `label` (spaces become `_`; a missing label gives the node's id; a
///   label two nodes share is written `label@id` for each), links both ways
///   unless the graph or the edge is directed. A link's weight is its `weight`,
///   `Weight`, `LinkWeight` or `cost` data where given; otherwise the
///   great-circle distance between its ends in whole kilometres (at least 1),
///   from their `Latitude`/`Longitude`; a link with an end that has no
///   coordinates gets the mean of the file's measured links (1 if none).
///   Parallel edges: the lower weight; self-loops are ignored.
/// Anything else is refused naming the line and column.
public enum TopologyFile {
    public static let maxWeight: UInt64 = 1 << 48

    /// Reads either form (GraphML when the text starts with `<`).
    public static func parse(_ text: String, file: String) throws(TextInputError) -> Topology {
        if text.drop(while: { $0 == "\u{FEFF}" || $0.isWhitespace }).first == "<" {
            return try graphML(text, file: file)
        }
        return try links(text, file: file)
    }

    public static func links(_ text: String, file: String) throws(TextInputError) -> Topology {
        var t = Topology()
        for (n, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let w = RouteFile.words(line)
            if w.isEmpty { continue }
            func fail(_ col: Int, _ why: String) -> TextInputError { TextInputError(file: file, line: n + 1, column: col, reason: why) }
            guard w.count >= 3 else {
                let last = w[w.count - 1]
                throw fail(last.1 + last.0.count, w.count == 1 ? "a link needs FROM TO WEIGHT: the other end is missing" : "a link needs FROM TO WEIGHT: the weight is missing")
            }
            guard w.count == 3 else { throw fail(w[3].1, "unexpected '\(w[3].0)' after the weight") }
            guard w[2].0.allSatisfy({ $0.isASCII && $0.isNumber }), let weight = UInt64(w[2].0), weight <= maxWeight else {
                throw fail(w[2].1, "'\(w[2].0)' is not a weight (a whole number from 0 to 2^48)")
            }
            t.link(String(w[0].0), String(w[1].0), weight: weight, keepingLower: true)
        }
        return t
    }

    public static func graphML(_ text: String, file: String) throws(TextInputError) -> Topology {
        let root: XML.Element
        do throws(XML.Failure) { root = try XML.parse(text) } catch {
            throw TextInputError(file: file, line: error.line, column: error.column, reason: error.reason)
        }
        func fail(_ e: XML.Element, _ why: String) -> TextInputError {
            TextInputError(file: file, line: e.line, column: e.column, reason: why)
        }
        guard root.name == "graphml" || root.name.hasSuffix(":graphml") else { throw fail(root, "the root element is <\(root.name)>, not <graphml>") }
        guard let graph = root.children(named: "graph").first else { throw fail(root, "no <graph> element") }
        // Data keys by id -> attribute name.
        var keyName: [String: String] = [:]
        for k in root.children(named: "key") {
            guard let id = k.attribute("id") else { throw fail(k, "a <key> without an id") }
            keyName[id] = k.attribute("attr.name") ?? id
        }
        func data(_ e: XML.Element) -> [String: String] {
            var d: [String: String] = [:]
            for x in e.children(named: "data") {
                if let k = x.attribute("key") { d[keyName[k] ?? k] = x.text.trimmed }
            }
            return d
        }
        struct Node { var id: String; var label: String?; var coordinates: (Double, Double)?; var element: XML.Element }
        var nodes: [Node] = []
        var byID: [String: Int] = [:]
        for e in graph.children(named: "node") {
            guard let id = e.attribute("id") else { throw fail(e, "a <node> without an id") }
            guard byID[id] == nil else { throw fail(e, "node id '\(id)' is given twice") }
            let d = data(e)
            var c: (Double, Double)?
            if let la = d["Latitude"], let lo = d["Longitude"] {
                guard let a = Double(la), let b = Double(lo), (-90...90).contains(a), (-180...180).contains(b) else {
                    throw fail(e, "node '\(id)' has coordinates '\(la)', '\(lo)' that are not a latitude and a longitude")
                }
                c = (a, b)
            }
            let label = d["label"].flatMap { $0.isEmpty ? nil : String($0.map { $0.isWhitespace ? "_" : $0 }) }
            byID[id] = nodes.count
            nodes.append(Node(id: id, label: label, coordinates: c, element: e))
        }
        var labelCount: [String: Int] = [:]
        for n in nodes { if let l = n.label { labelCount[l, default: 0] += 1 } }
        let names = nodes.map { n -> String in
            guard let l = n.label else { return n.id }
            return labelCount[l]! > 1 ? "\(l)@\(n.id)" : l
        }
        let undirected = graph.attribute("edgedefault") != "directed"
        var edges: [(Int, Int, UInt64?, Bool)] = []  // from, to, weight if known, both ways
        var measured: [UInt64] = []
        for e in graph.children(named: "edge") {
            guard let s = e.attribute("source"), let d = e.attribute("target") else { throw fail(e, "an <edge> needs a source and a target") }
            guard let a = byID[s] else { throw fail(e, "edge source '\(s)' is not a node") }
            guard let b = byID[d] else { throw fail(e, "edge target '\(d)' is not a node") }
            let both = e.attribute("directed").map { $0 == "false" } ?? undirected
            let dd = data(e)
            var w: UInt64?
            if let text = dd["weight"] ?? dd["Weight"] ?? dd["LinkWeight"] ?? dd["cost"] {
                guard let x = Double(text), x >= 0, x <= Double(maxWeight) else { throw fail(e, "edge weight '\(text)' is not a number from 0 to 2^48") }
                w = UInt64(x.rounded())
            } else if let p = nodes[a].coordinates, let q = nodes[b].coordinates {
                w = max(1, UInt64(GreatCircle.kilometres(p, q).rounded()))
                measured.append(w!)
            }
            edges.append((a, b, w, both))
        }
        let fallback = measured.isEmpty ? 1 : max(1, measured.reduce(0, +) / UInt64(measured.count))
        var t = Topology()
        for n in names { t.node(n) }
        for (a, b, w, both) in edges {
            if a == b { continue }
            t.link(names[a], names[b], weight: w ?? fallback, keepingLower: true)
            if both { t.link(names[b], names[a], weight: w ?? fallback, keepingLower: true) }
        }
        return t
    }
}

extension String {
    var trimmed: String { String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()) }
}

/// Great-circle distance on a sphere of the Earth's mean radius (haversine),
/// with its own sine, cosine and arctangent so the module needs no libm.
public enum GreatCircle {
    public static let earthRadiusKilometres = 6371.0088

    /// Distance in km between (latitude, longitude) points given in degrees.
    public static func kilometres(_ p: (Double, Double), _ q: (Double, Double)) -> Double {
        let r = Double.pi / 180
        let dLat = (q.0 - p.0) * r, dLon = (q.1 - p.1) * r
        let s1 = sin(dLat / 2), s2 = sin(dLon / 2)
        let h = min(1, max(0, s1 * s1 + cos(p.0 * r) * cos(q.0 * r) * s2 * s2))
        // 2 asin(sqrt h) = 2 atan2(sqrt h, sqrt(1 - h))
        return 2 * earthRadiusKilometres * atan2(h.squareRoot(), (1 - h).squareRoot())
    }

    /// sin x by its Taylor series after reduction to [-pi, pi] (error < 1e-15).
    public static func sin(_ x: Double) -> Double {
        var y = x.truncatingRemainder(dividingBy: 2 * .pi)
        if y > .pi { y -= 2 * .pi } else if y < -.pi { y += 2 * .pi }
        var term = y, sum = y
        let y2 = y * y
        var k = 1.0
        while k < 40 {
            term *= -y2 / ((k + 1) * (k + 2))
            sum += term
            k += 2
        }
        return sum
    }

    public static func cos(_ x: Double) -> Double { sin(x + .pi / 2) }

    /// atan x for any x: halve the angle until |x| <= 0.2, then the series.
    public static func atan(_ x: Double) -> Double {
        if x < 0 { return -atan(-x) }
        if x > 1 { return .pi / 2 - atan(1 / x) }
        var y = x, scale = 1.0
        while y > 0.2 { y = y / (1 + (1 + y * y).squareRoot()); scale *= 2 }
        var term = y, sum = y
        let y2 = y * y
        var k = 1.0
        while k < 41 {
            term *= -y2
            sum += term / (k + 2)
            k += 2
        }
        return scale * sum
    }

    /// atan2 for y >= 0, x >= 0 (all haversine needs), and the other quadrants.
    public static func atan2(_ y: Double, _ x: Double) -> Double {
        if x > 0 { return atan(y / x) }
        if x < 0 { return y >= 0 ? atan(y / x) + .pi : atan(y / x) - .pi }
        return y > 0 ? .pi / 2 : (y < 0 ? -.pi / 2 : 0)
    }
}
