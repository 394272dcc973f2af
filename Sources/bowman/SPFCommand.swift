import ArgumentParser
import Bowman

struct SPFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spf",
        abstract: "Shortest paths (Dijkstra) from one node of a topology to every other.",
        discussion: """
            FILE is GraphML (the Internet Topology Zoo's form: links both ways, weights from a \
            weight attribute or else the great-circle distance in km) or 'FROM TO WEIGHT' lines, \
            each a directed link with a whole-number weight. Prints 'NODE DISTANCE FIRST-HOP' per \
            destination in the file's node order, or 'NODE unreachable'. Equal-cost paths: fewer \
            hops win, then the first hop named first in the file.
            """)

    @Option(help: "The topology file.") var topology: String
    @Option(help: "The source node (default: the first node of the file).") var from: String?
    @Option(help: "Nodes that are one multi-homed host, space-separated (repeatable).") var multiHome: [String] = []

    func run() throws {
        do {
            try SPF.run(topology: topology, from: from,
                        multiHome: multiHome.map { $0.split(separator: " ").map(String.init) }) { print($0) }
        } catch {
            printError("bowman spf: \(error)")
            throw ExitCode(1)
        }
    }
}
