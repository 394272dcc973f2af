/// Odyssey's info registry: every module registers what it can show under
/// a name (`ports`, `routes`, `flows`, ...), with a help text, a `list`
/// (an indexed table, one line per element) and a `show` (detail on one
/// element by index). Text interfaces (the Hal console, `bowman ctl`)
/// read it; they never reach into a module. Actions that change state
/// (`set`, `clear`, `capture`, `reload`) register as commands. Lives on
/// the management thread.
public final class InfoRegistry {
    public struct Entry {
        public var name: String
        public var help: String
        /// One line per element, each beginning with its index.
        public var list: () -> [String]
        /// Detail on the element `index`; nil when there is no such element.
        public var show: (String) -> [String]?
        public init(name: String, help: String, list: @escaping () -> [String], show: @escaping (String) -> [String]?) {
            self.name = name; self.help = help; self.list = list; self.show = show
        }
    }

    /// A command besides help/list/show/quit: its words after the name in,
    /// reply lines out, or an error message.
    public struct Command {
        public var name: String
        public var usage: String
        public var help: String
        public var run: ([String]) -> Result<[String], HalError>
        public init(name: String, usage: String, help: String, run: @escaping ([String]) -> Result<[String], HalError>) {
            self.name = name; self.usage = usage; self.help = help; self.run = run
        }
    }

    public private(set) var entries: [String: Entry] = [:]
    public private(set) var commands: [String: Command] = [:]
    public init() {}

    /// Adds or replaces `entry` (a module re-registers after a reload).
    public func put(_ entry: Entry) { entries[entry.name] = entry }
    public func remove(_ name: String) { entries[name] = nil }
    public func get(_ name: String) -> Entry? { entries[name] }
    public func put(_ command: Command) { commands[command.name] = command }
    public var names: [String] { entries.keys.sorted() }
}

/// Why a console command was refused.
public struct HalError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// What a sans-I/O stream protocol (the console, the metrics endpoint)
/// asks of its connection.
public enum StreamOutput: Equatable, Sendable {
    case send([UInt8])
    /// Close the connection (after sending what came before), for this reason.
    case close(String)
}
