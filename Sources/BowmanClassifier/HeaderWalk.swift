import BowmanCore

/// Owns the memory compiled tables point into (freed with the tables).
final class TableStorage: @unchecked Sendable {
    private var frees: [() -> Void] = []
    func own<T>(_ a: [T]) -> UnsafeBufferPointer<T> {
        let b = UnsafeMutableBufferPointer<T>.allocate(capacity: max(1, a.count))
        _ = b.initialize(from: a)
        frees.append { b.deallocate() }
        return UnsafeBufferPointer(rebasing: UnsafeBufferPointer(b)[0..<a.count])
    }
    deinit { for f in frees { f() } }
}

/// The header positions a rule set walks — a trie of the header chains its
/// filters name (ethernet → ip → udp …) — as the compiled forms build it.
struct HeaderPositions {
    var parents: [Int32] = []
    var protos: [ProtocolDefinition] = []
    private var child: [Int32: [String: Int32]] = [:]

    /// The position of `headers[h]` along the chain `headers[0...h]`.
    mutating func position(_ headers: [ProtocolDefinition], upTo h: Int) -> Int32 {
        var at: Int32 = -1
        for i in 0...h {
            if let c = child[at]?[headers[i].name] { at = c; continue }
            let k = Int32(parents.count)
            parents.append(at); protos.append(headers[i])
            child[at, default: [:]][headers[i].name] = k
            at = k
        }
        return at
    }

    /// The flat form workers read, its arrays owned by `storage`.
    func walk(_ storage: TableStorage) -> HeaderWalk {
        var lf: [Int32] = [], lo: [Int32] = [], ll: [Int32] = [], lm: [UInt64] = [], ls: [Int32] = [], lx: [Int32] = [], la: [Int32] = []
        for p in protos {
            switch p.headerLength {
            case .fixed(let n): lf.append(Int32(n)); lo.append(0); ll.append(0); lm.append(0); ls.append(0); lx.append(0); la.append(0)
            case .computed(let f, let mask, let shift, let mult, let add):
                lf.append(0); lo.append(Int32(f.offset)); ll.append(Int32(f.length)); lm.append(mask); ls.append(Int32(shift))
                lx.append(Int32(mult)); la.append(Int32(add))
            }
        }
        return HeaderWalk(parent: storage.own(parents), lengthFixed: storage.own(lf), lengthFieldOffset: storage.own(lo),
                          lengthFieldLength: storage.own(ll), lengthMask: storage.own(lm), lengthShift: storage.own(ls),
                          lengthMultiplier: storage.own(lx), lengthAddend: storage.own(la))
    }
}

/// Where every header position of a packet starts and ends, in flat arrays
/// (per position: its parent, a fixed length or the field, mask, addend,
/// shift and multiplier of a computed one).
@frozen public struct HeaderWalk: @unchecked Sendable {
    public let parent: UnsafeBufferPointer<Int32>
    public let lengthFixed: UnsafeBufferPointer<Int32>
    public let lengthFieldOffset: UnsafeBufferPointer<Int32>
    public let lengthFieldLength: UnsafeBufferPointer<Int32>
    public let lengthMask: UnsafeBufferPointer<UInt64>
    public let lengthShift: UnsafeBufferPointer<Int32>
    public let lengthMultiplier: UnsafeBufferPointer<Int32>
    public let lengthAddend: UnsafeBufferPointer<Int32>

    public var count: Int { parent.count }

    /// Where the header at position k starting at `start` ends, or -1 when
    /// its length cannot be read or is zero (the reference's rule).
    @inlinable @inline(__always)
    public func end(_ k: Int, _ p: UnsafeRawBufferPointer, _ start: Int) -> Int {
        let fixed = Int(lengthFixed[k])
        if fixed > 0 { return start + fixed }
        let at = start + Int(lengthFieldOffset[k]), len = Int(lengthFieldLength[k])
        guard at + len <= p.count else { return -1 }
        // One-byte length fields (IPv4 IHL, TCP offset, extension lengths) read directly.
        let raw = len == 1 ? UInt64(p.baseAddress.unsafelyUnwrapped.load(fromByteOffset: at, as: UInt8.self))
                           : FieldValue(loading: p, at: at, length: len).low
        let v = ((raw & lengthMask[k]) &+ UInt64(lengthAddend[k])) >> UInt64(lengthShift[k])
        let n = Int(v) * Int(lengthMultiplier[k])
        return n > 0 ? start + n : -1
    }
}
