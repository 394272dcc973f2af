import BowmanCore

/// Packets a router holds while their next hop is resolved: bounded per
/// key (a neighbour) and in all, each kept at most `holdMilliseconds`
/// (Linux keeps 101 per neighbour for as long as resolution runs; the
/// seed's ARP service gives up after 3 s). Sans-I/O; times in ms.
public struct HoldQueue<Key: Hashable & Sendable>: Sendable {
    public struct Held: Sendable, Equatable {
        public var bytes: [UInt8]
        public var input: Int
        public var since: UInt64
    }
    public let perKey: Int
    public let limit: Int
    public let holdMilliseconds: UInt64
    var queues: [Key: [Held]] = [:]
    public private(set) var count = 0
    /// Refused because a queue or the whole was full.
    public private(set) var refused: UInt64 = 0
    /// Dropped after waiting `holdMilliseconds`.
    public private(set) var expired: UInt64 = 0

    public init(perKey: Int = 16, limit: Int = 1024, holdMilliseconds: UInt64 = 3_000) {
        self.perKey = perKey; self.limit = limit; self.holdMilliseconds = holdMilliseconds
    }

    /// Holds a packet for `key`; false (counted) when there is no room.
    public mutating func hold(_ bytes: [UInt8], input: Int, for key: Key, now: UInt64) -> Bool {
        guard count < limit, queues[key, default: []].count < perKey else {
            refused += 1
            return false
        }
        queues[key, default: []].append(Held(bytes: bytes, input: input, since: now))
        count += 1
        return true
    }

    /// Takes every packet held for `key`, oldest first.
    public mutating func release(_ key: Key) -> [Held] {
        guard let q = queues.removeValue(forKey: key) else { return [] }
        count -= q.count
        return q
    }

    /// Takes the packets that waited too long, with their keys.
    public mutating func expire(now: UInt64) -> [(Key, Held)] {
        var out: [(Key, Held)] = []
        for (k, q) in queues {
            let old = q.prefix { now >= $0.since + holdMilliseconds }
            guard !old.isEmpty else { continue }
            out += old.map { (k, $0) }
            let rest = Array(q.dropFirst(old.count))
            queues[k] = rest.isEmpty ? nil : rest
            count -= old.count
        }
        expired += UInt64(out.count)
        return out.sorted { $0.1.since < $1.1.since }
    }

    public var keys: [Key] { Array(queues.keys) }
}

/// A token bucket (`rate` per second, at most `burst` at once): what limits
/// the ICMP errors a router sends (Linux: `icmp_msgs_per_sec` 1000, burst
/// 50). Sans-I/O; times in ms.
public struct TokenBucket: Sendable {
    public let rate: Double
    public let burst: Double
    var tokens: Double
    var last: UInt64
    public private(set) var refused: UInt64 = 0

    public init(rate: Double = 1000, burst: Double = 50, now: UInt64 = 0) {
        self.rate = rate; self.burst = burst; tokens = burst; last = now
    }

    /// Takes a token if there is one.
    public mutating func take(now: UInt64) -> Bool {
        if now > last {
            tokens = min(burst, tokens + Double(now - last) * rate / 1000)
            last = now
        }
        guard tokens >= 1 else {
            refused += 1
            return false
        }
        tokens -= 1
        return true
    }

    /// Whether it would be full by `now` (nothing taken for a burst's worth of time).
    func isFull(at now: UInt64) -> Bool {
        tokens + Double(now > last ? now - last : 0) * rate / 1000 >= burst
    }
}

/// ICMP errors limited per destination as Linux does (`icmp_ratelimit`,
/// 1000 ms: one a second to each host, a burst of 6), so one host's bad
/// traffic cannot take the whole global budget. Bounded: at most
/// `capacity` destinations are remembered; when full, those whose bucket
/// has refilled are forgotten first (they are where a new one starts),
/// then the rest.
public struct PerDestinationLimiter: Sendable {
    public let rate: Double
    public let burst: Double
    public let capacity: Int
    var buckets: [IPAddress: TokenBucket] = [:]
    public private(set) var refused: UInt64 = 0
    public var count: Int { buckets.count }

    public init(rate: Double = 1, burst: Double = 6, capacity: Int = 4096) {
        self.rate = rate; self.burst = burst; self.capacity = max(1, capacity)
    }

    /// Takes a token for an error to `destination`.
    public mutating func take(_ destination: IPAddress, now: UInt64) -> Bool {
        if buckets[destination] == nil && buckets.count >= capacity { evict(now: now) }
        var b = buckets[destination] ?? TokenBucket(rate: rate, burst: burst, now: now)
        let ok = b.take(now: now)
        buckets[destination] = b
        if !ok { refused += 1 }
        return ok
    }

    mutating func evict(now: UInt64) {
        buckets = buckets.filter { !$0.value.isFull(at: now) }
        if buckets.count >= capacity {
            // Every remembered host is still limited: forget half of them.
            for k in Array(buckets.keys.prefix(buckets.count / 2 + 1)) { buckets[k] = nil }
        }
    }
}
