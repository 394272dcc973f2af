@testable import BowmanIO
import BowmanTestSupport
import Testing

/// Plays the kernel's side of one AF_XDP ring on heap memory.
final class SimulatedRing {
    let producer = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    let consumer = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    let flags = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    let ring: UnsafeMutableRawPointer
    let size: UInt32, entryBytes: Int

    init(size: UInt32, entryBytes: Int, start: UInt32) {
        self.size = size; self.entryBytes = entryBytes
        ring = .allocate(byteCount: Int(size) * entryBytes, alignment: 64)
        producer.pointee = start; consumer.pointee = start; flags.pointee = 0
    }
    deinit { producer.deallocate(); consumer.deallocate(); flags.deallocate(); ring.deallocate() }

    var memory: XSKRingMemory { XSKRingMemory(producer: producer, consumer: consumer, flags: flags, ring: ring, size: size) }

    /// Kernel consumes up to n entries user space produced (fill/tx); returns their first words.
    func kernelConsume(_ n: Int) -> [UInt64] {
        var out: [UInt64] = []
        while out.count < n && consumer.pointee != producer.pointee {
            out.append(ring.load(fromByteOffset: Int(consumer.pointee & (size - 1)) * entryBytes, as: UInt64.self))
            consumer.pointee &+= 1
        }
        return out
    }

    /// Kernel produces entries for user space (rx/completion); returns how many fit.
    func kernelProduce(_ values: [(UInt64, UInt32)]) -> Int {
        var n = 0
        for (a, l) in values {
            guard producer.pointee &- consumer.pointee < size else { break }
            let o = Int(producer.pointee & (size - 1)) * entryBytes
            ring.storeBytes(of: a, toByteOffset: o, as: UInt64.self)
            if entryBytes == 16 { ring.storeBytes(of: l, toByteOffset: o + 8, as: UInt32.self) }
            producer.pointee &+= 1
            n += 1
        }
        return n
    }
}

@Suite struct XSKRingTests {
    /// Start indices: zero, just below the 2^32 wrap, and in the middle.
    static let starts: [UInt32] = [0, UInt32.max - 5, UInt32.max - 70, 1 << 31]

    @Test(arguments: starts)
    func fillRingFullEmptyAndWrap(_ start: UInt32) {
        let sim = SimulatedRing(size: 64, entryBytes: 8, start: start)
        var fill = XSKProducerRing(sim.memory)
        #expect(fill.free(wanting: 64) == 64)
        var next: UInt64 = 0
        var expected: [UInt64] = []
        // Fill to the brim: a 65th entry must not fit.
        let (n, idx) = fill.reserve(upTo: 100)
        #expect(n == 64)
        for k in 0..<n { fill.setAddress(next, at: idx &+ k); expected.append(next); next += 2048 }
        fill.submit()
        #expect(fill.reserve(upTo: 1).count == 0)
        // Kernel takes some; user space sees the room only after re-reading.
        #expect(sim.kernelConsume(10) == Array(expected[0..<10]))
        #expect(fill.reserve(upTo: 20).count == 10)
        // Many rounds across the wrap keep order and never overrun.
        var all = Array(expected[10...])
        for k in 0..<10 { fill.setAddress(next, at: idx &+ 64 &+ UInt32(k)); all.append(next); next += 2048 }
        fill.submit()
        var seen: [UInt64] = []
        for round in 0..<200 {
            seen += sim.kernelConsume(round % 7 + 1)
            let (m, i) = fill.reserve(upTo: UInt32(round % 5 + 1))
            for k in 0..<m { fill.setAddress(next, at: i &+ k); all.append(next); next += 2048 }
            fill.submit()
            #expect(sim.producer.pointee &- sim.consumer.pointee <= 64)
        }
        seen += sim.kernelConsume(1000)
        #expect(seen == all)
    }

    @Test(arguments: starts)
    func rxRingPeekReleaseAndWrap(_ start: UInt32) {
        let sim = SimulatedRing(size: 32, entryBytes: 16, start: start)
        var rx = XSKConsumerRing(sim.memory)
        #expect(rx.peek(upTo: 64).count == 0)   // empty
        var produced: [(UInt64, UInt32)] = []
        var got: [(UInt64, UInt32)] = []
        var a: UInt64 = 0
        for round in 0..<300 {
            let batch = (0..<(round % 9)).map { _ -> (UInt64, UInt32) in a += 1; return (a * 4096 + 256, UInt32(60 + a % 1400)) }
            let fit = sim.kernelProduce(batch)
            produced += batch[0..<fit]
            #expect(sim.producer.pointee &- sim.consumer.pointee <= 32)   // never beyond the ring
            let (n, i) = rx.peek(upTo: UInt32(round % 13 + 1))
            for k in 0..<n { let d = rx.descriptor(at: i &+ k); got.append((d.address, d.length)) }
            rx.release()
        }
        while true {
            let (n, i) = rx.peek(upTo: 64)
            if n == 0 { break }
            for k in 0..<n { let d = rx.descriptor(at: i &+ k); got.append((d.address, d.length)) }
            rx.release()
        }
        #expect(got.map(\.0) == produced.map(\.0) && got.map(\.1) == produced.map(\.1))
        #expect(sim.consumer.pointee == sim.producer.pointee)
    }

    @Test func fullRxRingRefusesKernelUntilReleased() {
        let sim = SimulatedRing(size: 8, entryBytes: 16, start: UInt32.max - 3)
        var rx = XSKConsumerRing(sim.memory)
        #expect(sim.kernelProduce((0..<20).map { (UInt64($0), 64) }) == 8)
        let (n, _) = rx.peek(upTo: 5)
        #expect(n == 5)
        #expect(sim.kernelProduce([(99, 64)]) == 0)   // peeked but not released: still full
        rx.release()
        #expect(sim.kernelProduce((0..<20).map { (UInt64($0), 64) }) == 5)
    }

    @Test func needWakeupFlag() {
        let sim = SimulatedRing(size: 8, entryBytes: 8, start: 0)
        let fill = XSKProducerRing(sim.memory)
        let compSim = SimulatedRing(size: 8, entryBytes: 8, start: 0)
        let comp = XSKConsumerRing(compSim.memory)
        #expect(!fill.needsWakeup)
        sim.flags.pointee = 1
        #expect(fill.needsWakeup)
        sim.flags.pointee = 0
        #expect(!fill.needsWakeup && !comp.needsWakeup)
        compSim.flags.pointee = 1
        #expect(comp.needsWakeup)
    }

    @Test func txDescriptorsAreWrittenWhole() {
        let sim = SimulatedRing(size: 4, entryBytes: 16, start: UInt32.max)
        var tx = XSKProducerRing(sim.memory)
        let (n, i) = tx.reserve(upTo: 3)
        for k in 0..<n { tx.setDescriptor(address: UInt64(k) * 2048 + 256, length: 60 + k, at: i &+ k) }
        tx.submit()
        #expect(sim.producer.pointee == UInt32.max &+ 3)
        for k in 0..<3 {
            let o = Int((UInt32.max &+ UInt32(k)) & 3) * 16
            #expect(sim.ring.load(fromByteOffset: o, as: UInt64.self) == UInt64(k) * 2048 + 256)
            #expect(sim.ring.load(fromByteOffset: o + 8, as: UInt32.self) == 60 + UInt32(k))
        }
    }
}
