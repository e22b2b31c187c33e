/// A growable byte buffer that libuv can write from without Swift moving it. Frames queue up
/// here while a write is in flight, and go out together in the next write.
final class OutBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>?
    private(set) var count = 0
    private var capacity = 0

    /// Appends a whole frame (length prefix included).
    func append(_ frame: [UInt8]) {
        reserve(count + frame.count)
        guard let base else { return }
        frame.withUnsafeBufferPointer { src in
            if let from = src.baseAddress { (base + count).update(from: from, count: src.count) }
        }
        count += frame.count
    }

    /// Empties the buffer; gives big allocations back so one large frame does not pin memory.
    func clear() {
        count = 0
        if capacity > 1 << 20 {
            base?.deallocate()
            base = nil
            capacity = 0
        }
    }

    private func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        let newCapacity = max(needed, capacity * 2, 4096)
        let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        if let base {
            fresh.update(from: base, count: count)
            base.deallocate()
        }
        base = fresh
        capacity = newCapacity
    }

    deinit { base?.deallocate() }
}
