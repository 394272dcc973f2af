/// Shared plumbing of the header views: big-endian reads at an offset of a
/// packet, after the view's initialiser checked the length.
@usableFromInline
struct HeaderBytes {
    @usableFromInline let packet: UnsafeRawBufferPointer
    @usableFromInline let offset: Int

    @inlinable init(_ packet: UnsafeRawBufferPointer, _ offset: Int) { self.packet = packet; self.offset = offset }

    /// Throws a truncation error unless `needed` bytes are there from `offset`.
    @inlinable static func require(_ packet: UnsafeRawBufferPointer, _ offset: Int, _ needed: Int,
                                   _ layer: ParseError.Layer) throws(ParseError) {
        let available = max(0, packet.count - offset)
        guard offset >= 0, available >= needed else {
            throw ParseError(layer, .truncated(needed: needed, available: available), at: offset)
        }
    }

    @inlinable func u8(_ o: Int) -> UInt8 { packet.load(fromByteOffset: offset + o, as: UInt8.self) }
    @inlinable func u16(_ o: Int) -> UInt16 { UInt16(bigEndian: packet.loadUnaligned(fromByteOffset: offset + o, as: UInt16.self)) }
    @inlinable func u32(_ o: Int) -> UInt32 { UInt32(bigEndian: packet.loadUnaligned(fromByteOffset: offset + o, as: UInt32.self)) }
}
