import Foundation
import Wire

/// A direct protobuf codec for `lattice.v1.Envelope`, used on the transport's hot path: it
/// writes the 4-byte length prefix and the message into one array, and reads a frame without
/// the C round trip (protobuf-c allocates and frees several blocks per message). It speaks the
/// same wire format as `Envelope.encode()` / `Envelope(wire:)`; tests check both ways against
/// protobuf-c, so the .proto stays the contract. Strings behave as protobuf-c's C strings do: a
/// NUL ends them, when writing and when reading, so both codecs agree on every string.
enum EnvelopeCodec {
    /// Prefix + encoded envelope, ready for the socket. A payload of `tailBytes` or more is not
    /// copied: it stays in its array, the frame's tail, which the same writev puts in its place
    /// between the frame's own bytes (the bytes on the wire are the same).
    static func frame(_ e: Envelope) -> FrameBytes {
        if e.payload.count >= tailBytes {
            return frame(e, payloadCount: e.payload.count, tail: e.payload) { _ in }
        }
        return e.payload.withUnsafeBytes { payload in
            if payload.count >= directCopyReport { PayloadCopies.add(payload.count) }
            return frame(e, payloadCount: payload.count) { $0.copyMemory(from: payload) }
        }
    }

    /// Payloads this large go out from their own array (`FrameBytes.tail`) instead of a copy.
    static let tailBytes = directCopyReport

    /// Prefix + envelope around a payload of `payloadCount` bytes that `writePayload` writes
    /// straight into its place in the frame (`e.payload` is not used): a message packed there is
    /// copied once on its way out.
    static func frame(_ e: Envelope, payloadCount: Int, writePayload: (UnsafeMutableRawBufferPointer) -> Void) -> FrameBytes {
        frame(e, payloadCount: payloadCount, tail: nil, writePayload: writePayload)
    }

    /// `tail`: the payload itself, left in its array and written in its place (see `FrameBytes`).
    private static func frame(_ e: Envelope, payloadCount: Int, tail: [UInt8]?, writePayload: (UnsafeMutableRawBufferPointer) -> Void) -> FrameBytes {
        let method = cString(e.method), statusMessage = e.status.map { cString($0.message) }
        let code = UInt64(UInt32(bitPattern: e.status?.code.rawValue ?? 0))
        var statusLength = 0
        if let statusMessage {
            statusLength = (code == 0 ? 0 : 1 + varintSize(code)) + lengthDelimitedSize(statusMessage.count)
        }
        var size = 0
        if e.callID != 0 { size += 1 + varintSize(e.callID) }
        size += lengthDelimitedSize(method.count)
        size += lengthDelimitedSize(payloadCount)
        if e.status != nil { size += 1 + varintSize(UInt64(statusLength)) + statusLength }
        if e.deadlineMs != 0 { size += 1 + varintSize(e.deadlineMs) }
        if e.endOfStream { size += 2 }
        if e.version != 0 { size += 1 + varintSize(UInt64(e.version)) }
        if e.kind.rawValue != 0 { size += 1 + varintSize(UInt64(e.kind.rawValue)) }
        if e.window != 0 { size += 1 + varintSize(UInt64(e.window)) }

        let own = 4 + size - (tail?.count ?? 0)
        // A tail goes right after the payload's key and length (field 3 follows fields 1 and 2).
        let split = tail == nil ? own : 4 + (e.callID != 0 ? 1 + varintSize(e.callID) : 0) + lengthDelimitedSize(method.count)
            + 1 + varintSize(UInt64(payloadCount))
        return FrameBytes.make(count: own, tail: tail, after: split) { raw in
            var out = Writer(at: raw.assumingMemoryBound(to: UInt8.self))
            let p = framePrefix(size)
            out.byte(p.0); out.byte(p.1); out.byte(p.2); out.byte(p.3)
            if e.callID != 0 { out.byte(0x08); out.varint(e.callID) }
            out.bytesField(0x12, method)
            if payloadCount > 0 {
                out.byte(0x1A)
                out.varint(UInt64(payloadCount))
                if tail == nil {
                    writePayload(UnsafeMutableRawBufferPointer(start: out.at, count: payloadCount))
                    out.at += payloadCount
                } else {
                    assert(UnsafeMutableRawPointer(out.at) - raw == split, "the tail's place in the frame")
                }
            }
            if let statusMessage {
                out.byte(0x22)
                out.varint(UInt64(statusLength))
                if code != 0 { out.byte(0x08); out.varint(code) }
                out.bytesField(0x12, statusMessage)
            }
            if e.deadlineMs != 0 { out.byte(0x28); out.varint(e.deadlineMs) }
            if e.endOfStream { out.byte(0x30); out.byte(1) }
            if e.version != 0 { out.byte(0x38); out.varint(UInt64(e.version)) }
            if e.kind.rawValue != 0 { out.byte(0x40); out.varint(UInt64(e.kind.rawValue)) }
            if e.window != 0 { out.byte(0x48); out.varint(UInt64(e.window)) }
        }
    }

