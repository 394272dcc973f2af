/// A data-plane port, numbered by the node in the order ports are opened.
public struct PortID: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    @inlinable public init(_ rawValue: UInt16) { self.rawValue = rawValue }
    public var description: String { "port\(rawValue)" }
}

/// A NIC receive/transmit queue index.
public struct QueueID: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public var description: String { "queue\(rawValue)" }
}

/// A logical CPU number as the kernel numbers them.
public struct CoreID: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    @inlinable public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public var description: String { "cpu\(rawValue)" }
}

/// Where in a text input (rule, route, config) a problem was found; 1-based.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) { self.line = line; self.column = column }
    public var description: String { "line \(line), column \(column)" }
}
