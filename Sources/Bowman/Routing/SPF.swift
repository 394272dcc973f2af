import BowmanRouting
import Foundation

/// `bowman spf`: shortest paths from one node of a topology file (GraphML
/// or `FROM TO WEIGHT` lines) to every other node, a line each:
/// `NODE DISTANCE FIRST-HOP`, or `NODE unreachable`, in the file's node order.
/// Members of the source's multi-home group print distance 0 and `-`.
public enum SPF {
    public enum Failure: Error, CustomStringConvertible {
        case unreadable(String, String)
        case input(TextInputError)
        case paths(String, ShortestPaths.Failure)
        case empty(String)
        public var description: String {
            switch self {
            case .unreadable(let f, let why): "\(f): cannot read: \(why)"
            case .input(let e): e.description
            case .paths(let f, let e): "\(f): \(e)"
            case .empty(let f): "\(f): the topology has no node"
            }
        }
    }

    public static func run(topology path: String, from: String?, multiHome: [[String]] = [],
                           emit: (String) -> Void) throws(Failure) {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .unreadable(path, (error as NSError).localizedDescription)
        }
        let t: Topology
        do throws(TextInputError) { t = try TopologyFile.parse(text, file: path) } catch { throw .input(error) }
        guard let source = from ?? t.names.first else { throw .empty(path) }
        let r: ShortestPaths.Result
        do throws(ShortestPaths.Failure) { r = try ShortestPaths.compute(t, from: source, multiHome: multiHome) } catch {
            throw .paths(path, error)
        }
        for v in 0..<t.nodeCount where v != r.source {
            if let d = r.distance[v] {
                emit("\(t.names[v]) \(d) \(r.firstHop[v] < 0 ? "-" : t.names[r.firstHop[v]])")
            } else {
                emit("\(t.names[v]) unreachable")
            }
        }
    }
}