    /// Decodes one frame body. Throws `WireError` on anything that is not a valid Envelope.
    static func decode(_ body: [UInt8]) throws -> Envelope {
        try body.withUnsafeBufferPointer { try decode($0) }
    }

    static func decode(_ bytes: UnsafeBufferPointer<UInt8>) throws -> Envelope {
        var (e, payload) = try decodeBorrowing(bytes)
        e.payload = Array(payload)
        if payload.count >= directCopyReport { PayloadCopies.add(payload.count) }
        return e
    }

    /// Payloads this large count as copies (`PayloadCopies`) when copied out of the frame.
    static let directCopyReport = 16 << 10

    /// Decodes one frame body but leaves the payload where it is: the envelope's `payload` is
    /// empty and the payload's bytes are returned, pointing into `bytes` (valid as long as it is).
    /// `knownMethod`: a method name likely to come again (the previous frame's); when the frame
    /// names it, that string is reused instead of a new one made (per request, on the server).
    static func decodeBorrowing(_ bytes: UnsafeBufferPointer<UInt8>, knownMethod: String = "") throws -> (Envelope, payload: UnsafeBufferPointer<UInt8>) {
        var reader = Reader(bytes: bytes)
        var e = Envelope(callID: 0, method: "", version: 0)
        var payload = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        while !reader.atEnd {
            let key = try reader.varint()
            let field = key >> 3, wireType = key & 7
            switch (field, wireType) {
            case (1, 0): e.callID = try reader.varint()
            case (2, 2): e.method = try reader.string(reusing: knownMethod)
            case (3, 2): payload = try reader.lengthDelimited()
            case (4, 2): e.status = try decodeStatus(reader.lengthDelimited(), into: e.status)
            case (5, 0): e.deadlineMs = try reader.varint()
            case (6, 0): e.endOfStream = try reader.varint() != 0
            case (7, 0): e.version = UInt32(truncatingIfNeeded: try reader.varint())
            case (8, 0):
                let raw = UInt32(truncatingIfNeeded: try reader.varint())
                guard let kind = Envelope.Kind(rawValue: raw) else { throw WireError("Envelope: unknown kind \(raw)") }
                e.kind = kind
            case (9, 0): e.window = UInt32(truncatingIfNeeded: try reader.varint())
            default: try reader.skip(wireType: wireType, field: field)
            }
        }
        return (e, payload)
    }

    private static func decodeStatus(_ bytes: UnsafeBufferPointer<UInt8>, into previous: Status?) throws -> Status {
        var reader = Reader(bytes: bytes)
        var status = previous ?? Status(.ok)   // repeated embedded messages merge, as protobuf says
        while !reader.atEnd {
            let key = try reader.varint()
            switch (key >> 3, key & 7) {
            case (1, 0):
                let raw = Int32(truncatingIfNeeded: try reader.varint())
                status.code = StatusCode(rawValue: raw) ?? .unknown
            case (2, 2): status.message = try reader.string()
            default: try reader.skip(wireType: key & 7, field: key >> 3)
            }
        }
        return status
    }

