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
/// Pure Swift and socket-free so that framing is testable on its own. The length is checked
/// against the maximum before any byte of the body is stored, and memory grows only with bytes
/// actually received, so a lying length prefix cannot make us allocate.
public struct FrameDecoder: Sendable {
    public let maxFrameBytes: Int
    /// Bytes received that do not yet make a whole frame.
    private var partial: [UInt8] = []

    public init(maxFrameBytes: Int) { self.maxFrameBytes = maxFrameBytes }

    /// Bytes held while waiting for the rest of a frame.
    public var bufferedBytes: Int { partial.count }

    /// The announced length of the frame being received, once its header has arrived.
    public var pendingFrameLength: Int? {
        partial.count >= 4 ? Self.length(partial[0], partial[1], partial[2], partial[3]) : nil
    }

    /// Feeds received bytes; calls `onFrame` with each complete frame body, in order.
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, _ onFrame: ([UInt8]) -> Void) throws {
        var bytes = chunk.bindMemory(to: UInt8.self)[...]
        if !partial.isEmpty {
            // Finish the header first, then the body, from what just came in.
            if partial.count < 4 {
                let take = min(4 - partial.count, bytes.count)
                partial.append(contentsOf: bytes.prefix(take))
                bytes = bytes.dropFirst(take)
                guard partial.count == 4 else { return }
            }
            let length = Self.length(partial[0], partial[1], partial[2], partial[3])
            guard length <= maxFrameBytes else { throw FrameError.tooLarge(length: length, max: maxFrameBytes) }
            let missing = length - (partial.count - 4)
            let take = min(missing, bytes.count)
            partial.append(contentsOf: bytes.prefix(take))
            bytes = bytes.dropFirst(take)
            guard take == missing else { return }
            var frame = partial
            partial = []
            frame.removeFirst(4)
            onFrame(frame)
        }
        // Whole frames straight from the chunk, without an intermediate copy.
        while bytes.count >= 4 {
            let s = bytes.startIndex
            let length = Self.length(bytes[s], bytes[s + 1], bytes[s + 2], bytes[s + 3])
            guard length <= maxFrameBytes else { throw FrameError.tooLarge(length: length, max: maxFrameBytes) }
            guard bytes.count - 4 >= length else { break }
            onFrame(Array(bytes[(s + 4)..<(s + 4 + length)]))
            bytes = bytes.dropFirst(4 + length)
        }
        if !bytes.isEmpty {
            if bytes.count >= 4 {
                let s = bytes.startIndex
                partial.reserveCapacity(min(4 + Self.length(bytes[s], bytes[s + 1], bytes[s + 2], bytes[s + 3]), 4 + 2 * bytes.count))
            }
            partial.append(contentsOf: bytes)
        }
    }

    /// Convenience for tests and callers holding an array.
    public mutating func feed(_ bytes: [UInt8], _ onFrame: ([UInt8]) -> Void) throws {
        try bytes.withUnsafeBytes { raw in try feed(raw, onFrame) }
    }

    static func length(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> Int {
        Int(a) << 24 | Int(b) << 16 | Int(c) << 8 | Int(d)
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
