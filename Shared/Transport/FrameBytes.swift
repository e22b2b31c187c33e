/// One whole frame (length prefix + envelope) in memory of its own that never moves, so libuv
/// can write it straight from here: no copy into a send buffer, and frames queued together go
/// out in one writev. Immutable once built, hence safe to hand between threads.
final class FrameBytes: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let count: Int

    /// Allocates `count` bytes and lets `fill` write all of them.
    init(count: Int, _ fill: (UnsafeMutableRawPointer) -> Void) {
        self.count = count
        base = .allocate(byteCount: max(count, 1), alignment: 8)
        fill(base)
    }

    /// The bytes as an array (tests, raw clients).
    var array: [UInt8] { Array(UnsafeRawBufferPointer(start: base, count: count)) }

    deinit { base.deallocate() }
}
