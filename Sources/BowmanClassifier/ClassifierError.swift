import BowmanCore

/// A refused protocol definition, filter or API call: what is wrong and,
/// for text, where (1-based line and column). The classifier is unchanged.
public struct ClassifierError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var location: SourceLocation?

    public init(_ message: String, at location: SourceLocation? = nil) {
        self.message = message
        self.location = location
    }

    public var description: String {
        if let l = location { return "\(l): \(message)" }
        return message
    }
}
