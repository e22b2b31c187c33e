/// One whole frame (length prefix + envelope) in one allocation of its own (header and bytes
/// together) that never moves, so libuv can write it straight from here: no copy into a send
/// buffer, and frames queued together go out in one writev. A large payload may instead stay in
/// its own array (`tail`): the frame's own bytes are then the part before the payload and the
/// part after it, and the writev takes the three pieces in wire order, so the payload is never
/// copied into the frame. Immutable once built, hence safe to hand between threads.
struct FrameBytes: @unchecked Sendable {
    /// The frame's own bytes, how many of them come before the tail, and the tail: bytes that go
    /// on the wire after the first `split` own bytes, from their own array. (In the object, so a
    /// frame stays one reference wide.)
    private struct Layout { let count: Int, split: Int, tail: [UInt8]? }
    private let storage: ManagedBuffer<Layout, UInt8>

    var tail: [UInt8]? { storage.header.tail }

    /// Allocates `count` bytes and lets `fill` write all of them.
    static func make(count: Int, _ fill: (UnsafeMutableRawPointer) -> Void) -> FrameBytes {
        make(count: count, tail: nil, after: count, fill)
    }

    /// As `make(count:_:)`, with `tail`'s bytes going on the wire after the first `split` of them.
    static func make(count: Int, tail: [UInt8]?, after split: Int, _ fill: (UnsafeMutableRawPointer) -> Void) -> FrameBytes {
        let frame = make(count: count, tail: tail, after: split)
        fill(frame.base)
        return frame
    }

    /// A frame whose `count` own bytes are not written yet: the caller fills them (at `base`)
    /// before handing the frame on.
    static func make(count: Int, tail: [UInt8]?, after split: Int) -> FrameBytes {
        FrameBytes(storage: .create(minimumCapacity: max(count, 1)) { _ in Layout(count: count, split: split, tail: tail) })
    }

    /// The whole frame's bytes on the wire.
    var count: Int {
        let layout = storage.header
        return layout.count + (layout.tail?.count ?? 0)
    }

    /// The frame's own bytes' address, stable for the frame's life (tail-allocated in the object).
    var base: UnsafeMutableRawPointer { storage.withUnsafeMutablePointerToElements { UnsafeMutableRawPointer($0) } }

    /// Calls `body` with the frame's pieces in wire order, leaving out its first `skip` bytes:
    /// one piece, or three around a tail (written in place: a native array's buffer does not
    /// move while the frame holds it unchanged, so the address stays valid while the frame lives).
    func forEachPiece(skipping skip: Int = 0, _ body: (UnsafeRawPointer, Int) -> Void) {
        let layout = storage.header, own = UnsafeRawPointer(base)
        guard let tail = layout.tail, !tail.isEmpty, let tailStart = tail.withUnsafeBytes({ $0.baseAddress }) else {
            if skip < layout.count { body(own + skip, layout.count - skip) }
            return
        }
        var skip = skip
        for (start, count) in [(own, layout.split), (tailStart, tail.count), (own + layout.split, layout.count - layout.split)] {
            if skip < count { body(start + skip, count - skip) }
            skip = max(skip - count, 0)
        }
    }

    /// The bytes as an array (tests, raw clients).
    var array: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        forEachPiece { out.append(contentsOf: UnsafeRawBufferPointer(start: $0, count: $1)) }
        return out
    }
}
