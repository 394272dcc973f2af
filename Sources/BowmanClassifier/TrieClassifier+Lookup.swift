import BowmanCore

// Lookup (hot): per-packet key extraction and the tree walk, single and in
// bursts of sixteen lanes. Runs on the data cores: no allocation, no locks,
// no retains, no existentials; everything reads the immutable View.

extension TrieClassifier.View {
    /// The demux id of the best matching rule, or -1.
    @inlinable
    public func match(_ p: UnsafeRawBufferPointer) -> Int {
        let r = matchRule(p)
        return r < 0 ? -1 : demux[r]
    }

    /// The index (policy order) of the best matching rule, or -1.
    @inlinable
    public func matchRule(_ p: UnsafeRawBufferPointer) -> Int {
        withKey(of: p) { key, regular in regular ? walk(key) : fallback.matchRule(p, excluding: nil) }
    }

    /// `body` with the key of one packet and whether it is regular (the
    /// burst extraction with one lane, its scratch on the stack).
    @inlinable @inline(__always)
    func withKey<R>(of p: UnsafeRawBufferPointer, _ body: (UnsafeMutablePointer<UInt16>, Bool) -> R) -> R {
        let keyWords = (Swift.max(1, slots) + 3) / 4
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: keyWords + headers.count + 2) { tmp -> R in
            let key = UnsafeMutableRawPointer(tmp.baseAddress.unsafelyUnwrapped).assumingMemoryBound(to: UInt16.self)
            let irregular = withUnsafePointer(to: p) {
                symbolsOfLanes(UnsafeBufferPointer(start: $0, count: 1), 0, 1, tmp.baseAddress.unsafelyUnwrapped + keyWords, key, lanes: 1)
            }
            return body(key, irregular == 0)
        }
    }

    /// Demux ids of a burst of packets (`results[i]` for `packets[i]`):
    /// sixteen packets walk the trees together, so the dependent loads of one
    /// overlap with the others'.
    @inlinable
    public func match(burst packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, into results: UnsafeMutablePointer<Int>) {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: scratchWords) { tmp in
            match(burst: packets, into: results, scratch: tmp.baseAddress.unsafelyUnwrapped)
        }
    }

    /// Rule indices (policy order, -1 for none) of a burst of packets.
    @inlinable
    public func matchRules(burst packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, into results: UnsafeMutablePointer<Int>) {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: scratchWords) { tmp in
            matchRules(burst: packets, into: results, scratch: tmp.baseAddress.unsafelyUnwrapped)
        }
    }

    /// Words of scratch a burst lookup needs (sixteen keys and the header positions).
    public var scratchWords: Int { Self.scratchWords(positions: headers.count) }

    /// `scratchWords` for tables of `positions` header positions: sixteen
    /// keys, each lane's packet and header spans, the same-shape path's checks.
    public static func scratchWords(positions: Int) -> Int {
        lanes * keyStride / 4 + lanes * (positions + 2) + 1 + 13 * positions + 8
    }

    /// Key entries between two lanes' keys in a burst: the most any key
    /// holds, so a lane's key is a constant offset from the first.
    public static let keyStride = TrieClassifier.maxSlots

    /// `matchRules(burst:into:)` with the caller's scratch (at least
    /// `scratchWords` words): what a worker calls, so nothing is allocated
    /// whatever the size of the key.
    @inlinable
    public func matchRules(burst packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, into results: UnsafeMutablePointer<Int>,
                           scratch tmp: UnsafeMutablePointer<UInt64>) {
        burst(packets, into: results, scratch: tmp, demuxIDs: false)
    }

    /// Demux ids of a burst (-1: none) with the caller's scratch.
    @inlinable
    public func match(burst packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, into results: UnsafeMutablePointer<Int>,
                      scratch tmp: UnsafeMutablePointer<UInt64>) {
        burst(packets, into: results, scratch: tmp, demuxIDs: true)
    }

    /// The burst lookup: rule indices, or their demux ids (-1: none either way).
    @inlinable @inline(__always)
    func burst(_ packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, into results: UnsafeMutablePointer<Int>,
               scratch tmp: UnsafeMutablePointer<UInt64>, demuxIDs: Bool) {
        // Sixteen keys of 16-bit symbols, then the header spans.
        let keys = UnsafeMutableRawPointer(tmp).assumingMemoryBound(to: UInt16.self), scratch = tmp + Self.lanes * Self.keyStride / 4
        var first = 0
        while first < packets.count {
            let n = min(Self.lanes, packets.count - first)
            let irregular = symbolsOfLanes(packets, first, n, scratch, keys, lanes: Self.lanes)
            let r = walkLanes(keys)
            withUnsafeBytes(of: r) { rs in
                for l in 0..<n {
                    let rule = rs.load(fromByteOffset: MemoryLayout<Int>.stride * l, as: Int.self)
                    results[first + l] = rule < demux.count ? (demuxIDs ? demux[rule] : rule) : -1
                }
            }
            if irregular != 0 {
                for l in 0..<n where irregular >> l & 1 != 0 {
                    let rule = fallback.matchRule(packets[first + l], excluding: nil)
                    results[first + l] = demuxIDs && rule >= 0 ? demux[rule] : rule
                }
            }
            first += n
        }
    }

    /// Lane l's packet (`packets[first + l]`, the last repeated past `n`) as
    /// `base[l]`, `counts[l]`: what the extraction reads.
    @inlinable @inline(__always)
    func setLanes(_ packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, _ first: Int, _ n: Int,
                  _ base: UnsafeMutablePointer<UnsafeRawPointer?>, _ counts: UnsafeMutablePointer<Int>, lanes: Int) {
        let from = packets.baseAddress.unsafelyUnwrapped + first
        if n == lanes {
            for l in 0..<lanes { base[l] = from[l].baseAddress; counts[l] = from[l].count }
            return
        }
        for l in 0..<lanes {
            let p = from[Swift.min(l, n &- 1)]
            base[l] = p.baseAddress
            counts[l] = p.count
        }
    }

    /// The length a one-byte length field's value `v` gives, from its
    /// position word `d` (mask, addend, shift, multiplier); 0: not walkable.
    @inlinable @inline(__always)
    static func fieldLength(_ d: UInt64, _ v: UInt64) -> Int {
        Int(truncatingIfNeeded: (((v & ((d >> 32) & 0xFF)) &+ ((d >> 54) & 0xFF)) >> ((d >> 40) & 0x3F)) &* ((d >> 46) & 0xFF))
    }

    /// Eight key entries: the bytes at `p + o`, widened to symbols.
    @inlinable @inline(__always)
    static func storeChunk(_ k: UnsafeMutablePointer<UInt16>, _ p: UnsafeRawPointer, _ o: Int) {
        let v = p.loadUnaligned(fromByteOffset: o, as: SIMD8<UInt8>.self)
        UnsafeMutableRawPointer(k).storeBytes(of: SIMD8<UInt16>(truncatingIfNeeded: v), as: SIMD8<UInt16>.self)
    }

    /// Eight key entries of a dead header (symbol 256).
    @inlinable @inline(__always)
    static func storeAbsent(_ k: UnsafeMutablePointer<UInt16>) {
        UnsafeMutableRawPointer(k).storeBytes(of: SIMD8<UInt16>(repeating: 256), as: SIMD8<UInt16>.self)
    }

    /// Where guard word `g`'s byte lies in lane l (its ancestor's start in `spans`, plus its offset).
    @inlinable @inline(__always)
    static func guardOffset(_ g: UInt64, _ spans: UnsafeMutablePointer<Int32>, lanes: Int, lane l: Int) -> Int {
        Int(spans[2 &* lanes &* Int(truncatingIfNeeded: (g >> 32) & 0xFFFF) &+ 2 &* l]) &+ Int(truncatingIfNeeded: (g >> 8) & 0xFFFF)
    }

    /// The keys, one symbol (0…256) per key entry, of `lanes` packets
    /// (`packets[first...]`, the last repeated when fewer than `lanes`
    /// remain; lane l's key at `keys + l * keyStride`), header position by
    /// header position and chunk by chunk, so each description is decoded
    /// once for all lanes and the lanes' loads overlap; the mask of lanes
    /// that are not regular (their keys all zeros). `scratch`: lanes ×
    /// (positions + 2) + 1 + 13 × positions + 8 words (with more than one lane).
    @inlinable @inline(__always)
    func symbolsOfLanes(_ packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, _ first: Int, _ n: Int,
                        _ scratch: UnsafeMutablePointer<UInt64>, _ keys: UnsafeMutablePointer<UInt16>, lanes: Int) -> Int {
        let slots = Swift.max(1, self.slots)
        let base = UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: UnsafeRawPointer?.self)
        let counts = UnsafeMutableRawPointer(scratch + lanes).assumingMemoryBound(to: Int.self)
        let spans = UnsafeMutableRawPointer(scratch + 2 &* lanes).assumingMemoryBound(to: Int32.self)   // [position][lane]: start, end
        setLanes(packets, first, n, base, counts, lanes: lanes)
        if lanes > 1 {
            // Without guards first (the same answers: a guard only kills headers no matching rule
            // can use), then with them, which line up more traffic but cost more.
            let checks = scratch + (lanes &* (headers.count &+ 2) &+ 1)
            // An earlier group of this burst may have left a plan that fits this one too.
            let plan = checks + 13 &* headers.count
            if first == 0 { plan[0] = 0 }
            if plan[0] != 0 && sameShapeAgain(lanes, base, counts, spans, checks, keys) { return 0 }
            if keysOfSameShape(lanes, base, counts, spans, checks, keys, guarded: false)
                || (anyGuards && keysOfSameShape(lanes, base, counts, spans, checks, keys, guarded: true)) { return 0 }
        }
        var irregular = 0
        let words = positionWords.baseAddress.unsafelyUnwrapped, guards = positionGuards.baseAddress.unsafelyUnwrapped
        // Guards matter only to packets too short for a header: elsewhere a
        // header they would kill reads bytes no matching rule uses.
        /// Whether guard `g` leaves its position dead in lane l (its byte is there and holds another value).
        @inline(__always) func guardFails(_ g: UInt64, _ l: Int) -> Bool {
            guard g != 0 else { return false }
            let at = Self.guardOffset(g, spans, lanes: lanes, lane: l)
            return at < counts[l] && base[l].unsafelyUnwrapped.load(fromByteOffset: at, as: UInt8.self) != UInt8(truncatingIfNeeded: g)
        }
        for k in 0..<headers.count {
            let a = words[2 &* k], d = words[2 &* k &+ 1]
            let g0 = guards[2 &* k], g1 = guards[2 &* k &+ 1]
            let par = Int(truncatingIfNeeded: Int32(truncatingIfNeeded: a)), need = Int(truncatingIfNeeded: (a >> 32) & 0xFFFF)
            let row = spans + 2 &* lanes &* k, parentRow = spans + 2 &* lanes &* Swift.max(0, par)
            let fixed = Int(truncatingIfNeeded: d & 0xFFFF)
            if fixed != 0 || d >> 63 != 0 {
                for l in 0..<lanes {
                    let start = par < 0 ? 0 : Int(parentRow[2 &* l &+ 1])
                    var end = start < 0 ? -1 : fixed != 0 ? start &+ fixed
                        : headers.end(k, UnsafeRawBufferPointer(start: base[l], count: counts[l]), start)
                    if end >= 0 && counts[l] &- start < need {
                        // Too short for the bytes its rules read: dead if its guards fail, else not regular.
                        if guardFails(g0, l) || guardFails(g1, l) { end = -1 } else { irregular |= 1 << l }
                    }
                    row[2 &* l] = Int32(truncatingIfNeeded: end < 0 ? -1 : start)
                    row[2 &* l &+ 1] = Int32(truncatingIfNeeded: end)
                }
            } else {
                // A one-byte length field (IPv4 IHL, TCP data offset, extension lengths).
                let at = Int(truncatingIfNeeded: (d >> 16) & 0xFFFF)
                for l in 0..<lanes {
                    let start = par < 0 ? 0 : Int(parentRow[2 &* l &+ 1])
                    var end = -1
                    if start >= 0 && start &+ at < counts[l] {
                        let len = Self.fieldLength(d, UInt64(base[l].unsafelyUnwrapped.load(fromByteOffset: start &+ at, as: UInt8.self)))
                        end = len > 0 ? start &+ len : -1
                    }
                    if end >= 0 && counts[l] &- start < need {
                        // Too short for the bytes its rules read: dead if its guards fail, else not regular.
                        if guardFails(g0, l) || guardFails(g1, l) { end = -1 } else { irregular |= 1 << l }
                    }
                    row[2 &* l] = Int32(truncatingIfNeeded: end < 0 ? -1 : start)
                    row[2 &* l &+ 1] = Int32(truncatingIfNeeded: end)
                }
            }
        }
        let chunks = self.chunks.baseAddress.unsafelyUnwrapped
        for r in 0..<self.chunks.count {
            let d = chunks[r]
            let pos = Int(truncatingIfNeeded: d & 0xFFFF), off = Int(truncatingIfNeeded: (d >> 16) & 0xFFFF)
            let width = Int(truncatingIfNeeded: (d >> 32) & 0xFFFF), at = Int(truncatingIfNeeded: d >> 48)
            let row = spans + 2 &* lanes &* pos
            for l in 0..<lanes {
                let k = keys + (l &* Self.keyStride &+ at)
                let b = Int(row[2 &* l])
                if b >= 0 && b &+ off &+ 8 <= counts[l] {
                    // Live and inside the packet (bytes past the width are never read by a node).
                    Self.storeChunk(k, base[l].unsafelyUnwrapped, b &+ off)
                } else if b >= 0 && irregular >> l & 1 == 0 {
                    // Live and regular: the width it tests is inside the packet.
                    for j in 0..<width { k[j] = UInt16(base[l].unsafelyUnwrapped.load(fromByteOffset: b &+ off &+ j, as: UInt8.self)) }
                } else {
                    Self.storeAbsent(k)
                }
            }
        }
        let live = liveSlots.baseAddress.unsafelyUnwrapped
        for i in 0..<liveSlots.count {
            let d = live[i]
            let at = Int(truncatingIfNeeded: d & 0xFFFF), row = spans + 2 &* lanes &* Int(truncatingIfNeeded: (d >> 16) & 0xFFFF)
            for l in 0..<lanes { keys[l &* Self.keyStride &+ at] = row[2 &* l] >= 0 ? 1 : 0 }
        }
        if irregular != 0 {
            for l in 0..<lanes where irregular >> l & 1 != 0 { for s in 0..<slots { keys[l &* Self.keyStride &+ s] = 0 } }
        }
        return irregular
    }

    /// The fast path of `symbolsOfLanes`: when every lane's headers start
    /// where lane 0's do (the one-byte length fields of headers that others
    /// follow hold lane 0's values under their masks) and every lane holds
    /// every byte its live headers' rules read, each chunk is at one offset
    /// in every packet: a load at a constant offset per lane, no span per
    /// lane. A header nothing follows may be live in some lanes and dead in
    /// others (TCP's data offset read in a UDP packet): one bit per lane.
    /// The usual case (a burst of one kind of traffic). `guarded`: headers
    /// whose guards fail (`positionGuards`) are dead — in every lane for a
    /// followed header, lane by lane for one nothing follows. False when a
    /// lane's headers start elsewhere, a lane is not regular, or a header's
    /// length is not a one-byte field (the general path then rewrites
    /// everything).
    /// `checks`: 13 × positions + 8 words (the last eight: the plan `sameShapeAgain` reuses).
    @inlinable @inline(__always)
    func keysOfSameShape(_ lanes: Int, _ base: UnsafeMutablePointer<UnsafeRawPointer?>, _ counts: UnsafeMutablePointer<Int>,
                         _ spans: UnsafeMutablePointer<Int32>, _ checks: UnsafeMutablePointer<UInt64>,
                         _ keys: UnsafeMutablePointer<UInt16>, guarded: Bool) -> Bool {
        let words = positionWords.baseAddress.unsafelyUnwrapped
        let positions = headers.count
        checks[13 &* positions] = 0   // no plan until this one is complete
        let dead = checks + positions   // per position, the lanes where it is dead
        let guardChecks = checks + 2 &* positions   // guard bytes compared in every lane: at | value << 32 | (1 if it held) << 40
        let guards = positionGuards.baseAddress.unsafelyUnwrapped
        var guardCount = 0
        let p0 = base[0].unsafelyUnwrapped, count0 = counts[0]
        let allLanes = lanes >= 64 ? UInt64.max : (1 << UInt64(lanes)) &- 1
        // `checks`: length bytes every lane must match from the front, headers live lane by lane from the back.
        var limit = 0, ceiling = Int.max, checkCount = 0, leafCount = 0
        // Lane 0's spans (`spans[2 * lanes * k]`: start, end), what every
        // lane must hold, and the length bytes to compare or decode per lane.
        for k in 0..<positions {
            let a = words[2 &* k], d = words[2 &* k &+ 1]
            let par = Int(truncatingIfNeeded: Int32(truncatingIfNeeded: a)), need = Int(truncatingIfNeeded: (a >> 32) & 0xFFFF)
            let followed = a >> 63 != 0
            let from = par < 0 ? 0 : Int(spans[2 &* lanes &* par &+ 1])   // the parent's end (followed: the same in every lane)
            let fixed = Int(truncatingIfNeeded: d & 0xFFFF)
            var end = -1
            dead[k] = 0
            // Guards: a byte another guard already compared in every lane
            // is known; the others are compared in every lane (a followed
            // header: its children must start alike) or decide lane by lane
            // (a header nothing follows).
            var guardsPerLane = false
            if guarded && from >= 0 && guards[2 &* k] != 0 {
                var held = true
                for gi in 0..<2 where guards[2 &* k &+ gi] != 0 {
                    let g = guards[2 &* k &+ gi]
                    let at = Self.guardOffset(g, spans, lanes: lanes, lane: 0)
                    guard at < count0 else { return false }
                    let key = UInt64(at) | (g & 0xFF) << 32
                    var known = -1
                    for j in 0..<guardCount where guardChecks[j] & 0xFF_FFFF_FFFF == key { known = Int(truncatingIfNeeded: guardChecks[j] >> 40) }
                    if known < 0 && !followed { guardsPerLane = true; continue }
                    if known < 0 {
                        let holds = p0.load(fromByteOffset: at, as: UInt8.self) == UInt8(truncatingIfNeeded: g)
                        known = holds ? 1 : 0
                        guardChecks[guardCount] = key | UInt64(known) << 40
                        guardCount &+= 1
                        limit = Swift.max(limit, at &+ 1)
                    }
                    held = held && known == 1
                }
                if !held {
                    dead[k] = allLanes
                    spans[2 &* lanes &* k] = -1
                    spans[2 &* lanes &* k &+ 1] = -1
                    continue
                }
            }
            if from >= 0 && !followed && d >> 63 == 0 && (fixed == 0 || guardsPerLane) {
                // A header nothing follows, with a length field or guards of
                // its own: live or dead lane by lane; lanes live here must
                // hold `need` bytes.
                leafCount &+= 1
                checks[positions &- leafCount] = UInt64(from) | UInt64(k) << 48 | (guardsPerLane ? 1 << 47 : 0)
                spans[2 &* lanes &* k] = Int32(truncatingIfNeeded: from)
                spans[2 &* lanes &* k &+ 1] = 0
                continue
            }
            if from >= 0 {
                if fixed != 0 {
                    end = from &+ fixed
                } else if d >> 63 != 0 {
                    return false   // a length only `headers.end` reads
                } else {
                    let at = from &+ Int(truncatingIfNeeded: (d >> 16) & 0xFFFF)
                    if at >= count0 {
                        // Past lane 0's end: dead, as in every lane no longer.
                        ceiling = Swift.min(ceiling, at)
                    } else {
                        let mask = (d >> 32) & 0xFF, v = UInt64(p0.load(fromByteOffset: at, as: UInt8.self)) & mask
                        let len = Self.fieldLength(d, v)
                        end = len > 0 ? from &+ len : -1
                        checks[checkCount] = UInt64(at) | mask << 32 | v << 40
                        checkCount &+= 1
                        limit = Swift.max(limit, at &+ 1)
                    }
                }
            }
            if end >= 0 {
                guard count0 &- from >= need else { return false }
                limit = Swift.max(limit, from &+ need)
            } else {
                dead[k] = allLanes
            }
            spans[2 &* lanes &* k] = Int32(truncatingIfNeeded: end < 0 ? -1 : from)
            spans[2 &* lanes &* k &+ 1] = Int32(truncatingIfNeeded: end)
        }
        var shortest = Int.max, outside = false
        for l in 0..<lanes {
            let count = counts[l]
            outside = outside || count < limit || count > ceiling
            shortest = Swift.min(shortest, count)
        }
        if outside { return false }
        // The bytes every lane must hold as lane 0 does (length fields under
        // their masks, guards that held), eight at a time where every packet
        // is long enough: a window is an offset, a mask and a value. The
        // rest are compared byte by byte (kept at the front of their lists).
        let windows = checks + 4 &* positions
        var windowCount = 0, windowEnd = 0
        @inline(__always) func windowed(_ at: Int, _ mask: UInt8, _ v: UInt8) -> Bool {
            for j in 0..<windowCount {
                let w = Int(truncatingIfNeeded: windows[3 &* j])
                if at >= w && at < w &+ 8 {
                    let shift = UInt64(truncatingIfNeeded: (at &- w) &* 8)
                    windows[3 &* j &+ 1] |= UInt64(mask) << shift
                    windows[3 &* j &+ 2] |= UInt64(v & mask) << shift
                    return true
                }
            }
            let w = Swift.max(0, at &- 4)   // room for neighbours on both sides
            guard w &+ 8 <= shortest else { return false }
            let shift = UInt64(truncatingIfNeeded: (at &- w) &* 8)
            windows[3 &* windowCount] = UInt64(w)
            windows[3 &* windowCount &+ 1] = UInt64(mask) << shift
            windows[3 &* windowCount &+ 2] = UInt64(v & mask) << shift
            windowCount &+= 1
            windowEnd = Swift.max(windowEnd, w &+ 8)
            return true
        }
        var guardBytes = 0
        for i in 0..<guardCount {
            let c = guardChecks[i]
            let at = Int(truncatingIfNeeded: c & 0xFFFF_FFFF), v = UInt8(truncatingIfNeeded: c >> 32), held = c >> 40 != 0
            if held && windowed(at, 0xFF, v) { continue }
            // A guard that failed in lane 0 (or a byte too near the end): lane by lane.
            guardChecks[guardBytes] = c
            guardBytes &+= 1
        }
        var lengthBytes = 0
        for i in 0..<checkCount {
            let c = checks[i]
            let at = Int(truncatingIfNeeded: c & 0xFFFF_FFFF), mask = UInt8(truncatingIfNeeded: c >> 32), v = UInt8(truncatingIfNeeded: c >> 40)
            if windowed(at, mask, v) { continue }
            checks[lengthBytes] = c
            lengthBytes &+= 1
        }
        // The plan, for the next groups of the burst (`sameShapeAgain`).
        let plan = checks + 13 &* positions
        plan[0] = guarded ? 2 : 1
        plan[1] = UInt64(limit); plan[2] = UInt64(bitPattern: Int64(ceiling))
        plan[3] = UInt64(windowEnd); plan[4] = UInt64(windowCount)
        plan[5] = UInt64(lengthBytes); plan[6] = UInt64(guardBytes); plan[7] = UInt64(leafCount)
        if keysAsPlanned(lanes, base, counts, spans, checks, keys, shortest: shortest) { return true }
        plan[0] = 0
        return false
    }

    /// The same-shape path for a group after the first of its burst: when
    /// the plan an earlier group left (`keysOfSameShape`: lane 0's spans,
    /// the bytes every lane must hold as it did, which headers are dead)
    /// holds for every lane of this one, the keys without planning again.
    @inlinable @inline(__always)
    func sameShapeAgain(_ lanes: Int, _ base: UnsafeMutablePointer<UnsafeRawPointer?>, _ counts: UnsafeMutablePointer<Int>,
                        _ spans: UnsafeMutablePointer<Int32>, _ checks: UnsafeMutablePointer<UInt64>,
                        _ keys: UnsafeMutablePointer<UInt16>) -> Bool {
        let plan = checks + 13 &* headers.count
        let limit = Int(truncatingIfNeeded: plan[1]), ceiling = Int(truncatingIfNeeded: plan[2]), windowEnd = Int(truncatingIfNeeded: plan[3])
        var shortest = Int.max, outside = false
        for l in 0..<lanes {
            let count = counts[l]
            outside = outside || count < limit || count > ceiling
            shortest = Swift.min(shortest, count)
        }
        return !outside && shortest >= windowEnd && keysAsPlanned(lanes, base, counts, spans, checks, keys, shortest: shortest)
    }

    /// The second half of the same-shape path: every lane holds the bytes
    /// the plan names as lane 0 did (windows, then single bytes), headers
    /// nothing follows live or dead lane by lane, then the chunks at one
    /// offset per lane. `shortest`: the shortest lane (at least the plan's
    /// `windowEnd`).
    @inlinable @inline(__always)
    func keysAsPlanned(_ lanes: Int, _ base: UnsafeMutablePointer<UnsafeRawPointer?>, _ counts: UnsafeMutablePointer<Int>,
                       _ spans: UnsafeMutablePointer<Int32>, _ checks: UnsafeMutablePointer<UInt64>,
                       _ keys: UnsafeMutablePointer<UInt16>, shortest: Int) -> Bool {
        let words = positionWords.baseAddress.unsafelyUnwrapped
        let guards = positionGuards.baseAddress.unsafelyUnwrapped
        let positions = headers.count
        let dead = checks + positions, guardChecks = checks + 2 &* positions, windows = checks + 4 &* positions
        let plan = checks + 13 &* positions
        let windowCount = Int(truncatingIfNeeded: plan[4]), lengthBytes = Int(truncatingIfNeeded: plan[5])
        let guardBytes = Int(truncatingIfNeeded: plan[6]), leafCount = Int(truncatingIfNeeded: plan[7])
        for j in 0..<windowCount {
            let w = Int(truncatingIfNeeded: windows[3 &* j]), mask = windows[3 &* j &+ 1], v = windows[3 &* j &+ 2]
            var differ: UInt64 = 0
            for l in 0..<lanes { differ |= (base[l].unsafelyUnwrapped.loadUnaligned(fromByteOffset: w, as: UInt64.self) & mask) ^ v }
            if differ != 0 { return false }
        }
        for i in 0..<guardBytes {
            let c = guardChecks[i]
            let at = Int(truncatingIfNeeded: c & 0xFFFF_FFFF), v = UInt8(truncatingIfNeeded: c >> 32), held = c >> 40 != 0
            var differ = false
            for l in 0..<lanes { differ = differ || (base[l].unsafelyUnwrapped.load(fromByteOffset: at, as: UInt8.self) == v) != held }
            if differ { return false }
        }
        for i in 0..<lengthBytes {
            let c = checks[i]
            let at = Int(truncatingIfNeeded: c & 0xFFFF_FFFF), mask = UInt8(truncatingIfNeeded: c >> 32), v = UInt8(truncatingIfNeeded: c >> 40)
            var differ: UInt8 = 0
            for l in 0..<lanes { differ |= (base[l].unsafelyUnwrapped.load(fromByteOffset: at, as: UInt8.self) & mask) ^ v }
            if differ != 0 { return false }
        }
        for i in 0..<leafCount {
            // A header nothing follows: its guards and its length decide whether it is live, lane by lane.
            let c = checks[positions &- 1 &- i]
            let k = Int(truncatingIfNeeded: c >> 48), from = Int(truncatingIfNeeded: c & 0xFFFF_FFFF)
            let d = words[2 &* k &+ 1], need = Int(truncatingIfNeeded: (words[2 &* k] >> 32) & 0xFFFF)
            let computed = d & 0xFFFF == 0, guardsPerLane = c >> 47 & 1 != 0
            let at = from &+ Int(truncatingIfNeeded: (d >> 16) & 0xFFFF)
            // Guard bytes lie in ancestors, which start alike in every lane (lane 0's spans) and are held whole.
            let g0 = guardsPerLane ? guards[2 &* k] : 0, g1 = guardsPerLane ? guards[2 &* k &+ 1] : 0
            let at0 = g0 != 0 ? Self.guardOffset(g0, spans, lanes: lanes, lane: 0) : 0
            let at1 = g1 != 0 ? Self.guardOffset(g1, spans, lanes: lanes, lane: 0) : 0
            var deadLanes: UInt64 = 0, short = false
            for l in 0..<lanes {
                let p = base[l].unsafelyUnwrapped
                var live = (g0 == 0 || p.load(fromByteOffset: at0, as: UInt8.self) == UInt8(truncatingIfNeeded: g0))
                    && (g1 == 0 || p.load(fromByteOffset: at1, as: UInt8.self) == UInt8(truncatingIfNeeded: g1))
                if live && computed {
                    live = false
                    if at < counts[l] { live = Self.fieldLength(d, UInt64(p.load(fromByteOffset: at, as: UInt8.self))) > 0 }
                }
                if live { short = short || counts[l] &- from < need } else { deadLanes |= 1 << UInt64(l) }
            }
            if short { return false }
            dead[k] = deadLanes
        }
        // Every lane is regular, its headers where lane 0's are, and at least `shortest` bytes long.
        let chunks = self.chunks.baseAddress.unsafelyUnwrapped
        for r in 0..<self.chunks.count {
            let d = chunks[r]
            let pos = Int(truncatingIfNeeded: d & 0xFFFF)
            let b = Int(spans[2 &* lanes &* pos]), deadLanes = dead[pos]
            let at = Int(truncatingIfNeeded: d >> 48)
            let o = b &+ Int(truncatingIfNeeded: (d >> 16) & 0xFFFF)
            let width = Int(truncatingIfNeeded: (d >> 32) & 0xFFFF)
            let wide = o &+ 8 <= shortest
            if deadLanes == 0 && wide {
                for l in 0..<lanes { Self.storeChunk(keys + (l &* Self.keyStride &+ at), base[l].unsafelyUnwrapped, o) }
                continue
            }
            for l in 0..<lanes {
                let k = keys + (l &* Self.keyStride &+ at)
                if deadLanes >> UInt64(l) & 1 != 0 {
                    Self.storeAbsent(k)
                } else if wide {
                    Self.storeChunk(k, base[l].unsafelyUnwrapped, o)
                } else {
                    // Near a packet's end: the width rules read (inside every live lane's `need`).
                    let p = base[l].unsafelyUnwrapped
                    for j in 0..<width { k[j] = UInt16(p.load(fromByteOffset: o &+ j, as: UInt8.self)) }
                }
            }
        }
        let live = liveSlots.baseAddress.unsafelyUnwrapped
        for i in 0..<liveSlots.count {
            let d = live[i]
            let at = Int(truncatingIfNeeded: d & 0xFFFF), deadLanes = dead[Int(truncatingIfNeeded: (d >> 16) & 0xFFFF)]
            for l in 0..<lanes { keys[l &* Self.keyStride &+ at] = deadLanes >> UInt64(l) & 1 != 0 ? 0 : 1 }
        }
        return true
    }

    /// Whether the first sixteen of `packets` take `keysOfSameShape` (for tests).
    func takesSameShapePath(_ packets: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> Bool {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: scratchWords) { tmp in
            let t = tmp.baseAddress.unsafelyUnwrapped, lanes = Self.lanes
            let keys = UnsafeMutableRawPointer(t).assumingMemoryBound(to: UInt16.self), scratch = t + lanes * Self.keyStride / 4
            let base = UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: UnsafeRawPointer?.self)
            let counts = UnsafeMutableRawPointer(scratch + lanes).assumingMemoryBound(to: Int.self)
            setLanes(packets, 0, packets.count, base, counts, lanes: lanes)
            let spans = UnsafeMutableRawPointer(scratch + 2 * lanes).assumingMemoryBound(to: Int32.self)
            let checks = scratch + (lanes * (headers.count + 2) + 1)
            return keysOfSameShape(lanes, base, counts, spans, checks, keys, guarded: false)
                || (anyGuards && keysOfSameShape(lanes, base, counts, spans, checks, keys, guarded: true))
        }
    }

    /// One step from state `s` (a target: a node, or a leaf, which steps
    /// to itself) on the symbol its level reads: the node's run table, the
    /// symbol's run in it, the target of the run. `rows`: the rows' base.
    @inlinable @inline(__always)
    static func step(_ s: Int, _ symbol: UInt16, _ rows: UnsafeRawPointer) -> Int {
        let table = Int(rows.load(fromByteOffset: s, as: Int32.self))
        let run = Int(rows.load(fromByteOffset: table &+ Int(symbol), as: UInt8.self))
        return Int(rows.load(fromByteOffset: s &+ 4 &+ run &* 4, as: Int32.self))
    }

    /// The rows' base (targets and run tables are byte offsets from it).
    @inlinable @inline(__always)
    var rowsBase: UnsafeRawPointer { UnsafeRawPointer(rows.baseAddress.unsafelyUnwrapped + rowBase) }

    /// The rule index a leaf names (`demux.count`: none).
    @inlinable @inline(__always)
    func rule(_ leaf: Int) -> Int { (leaf >> 3) &+ demux.count &+ 1 }   // inverts `TrieClassifier.leafOffset`

    /// The best rule for one key: trees in priority order, the first leaf
    /// naming a rule wins. -1 for none.
    @inlinable @inline(__always)
    func walk(_ key: UnsafeMutablePointer<UInt16>) -> Int {
        var visited = 0   // unused here: folded away
        return walk(key, visited: &visited)
    }

    /// `walk`, counting the nodes it steps through (passing nodes too).
    @inlinable @inline(__always)
    func walk(_ key: UnsafeMutablePointer<UInt16>, visited: inout Int) -> Int {
        var best = demux.count
        let rows = rowsBase
        for t in 0..<treeRoot.count {
            guard best > treeFirstRule[t], holdsCommon(t, key) else { continue }
            var s = Int(treeRoot[t])
            var j = Int(levelStart[t])
            while s >= 0 {
                s = Self.step(s, key[Int(levels[j])], rows)
                visited &+= 1
                j &+= 1
            }
            best = Swift.min(best, rule(s))
        }
        return best < demux.count ? best : -1
    }

    /// Sixteen lanes of rule indices (`demux.count`: none).
    public typealias Leaves = (Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int)
    /// Lanes a burst walk advances together.
    public static let lanes = 16

    /// `walk` for sixteen keys at once, the lanes in registers, level by
    /// level: at a level every lane reads the same key entry, so its
    /// symbol's load waits for nothing, and the loads of one lane's step
    /// overlap the others'. Every lane steps at every level (one at a leaf
    /// steps in place: no test per level, no branch per lane); a tree no
    /// lane enters is not walked.
    @inlinable @inline(__always)
    func walkLanes(_ keys: UnsafeMutablePointer<UInt16>) -> Leaves {
        let none = demux.count
        let rows = rowsBase, stride = Self.keyStride
        var r0 = none, r1 = none, r2 = none, r3 = none, r4 = none, r5 = none, r6 = none, r7 = none, r8 = none, r9 = none, r10 = none, r11 = none, r12 = none, r13 = none, r14 = none, r15 = none
        let skip = TrieClassifier.leafOffset(none, rules: none)   // the leaf "no rule": where a lane that skips a tree waits
        for t in 0..<treeRoot.count {
            let root = Int(treeRoot[t]), first = treeFirstRule[t]
            // Lanes enter this tree if they hold no better rule yet and its
            // common tests hold; with a pair table, two levels down.
            let pair = Int(treePair[2 &* t]), rootTable = rows.assumingMemoryBound(to: UInt8.self) + Int(treePair[2 &* t &+ 1])
            let pairTable = pairs.baseAddress.unsafelyUnwrapped + Swift.max(0, pair)
            var level = Int(levelStart[t])
            let end = Int(levelStart[t &+ 1])
            // (A pair table means two levels at least.)
            let e0 = pair >= 0 ? Int(levels[level]) : 0, e1 = pair >= 0 ? Int(levels[level &+ 1]) : 0
            if pair >= 0 { level &+= 2 }
            @inline(__always) func enter(_ l: Int, _ r: Int) -> Int {
                let k = keys + l &* stride
                guard r > first && holdsCommon(t, k) else { return skip }
                guard pair >= 0 else { return root }
                return Int(pairTable[Int(rootTable[Int(k[e0])]) &* 257 &+ Int(k[e1])])
            }
            var s0 = enter(0, r0), s1 = enter(1, r1), s2 = enter(2, r2), s3 = enter(3, r3)
            var s4 = enter(4, r4), s5 = enter(5, r5), s6 = enter(6, r6), s7 = enter(7, r7)
            var s8 = enter(8, r8), s9 = enter(9, r9), s10 = enter(10, r10), s11 = enter(11, r11)
            var s12 = enter(12, r12), s13 = enter(13, r13), s14 = enter(14, r14), s15 = enter(15, r15)
            if (s0 & s1 & s2 & s3 & s4 & s5 & s6 & s7 & s8 & s9 & s10 & s11 & s12 & s13 & s14 & s15) < 0 { level = end }
            while level < end {
                let k = keys + Int(levels[level])
                s0 = Self.step(s0, k[0 &* stride], rows); s1 = Self.step(s1, k[1 &* stride], rows)
                s2 = Self.step(s2, k[2 &* stride], rows); s3 = Self.step(s3, k[3 &* stride], rows)
                s4 = Self.step(s4, k[4 &* stride], rows); s5 = Self.step(s5, k[5 &* stride], rows)
                s6 = Self.step(s6, k[6 &* stride], rows); s7 = Self.step(s7, k[7 &* stride], rows)
                s8 = Self.step(s8, k[8 &* stride], rows); s9 = Self.step(s9, k[9 &* stride], rows)
                s10 = Self.step(s10, k[10 &* stride], rows); s11 = Self.step(s11, k[11 &* stride], rows)
                s12 = Self.step(s12, k[12 &* stride], rows); s13 = Self.step(s13, k[13 &* stride], rows)
                s14 = Self.step(s14, k[14 &* stride], rows); s15 = Self.step(s15, k[15 &* stride], rows)
                level &+= 1
            }
            r0 = Swift.min(r0, rule(s0)); r1 = Swift.min(r1, rule(s1)); r2 = Swift.min(r2, rule(s2)); r3 = Swift.min(r3, rule(s3))
            r4 = Swift.min(r4, rule(s4)); r5 = Swift.min(r5, rule(s5)); r6 = Swift.min(r6, rule(s6)); r7 = Swift.min(r7, rule(s7))
            r8 = Swift.min(r8, rule(s8)); r9 = Swift.min(r9, rule(s9)); r10 = Swift.min(r10, rule(s10)); r11 = Swift.min(r11, rule(s11))
            r12 = Swift.min(r12, rule(s12)); r13 = Swift.min(r13, rule(s13)); r14 = Swift.min(r14, rule(s14)); r15 = Swift.min(r15, rule(s15))
        }
        return (r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13, r14, r15)
    }

    /// Benchmark aid: extracts the keys of a burst only (no walk), to tell
    /// the two halves of a lookup apart; returns a checksum.
    public func extractOnly(burst packets: UnsafeBufferPointer<UnsafeRawBufferPointer>, scratch tmp: UnsafeMutablePointer<UInt64>) -> UInt64 {
        let keys = UnsafeMutableRawPointer(tmp).assumingMemoryBound(to: UInt16.self), scratch = tmp + Self.lanes * Self.keyStride / 4
        var sum: UInt64 = 0
        var first = 0
        while first < packets.count {
            let n = min(Self.lanes, packets.count - first)
            sum &+= UInt64(symbolsOfLanes(packets, first, n, scratch, keys, lanes: Self.lanes))
            if slots > 0 { sum &+= UInt64(keys[0]) &+ UInt64(keys[slots - 1]) }
            first += n
        }
        return sum
    }

    /// Whether the tree answers `p` (else the bit-vector tables do): every
    /// header position is dead or holds every byte rules read from it.
    public func isRegular(_ p: UnsafeRawBufferPointer) -> Bool {
        withKey(of: p) { _, regular in regular }
    }

    /// Nodes a lookup of `p` visits (for the benchmark's report).
    public func nodesVisited(_ p: UnsafeRawBufferPointer) -> Int {
        withKey(of: p) { key, regular in
            var visited = 0
            if regular { _ = walk(key, visited: &visited) }
            return visited
        }
    }

    /// The key holds tree t's common slot tests.
    @inlinable @inline(__always)
    func holdsCommon(_ t: Int, _ key: UnsafeMutablePointer<UInt16>) -> Bool {
        let words = Int(commonExact[2 &* t &+ 1])
        if words >= 0 {
            let w = commonWords.baseAddress.unsafelyUnwrapped + 3 &* Int(commonExact[2 &* t])
            var differ: UInt64 = 0
            for i in 0..<words {
                let v = UnsafeRawPointer(key + Int(w[3 &* i])).loadUnaligned(as: UInt64.self)
                differ |= (v & w[3 &* i &+ 1]) ^ w[3 &* i &+ 2]
            }
            return differ == 0
        }
        var ok: UInt64 = 1
        for i in Int(commonStart[t])..<Int(commonStart[t + 1]) {
            let sym = Int(key[Int(commonSlot[i])])
            ok &= commonSet[i * 5 + sym >> 6] >> UInt64(sym & 63)
        }
        return ok & 1 != 0
    }

}
