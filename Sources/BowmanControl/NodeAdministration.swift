import BowmanCore
import BowmanRouting

/// The node-administration services of the seed, sans-I/O: the Abstract
/// Link Manager (links, each becoming a channel), the Abstract Topology
/// Manager (named sets of links, several at once) and the routing manager
/// (multi-homed hosts, `calculate TOPOLOGY TABLE`: Dijkstra from this node
/// over the topology's links that are up, filling the named route table
/// with a route per destination host whose channel is the link of the first
/// hop). Each handler takes a message's text and returns the reply; a
/// message with any error changes nothing and the reply says exactly what
/// was wrong. Tables computed once are recomputed whenever a link of their
/// topology changes (a `create` of an existing link with the same hosts
/// updates its status and attributes).
public final class NodeAdministration: @unchecked Sendable {
    /// Names this node answers to (host names or addresses in ALP messages).
    public let identity: Set<String>
    /// Addresses of a host name (literal addresses resolve to themselves).
    let resolve: (String) -> [IPAddress]
    public private(set) var links: [String: (link: AbstractLink, channel: Int)] = [:]
    var nextChannel = 0
    public private(set) var topologies: [String: [String]] = [:]
    public private(set) var multiHome: [[String]] = []
    public private(set) var routeTables = RouteTables()
    /// Route tables computed, by name: their topology.
    public private(set) var calculated: [String: String] = [:]

    public init(identity: Set<String>, resolve: @escaping (String) -> [IPAddress] = { IPAddress($0).map { [$0] } ?? [] }) {
        self.identity = identity
        self.resolve = resolve
    }

    static func reply(_ e: ControlMessageError) -> String { "error: \(e)" }

    // MARK: ALM (UDP 9998)

    public func handleALP(_ text: String) -> String {
        let commands: [ALPCommand]
        do throws(ControlMessageError) { commands = try ALP.parse(text) } catch { return Self.reply(error) }
        // Check the whole message against the state as it will be, then apply.
        var next = links, channel = nextChannel
        var done: [String] = []
        for c in commands {
            switch c {
            case .create(let l):
                if let old = next[l.name] {
                    guard old.link.proto == l.proto, old.link.hosts == l.hosts else {
                        return "error: link \(l.name) exists with other hosts (destroy it first)"
                    }
                    next[l.name] = (l, old.channel)
                    done.append("updated \(l.name) (channel \(old.channel), \(l.up ? "up" : "down"))")
                } else {
                    next[l.name] = (l, channel)
                    done.append("created \(l.name) (channel \(channel), \(l.proto.rawValue) \(l.hosts.map(\.address).joined(separator: " - ")), \(l.up ? "up" : "down"))")
                    channel += 1
                }
            case .destroy(let name):
                guard next[name] != nil else { return "error: no link named \(name)" }
                if let t = topologies.first(where: { $0.value.contains(name) })?.key {
                    return "error: link \(name) is in topology \(t) (delete it there first)"
                }
                next[name] = nil
                done.append("destroyed \(name)")
            }
        }
        links = next
        nextChannel = channel
        let changed = Set(commands.map { c -> String in switch c { case .create(let l): l.name; case .destroy(let n): n } })
        return "ok: " + done.joined(separator: "; ") + recompute { changed.contains($0) }
    }

    // MARK: ATM (UDP 9999)

    public func handleATP(_ text: String) -> String {
        let m: ATPMessage
        do throws(ControlMessageError) { m = try ATP.parse(text) } catch { return Self.reply(error) }
        var list = topologies[m.name] ?? []
        for c in m.changes {
            switch c {
            case .add(let l):
                guard links[l] != nil else { return "error: no link named \(l) (create it with ALP first)" }
                guard !list.contains(l) else { return "error: link \(l) is in topology \(m.name) already" }
                list.append(l)
            case .delete(let l):
                guard let i = list.firstIndex(of: l) else { return "error: link \(l) is not in topology \(m.name)" }
                list.remove(at: i)
            }
        }
        topologies[m.name] = list
        return "ok: topology \(m.name): \(list.isEmpty ? "no links" : list.joined(separator: ", "))" + recompute(topology: m.name)
    }

    // MARK: Routing manager (UDP 9990)

    public func handleRouting(_ text: String) -> String {
        let commands: [RoutingCommand]
        do throws(ControlMessageError) { commands = try RoutingControl.parse(text) } catch { return Self.reply(error) }
        // Multi-home lists apply to the calculations of the same message and after.
        var groups = multiHome
        var results: [String] = []
        var tables: [(String, String)] = []
        for c in commands {
            switch c {
            case .multiHome(let hosts):
                for h in hosts where groups.contains(where: { $0.contains(h) }) {
                    return "error: host \(h) is in a multi_home list already"
                }
                groups.append(hosts)
                results.append("multi_home \(hosts.joined(separator: " "))")
            case .calculate(let topology, let table):
                guard topologies[topology] != nil else { return "error: no topology named \(topology)" }
                tables.append((topology, table))
            }
        }
        // Compute every table before installing any.
        var computed: [(String, String, [(IPPrefix, Int)], String)] = []
        for (topology, table) in tables {
            switch compute(topology: topology, groups: groups) {
            case .failure(let why): return "error: \(why)"
            case .success(let (routes, summary)): computed.append((topology, table, routes, summary))
            }
        }
        multiHome = groups
        for (topology, table, routes, summary) in computed {
            if let why = install(table, routes) { return "error: \(why)" }
            calculated[table] = topology
            results.append("\(table): \(summary)")
        }
        return "ok: " + results.joined(separator: "; ")
    }

