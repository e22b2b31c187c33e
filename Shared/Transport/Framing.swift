import CLibUV
import Foundation
import Wire

/// Why a byte stream is not a valid sequence of frames.
public enum FrameError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The 4-byte length announces more than the configured maximum.
    case tooLarge(length: Int, max: Int)

    public var description: String {
        switch self {
        case let .tooLarge(length, max):
            "frame length \(length) bytes exceeds the maximum of \(max) bytes (raise TransportConfig.maxFrameBytes on both sides if this is intended)"
        }
    }
}

/// Splits a byte stream into frames: a 4-byte big-endian length, then that many bytes.
/// Pure Swift and socket-free so that framing is testable on its own. Bytes are appended as
/// they arrive and frames pulled out one at a time (so a reader can stop between frames when
/// it must push back). Memory grows only with bytes actually received, and the length is
/// checked against the maximum as soon as its 4 bytes are in, before the body is awaited, so a
/// lying length prefix cannot make us allocate.
///
/// Copies: frames that arrive whole are handed out from the reader's own memory
/// (`takeFrames`), and the rest of a large frame is read straight into this buffer
/// (`readSpace` / `didRead`), so a frame's bytes are copied at most once here, and mostly not at all.
/// One owner at a time: copies of a decoder share its buffer.
public struct FrameDecoder: @unchecked Sendable {
    /// Raised once a connection is authenticated (see `Handshake.maxFrameBytes`).
    public var maxFrameBytes: Int
    private let storage = Storage()
    private var start = 0          // bytes before `start` are consumed
    private var end = 0            // bytes before `end` are filled
    /// Bytes this decoder has copied (appended or moved down): what the copy tests count.
    private(set) var copiedBytes = 0

    /// Growable raw memory. Large blocks are mapped pages that grow by remapping (never by
    /// copying, whatever the heap looks like), and pages are only touched as bytes arrive.
    private final class Storage {
        var base: UnsafeMutableRawPointer?
        var capacity = 0
        private var mapped = false

        /// Room for `needed` bytes in all, the first `filled` of them kept; returns the (possibly moved) start.
        func reserve(_ needed: Int, keeping filled: Int) -> UnsafeMutableRawPointer {
            if needed <= capacity, let base { return base }
            let page = 4096
            let grown = (max(needed, capacity * 2, page) + page - 1) / page * page
            let moved: UnsafeMutableRawPointer?
            if grown < FrameDecoder.directReadBytes {
                let old = base
                moved = realloc(base, grown)
                if let old, let moved, old != moved { PayloadCopies.add(filled) }
            } else if mapped, let base {
                moved = lattice_mremap(base, capacity, grown)
            } else {
                moved = Self.map(grown)
                if let moved, let base {
                    moved.copyMemory(from: base, byteCount: filled)   // small frames piled up past the threshold
                    PayloadCopies.add(filled)
                    free(base)
                }
                mapped = moved != nil
            }
            guard let moved else { fatalError("out of memory: a frame buffer of \(grown) bytes") }
            base = moved
            capacity = grown
            return moved
        }

        private static func map(_ bytes: Int) -> UnsafeMutableRawPointer? {
            let memory = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            return memory == UnsafeMutableRawPointer(bitPattern: -1) ? nil : memory
        }

        func release() {
            if mapped { munmap(base, capacity) } else { free(base) }
            base = nil
            capacity = 0
            mapped = false
        }

        deinit { release() }
    }

    /// A frame still missing this many bytes is read straight into the buffer (below that, the
    /// copy from the shared read buffer costs less than a system call of its own).
    static let directReadBytes = 64 << 10

    public init(maxFrameBytes: Int) { self.maxFrameBytes = maxFrameBytes }

    /// Bytes held that are not yet returned as frames.
    public var bufferedBytes: Int { end - start }

    /// Bytes reserved for buffered data (tests check it tracks what arrived, not what was announced).
    var bufferedCapacity: Int { storage.capacity }

    private var bytes: UnsafeMutablePointer<UInt8>? { storage.base?.assumingMemoryBound(to: UInt8.self) }

    /// The announced length of the next frame, once its 4 length bytes have arrived.
    public var pendingFrameLength: Int? {
        guard bufferedBytes >= 4, let bytes else { return nil }
        return Self.length(bytes + start)
    }

    /// Drops consumed bytes: all of them for free when nothing is left, else by moving the rest
    /// down once it is at most half of what is held.
    private mutating func compact() {
        if start == end {
            if storage.capacity > 4 << 20 { storage.release() }
            start = 0
            end = 0
        } else if start > 0 && start >= end / 2, let base = storage.base {
            base.copyMemory(from: base + start, byteCount: end - start)
            copiedBytes += end - start
            PayloadCopies.add(end - start)
            end -= start
            start = 0
        }
    }

