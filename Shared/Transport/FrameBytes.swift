/// One whole frame (length prefix + envelope) in one allocation of its own (header and bytes
/// together) that never moves, so libuv can write it straight from here: no copy into a send
/// buffer, and frames queued together go out in one writev. Immutable once built, hence safe to
/// hand between threads.
struct FrameBytes: @unchecked Sendable {
    private let storage: ManagedBuffer<Int, UInt8>

    /// Allocates `count` bytes and lets `fill` write all of them.
    static func make(count: Int, _ fill: (UnsafeMutableRawPointer) -> Void) -> FrameBytes {
        let frame = FrameBytes(storage: .create(minimumCapacity: max(count, 1)) { _ in count })
        fill(frame.base)
        return frame
    }

    var count: Int { storage.header }

    /// The bytes' address, stable for the frame's life (tail-allocated in the object).
    var base: UnsafeMutableRawPointer { storage.withUnsafeMutablePointerToElements { UnsafeMutableRawPointer($0) } }

    /// The bytes as an array (tests, raw clients).
    var array: [UInt8] { Array(UnsafeRawBufferPointer(start: base, count: count)) }
}
