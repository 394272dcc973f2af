/// Ownership of one frame of a `FramePool`. It cannot be copied, so a frame
/// has exactly one owner; `FramePool.release(_:)` consumes it, which makes a
/// double release a compile error. A second owner (multicast replication) is
/// made explicitly with `FramePool.share(_:)`, which bumps the reference count.
///
/// At a boundary with a kernel ring the handle is turned into its raw frame
/// index (`intoIndex()`) and back (`init(adoptingIndex:)`); the pool's
/// accounting catches a frame that comes back twice.
@frozen public struct FrameHandle: ~Copyable {
    /// The frame number inside its pool.
    public let index: UInt32

    /// Takes ownership of a frame index that came back from a ring or a burst.
    @inlinable public init(adoptingIndex index: UInt32) { self.index = index }

    /// Gives up the handle and returns the raw index, for a ring or burst.
    @inlinable public consuming func intoIndex() -> UInt32 {
        let i = index
        discard self
        return i
    }

    @inlinable deinit {
        // Reaching here means a frame was dropped without being released or
        // handed to a ring: a leak. Debug builds stop; release builds leak the
        // frame, which `FramePool.audit()` then reports.
        assertionFailure("FrameHandle \(index) dropped without release")
    }
}