    /// Adds received bytes.
    public mutating func append(_ chunk: UnsafeRawBufferPointer) {
        compact()
        guard let from = chunk.baseAddress, !chunk.isEmpty else { return }
        (storage.reserve(end + chunk.count, keeping: end) + end).copyMemory(from: from, byteCount: chunk.count)
        copiedBytes += chunk.count
        PayloadCopies.add(chunk.count)
        end += chunk.count
    }

    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Hands the complete frames at the start of `chunk` to `body` straight from `chunk`'s memory
    /// (nothing buffered is ahead of them), as long as `limit` gives a maximum frame size (nil:
    /// stop, the reader pushes back); then buffers the rest. Throws `FrameError` for a length
    /// over the maximum.
    public mutating func takeFrames(from chunk: UnsafeRawBufferPointer, limit: () -> Int?,
                                    _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        var offset = 0
        defer { append(UnsafeRawBufferPointer(rebasing: chunk[offset...])) }
        guard bufferedBytes == 0, let base = chunk.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        while chunk.count - offset >= 4, let max = limit() {
            let length = Self.length(base + offset)
            guard length <= max else { throw FrameError.tooLarge(length: length, max: max) }
            guard chunk.count - offset - 4 >= length else { return }
            let body0 = base + offset + 4
            offset += 4 + length
            try body(UnsafeBufferPointer(start: body0, count: length))
        }
    }

    /// Memory to read the rest of a large pending frame into (then `didRead`), or nil when
    /// no frame of at least `directReadBytes` is missing. Grows with what arrived, never
    /// to a length only announced.
    public mutating func readSpace() -> UnsafeMutableRawBufferPointer? {
        guard let length = pendingFrameLength, length <= maxFrameBytes else { return nil }
        let missing = 4 + length - bufferedBytes
        guard missing >= Self.directReadBytes else { return nil }
        let room = min(missing, Swift.max(bufferedBytes, 256 << 10))
        return UnsafeMutableRawBufferPointer(start: storage.reserve(end + room, keeping: end) + end, count: room)
    }

    /// `count` bytes were read into the space `readSpace` gave.
    public mutating func didRead(_ count: Int) {
        precondition(end + count <= storage.capacity, "read past the space readSpace gave")
        end += count
    }

    /// The next complete frame body, or nil until more bytes arrive. Throws `FrameError` when
    /// the next length is over the maximum.
    public mutating func next() throws -> [UInt8]? {
        try withNextFrame { Array($0) }
    }

    /// Lends the next complete frame body to `body` without copying it out; nil until more
    /// bytes arrive. The pointer is valid only inside `body`.
    public mutating func withNextFrame<T>(_ body: (UnsafeBufferPointer<UInt8>) throws -> T) throws -> T? {
        guard bufferedBytes >= 4, let bytes else { return nil }
        let length = Self.length(bytes + start)
        guard length <= maxFrameBytes else { throw FrameError.tooLarge(length: length, max: maxFrameBytes) }
        guard bufferedBytes - 4 >= length else { return nil }
        let frameStart = start + 4
        start += 4 + length
        return try body(UnsafeBufferPointer(start: bytes + frameStart, count: length))
    }

    /// Appends `bytes` and hands every complete frame to `onFrame` (tests, simple callers).
    public mutating func feed(_ bytes: [UInt8], _ onFrame: ([UInt8]) -> Void) throws {
        append(bytes)
        while let body = try next() { onFrame(body) }
    }

    static func length(_ p: UnsafePointer<UInt8>) -> Int {
        Int(p[0]) << 24 | Int(p[1]) << 16 | Int(p[2]) << 8 | Int(p[3])
    }
}

/// The 4-byte big-endian length prefix of a frame body of `count` bytes.
public func framePrefix(_ count: Int) -> (UInt8, UInt8, UInt8, UInt8) {
    let n = UInt32(truncatingIfNeeded: count)
    return (UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff))
}

/// A whole frame (prefix + body) as one array; handy for tests and raw clients.
public func frame(_ body: [UInt8]) -> [UInt8] {
    let p = framePrefix(body.count)
    var out: [UInt8] = []
    out.reserveCapacity(body.count + 4)
    out.append(p.0); out.append(p.1); out.append(p.2); out.append(p.3)
    out.append(contentsOf: body)
    return out
}