    /// Recomputes the tables whose topology holds a changed link; the note to add to a reply.
    func recompute(_ changed: (String) -> Bool) -> String {
        var notes: [String] = []
        for (table, topology) in calculated.sorted(by: { $0.key < $1.key }) where (topologies[topology] ?? []).contains(where: changed) {
            notes.append(recalculate(table, topology))
        }
        return notes.isEmpty ? "" : "; " + notes.joined(separator: "; ")
    }

    func recompute(topology: String) -> String {
        let notes = calculated.sorted(by: { $0.key < $1.key }).filter { $0.value == topology }.map { recalculate($0.key, $0.value) }
        return notes.isEmpty ? "" : "; " + notes.joined(separator: "; ")
    }

    func recalculate(_ table: String, _ topology: String) -> String {
        switch compute(topology: topology, groups: multiHome) {
        case .failure(let why): return "\(table) not recomputed: \(why)"
        case .success(let (routes, summary)):
            if let why = install(table, routes) { return "\(table) not recomputed: \(why)" }
            return "\(table) recomputed: \(summary)"
        }
    }

    struct Refusal: Error, CustomStringConvertible { var why: String; var description: String { why } }

    /// Routes for this node over `topology`: (host prefix, channel of the first hop's link).
    func compute(topology name: String, groups: [[String]]) -> Result<([(IPPrefix, Int)], String), Refusal> {
        var graph = Topology()
        var linkOf: [String: [String: Int]] = [:]   // from -> to -> channel (the first link named wins)
        for l in topologies[name] ?? [] {
            guard let (link, channel) = links[l], link.hosts.count == 2 else { continue }
            let a = link.hosts[0].address, b = link.hosts[1].address
            graph.node(a); graph.node(b)     // hosts behind links that are down count as unreachable
            guard link.up else { continue }
            if link.direction != .uniIncoming { graph.link(a, b, weight: 1, keepingLower: true); linkOf[a, default: [:]][b] = linkOf[a]?[b] ?? channel }
            if link.direction != .uniOutgoing { graph.link(b, a, weight: 1, keepingLower: true); linkOf[b, default: [:]][a] = linkOf[b]?[a] ?? channel }
        }
        // Unknown hosts in multi-home lists are not in this topology: leave them out.
        let present = groups.map { $0.filter { graph.id($0) != nil } }.filter { $0.count >= 2 }
        guard let source = graph.names.first(where: { identity.contains($0) }) else {
            // Nothing is reachable from here: the table empties rather than keep routes over links that are down.
            return .success(([], "0 routes: this node (\(identity.sorted().joined(separator: ", "))) has no link that is up in topology \(name)"))
        }
        let rep: [Int]
        do throws(ShortestPaths.Failure) { rep = try ShortestPaths.groups(graph, multiHome: present) } catch {
            return .failure(Refusal(why: "\(error)"))
        }
        let r = ShortestPaths.compute(graph, from: graph.id(source)!, representative: rep)
        // This node, or the members of its multi-homed host: where a first hop's link starts.
        let members = (0..<graph.nodeCount).filter { rep[$0] == rep[r.source] }.map { graph.names[$0] }
        var routes: [(IPPrefix, Int)] = []
        var unreachable = 0, unresolved = 0
        for v in 0..<graph.nodeCount where rep[v] != rep[r.source] {
            guard r.distance[v] != nil, r.firstHop[v] >= 0 else { unreachable += 1; continue }
            let hop = graph.names[r.firstHop[v]]
            guard let channel = members.lazy.compactMap({ linkOf[$0]?[hop] }).first else { unreachable += 1; continue }
            let addresses = resolve(graph.names[v])
            if addresses.isEmpty { unresolved += 1 }
            for a in addresses {
                let full: Int = if case .v4 = a { 32 } else { 128 }
                routes.append((IPPrefix(address: a, length: full)!, channel))
            }
        }
        var summary = "\(routes.count) routes from \(source)"
        if unreachable > 0 { summary += ", \(unreachable) hosts unreachable" }
        if unresolved > 0 { summary += ", \(unresolved) host names without an address" }
        return .success((routes, summary))
    }

    /// Replaces a named table's entries (creating the table); nil or why not.
    func install(_ table: String, _ routes: [(IPPrefix, Int)]) -> String? {
        if routeTables[table] == nil {
            do throws(RouteTables.Failure) { _ = try routeTables.create(name: table) } catch { return "\(error)" }
        }
        let t = routeTables[table]!
        do throws(RouteTable.Failure) {
            let keep = Set(routes.map(\.0))
            for e in t.entries where !keep.contains(e.prefix) { try t.delete(e.prefix) }
            try t.add(contentsOf: routes.map { (prefix: $0.0, channel: $0.1) })
        } catch { return "route table \(table): \(error)" }
        return nil
    }
}
