import BowmanControl
import BowmanCore
import BowmanSystem

/// The sockets of the node-administration services: UDP 9998 (ALM), 9999
/// (ATM) and 9990 (routing manager) on one address; each datagram is one
/// message, and the reply (`ok: ...` or `error: ...`) goes back to its
/// sender. Ports are parameters so tests can run several nodes on one host.
public final class NodeAdministrationDriver {
    public let node: NodeAdministration
    let sockets: [(socket: UDPSocket, handle: (NodeAdministration, String) -> String)]
    var buffer = [UInt8](repeating: 0, count: 65_536)
    /// Messages answered, and replies that could not be sent.
    public private(set) var answered = 0, unsent = 0
    /// Called with each message's sender and the reply sent.
    public var onAnswer: (SocketAddress, String) -> Void = { _, _ in }

    public var descriptors: [Int32] { sockets.map(\.socket.descriptor) }

    public init(node: NodeAdministration, address: IPAddress,
                ports: (alm: UInt16, atm: UInt16, routing: UInt16) = (ALP.port, ATP.port, RoutingControl.port)) throws(SocketError) {
        self.node = node
        let family: AddressFamily = if case .v4 = address { .v4 } else { .v6 }
        var s: [(UDPSocket, (NodeAdministration, String) -> String)] = []
        for (port, handle) in [(ports.alm, { $0.handleALP($1) }), (ports.atm, { $0.handleATP($1) }),
                               (ports.routing, { $0.handleRouting($1) })] as [(UInt16, (NodeAdministration, String) -> String)] {
            let u = try UDPSocket(family)
            try u.bind(SocketAddress(address, port: port))
            s.append((u, handle))
        }
        sockets = s
    }

    /// Answers every message waiting on the sockets in `readable`.
    public func service(readable: Set<Int32>) throws(SocketError) {
        for (socket, handle) in sockets where readable.contains(socket.descriptor) {
            while true {
                let got = buffer.withUnsafeMutableBytes { b in Result { () throws(SocketError) in try socket.receive(into: b) } }
                guard let (n, from) = try got.get() else { break }
                let text = String(decoding: buffer[0..<n], as: UTF8.self)
                let reply = handle(node, text)
                answered += 1
                onAnswer(from, reply)
                if !(try socket.send(Array((reply + "\n").utf8), to: from)) { unsent += 1 }
            }
        }
    }
}