    // MARK: Wire format helpers

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        var atEnd: Bool { index >= bytes.count }

        mutating func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard index < bytes.count else { throw WireError("Envelope: truncated varint at byte \(index)") }
                let byte = bytes[index]
                index += 1
                guard shift < 64 else { throw WireError("Envelope: varint longer than 10 bytes at byte \(index)") }
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
        }

        mutating func lengthDelimited() throws -> UnsafeBufferPointer<UInt8> {
            let length = try varint()
            guard length <= UInt64(bytes.count - index) else {
                throw WireError("Envelope: field of \(length) bytes runs past the end (\(bytes.count - index) left)")
            }
            let start = index
            index += Int(length)
            return UnsafeBufferPointer(rebasing: bytes[start..<index])
        }

        mutating func string(reusing known: String = "") throws -> String {
            let field = try lengthDelimited()
            let raw = UnsafeBufferPointer(rebasing: field[..<(field.firstIndex(of: 0) ?? field.endIndex)])
            if !known.isEmpty, known.utf8.withContiguousStorageIfAvailable({ same($0, raw) }) == true { return known }
            guard let text = String(validating: raw, as: UTF8.self) else { throw WireError("Envelope: string field is not valid UTF-8") }
            return text
        }

        mutating func skip(wireType: UInt64, field: UInt64) throws {
            switch wireType {
            case 0: _ = try varint()
            case 1: try advance(8)
            case 2: _ = try lengthDelimited()
            case 5: try advance(4)
            default: throw WireError("Envelope: field \(field) has unsupported wire type \(wireType)")
            }
        }

        mutating func advance(_ count: Int) throws {
            guard bytes.count - index >= count else { throw WireError("Envelope: truncated fixed-size field") }
            index += count
        }
    }

    private static func same(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        guard let x = a.baseAddress, let y = b.baseAddress else { return true }
        return memcmp(x, y, a.count) == 0
    }

    /// A string's bytes up to its first NUL, as protobuf-c sends a `char *`.
    private static func cString(_ text: String) -> Substring.UTF8View {
        // Scanned as contiguous bytes where it can be (the usual native string): per frame.
        let nul = text.utf8.withContiguousStorageIfAvailable { $0.firstIndex(of: 0) }
        switch nul {
        case .some(nil): return Substring(text).utf8
        case .some(let count?): return text.utf8.prefix(count)
        case nil: return text.utf8.prefix { $0 != 0 }
        }
    }

    private static func varintSize(_ value: UInt64) -> Int {
        var v = value, n = 1
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }


    private static func lengthDelimitedSize(_ count: Int) -> Int { count == 0 ? 0 : 1 + varintSize(UInt64(count)) + count }

    /// Writes protobuf into memory sized beforehand by `frame`.
    private struct Writer {
        var at: UnsafeMutablePointer<UInt8>

        mutating func byte(_ value: UInt8) {
            at.pointee = value
            at += 1
        }

        mutating func varint(_ value: UInt64) {
            var v = value
            while v >= 0x80 { byte(UInt8(v & 0x7F) | 0x80); v >>= 7 }
            byte(UInt8(v))
        }

        mutating func bytesField<C: Collection>(_ tag: UInt8, _ bytes: C) where C.Element == UInt8 {
            guard !bytes.isEmpty else { return }
            byte(tag)
            varint(UInt64(bytes.count))
            let written = bytes.withContiguousStorageIfAvailable { source -> Int in
                if let from = source.baseAddress { at.update(from: from, count: source.count) }
                return source.count
            }
            if let written { at += written } else { for b in bytes { byte(b) } }
        }
    }
}
