import BowmanControlIO
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

/// The kernel's routing tables seen through Bowman's mirror (`bowman fib`,
/// `bowman lpm --fib kernel[:TABLE]`).
public enum KernelFIB {
    /// `main`, `local`, `default` or a number.
    public static func tableID(_ name: String) -> UInt32? {
        switch name {
        case "main": 254
        case "local": 255
        case "default": 253
        default: UInt32(name)
        }
    }

    /// Parses `kernel` or `kernel:TABLE`.
    public static func parseSource(_ s: String) -> UInt32? {
        if s == "kernel" { return 254 }
        guard s.hasPrefix("kernel:") else { return nil }
        return tableID(String(s.dropFirst(7)))
    }

    /// Dumps kernel table `table` into a fresh mirror.
    public static func mirror(table: UInt32) throws(KernelFIBDriver.Failure) -> KernelFIBDriver {
        try KernelFIBDriver(mirror: FIBMirror(kernelTable: table, routes: RouteTable(name: "kernel-\(table)")))
    }

    /// One line a route: `PREFIX NEXT-HOPS` (the kernel's best route of each prefix).
    public static func lines(_ m: FIBMirror) -> [String] {
        m.routes.entries.map { "\($0.prefix) \(m.nextHops(channel: $0.channel)?.description ?? "?")" }
    }

    /// `bowman lpm --fib`: the lookups file against the kernel's table.
    public static func lookup(table: UInt32, lookups: String, emit: (String) -> Void) throws -> LPM.Totals {
        let text = try LPM.read(lookups)
        let addresses: [IPAddress]
        do throws(TextInputError) { addresses = try RouteFile.addresses(text, file: lookups) } catch { throw LPM.Failure.input(error) }
        let d = try mirror(table: table)
        var t = LPM.Totals()
        t.routes = d.mirror.routes.count
        for a in addresses {
            t.lookups += 1
            if let c = d.mirror.routes.lookup(a), let s = d.mirror.nextHops(channel: c) {
                t.matched += 1
                emit("\(a) \(s.description.replacingOccurrences(of: ", ", with: ",").replacingOccurrences(of: " ", with: "_"))")
            } else {
                emit("\(a) -")
            }
        }
        return t
    }
}
