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
public struct FrameDecoder: Sendable {
    /// Raised once a connection is authenticated (see `Handshake.maxFrameBytes`).
    public var maxFrameBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0          // bytes before `start` are consumed

    public init(maxFrameBytes: Int) { self.maxFrameBytes = maxFrameBytes }

    /// Bytes held that are not yet returned as frames.
    public var bufferedBytes: Int { buffer.count - start }

    /// Bytes reserved for buffered data (tests check it tracks what arrived, not what was announced).
    var bufferedCapacity: Int { buffer.capacity }

    /// The announced length of the next frame, once its 4 length bytes have arrived.
    public var pendingFrameLength: Int? {
        bufferedBytes >= 4 ? Self.length(buffer, at: start) : nil
    }

    /// Adds received bytes.
    public mutating func append(_ chunk: UnsafeRawBufferPointer) {
        if start == buffer.count {
            if buffer.capacity > 4 << 20 { buffer = [] } else { buffer.removeAll(keepingCapacity: true) }
            start = 0
        } else if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: chunk.bindMemory(to: UInt8.self))
    }

    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The next complete frame body, or nil until more bytes arrive. Throws `FrameError` when
    /// the next length is over the maximum.
    public mutating func next() throws -> [UInt8]? {
        guard bufferedBytes >= 4 else { return nil }
        let length = Self.length(buffer, at: start)
        guard length <= maxFrameBytes else { throw FrameError.tooLarge(length: length, max: maxFrameBytes) }
        guard bufferedBytes - 4 >= length else { return nil }
        let body = Array(buffer[(start + 4)..<(start + 4 + length)])
        start += 4 + length
        return body
    }

    /// Lends the next complete frame body to `body` without copying it out; nil until more
    /// bytes arrive. The pointer is valid only inside `body`.
    public mutating func withNextFrame<T>(_ body: (UnsafeBufferPointer<UInt8>) throws -> T) throws -> T? {
        guard bufferedBytes >= 4 else { return nil }
        let length = Self.length(buffer, at: start)
        guard length <= maxFrameBytes else { throw FrameError.tooLarge(length: length, max: maxFrameBytes) }
        guard bufferedBytes - 4 >= length else { return nil }
        let frameStart = start + 4
        start += 4 + length
        return try buffer.withUnsafeBufferPointer { all in
            try body(UnsafeBufferPointer(rebasing: all[frameStart..<(frameStart + length)]))
        }
    }

    /// Appends `bytes` and hands every complete frame to `onFrame` (tests, simple callers).
    public mutating func feed(_ bytes: [UInt8], _ onFrame: ([UInt8]) -> Void) throws {
        append(bytes)
        while let body = try next() { onFrame(body) }
    }

    static func length(_ bytes: [UInt8], at i: Int) -> Int {
        Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
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
