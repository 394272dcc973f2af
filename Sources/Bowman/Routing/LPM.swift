import BowmanCore
import BowmanRouting
import Foundation

/// `bowman lpm`: builds one route table from a routes file and looks up
/// every address of a lookups file in it, printing `ADDRESS NEXT-HOP` (or
/// `ADDRESS -`) a line. Both files are read whole and checked before
/// anything is printed: a malformed line refuses the run, naming the file,
/// line and column.
public enum LPM {
    public struct Totals: Sendable {
        public var routes = 0, lookups = 0, matched = 0
        public var buildNanoseconds: UInt64 = 0
    }

    public enum Failure: Error, CustomStringConvertible {
        case unreadable(String, String)
        case input(TextInputError)
        case table(String, RouteTable.Failure)
        public var description: String {
            switch self {
            case .unreadable(let f, let why): "\(f): cannot read: \(why)"
            case .input(let e): e.description
            case .table(let f, let e): "\(f): routes refused: \(e)"
            }
        }
    }

    static func read(_ path: String) throws(Failure) -> String {
        do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .unreadable(path, (error as NSError).localizedDescription)
        }
    }

    /// Runs the lookups; `emit` gets each output line in the lookups file's order.
    public static func run(routes: String, lookups: String, emit: (String) -> Void) throws(Failure) -> Totals {
        var t = Totals()
        let routeText = try read(routes), lookupText = try read(lookups)
        let entries: [(prefix: IPPrefix, nextHop: String)]
        let addresses: [IPAddress]
        do throws(TextInputError) {
            entries = try RouteFile.routes(routeText, file: routes)
            addresses = try RouteFile.addresses(lookupText, file: lookups)
        } catch { throw .input(error) }
        var names = NextHopNames()
        let table = RouteTable(name: "lpm")
        let start = DispatchTime.now().uptimeNanoseconds
        // One batch: IPv4 nodes rebuilt once per /16.
        let batch = entries.map { (prefix: $0.prefix, channel: names.id($0.nextHop)) }
        do throws(RouteTable.Failure) { try table.add(contentsOf: batch) } catch { throw .table(routes, error) }
        t.buildNanoseconds = DispatchTime.now().uptimeNanoseconds - start
        t.routes = table.count
        for a in addresses {
            t.lookups += 1
            if let nh = table.lookup(a) {
                t.matched += 1
                emit("\(a) \(names[nh])")
            } else {
                emit("\(a) -")
            }
        }
        return t
    }
}
