import Foundation
import Wire

// The byte-level protobuf pieces the generated Envelope codec (EnvelopeWire.swift) is written in,
// and the choices the .proto does not make: what an unknown enum value means, and an empty message.

/// Reads protobuf from a buffer; every read checks the bounds and throws `WireError`.
struct ProtobufReader {
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

    /// A length-delimited field's bytes, pointing into `bytes` (not copied).
    mutating func lengthDelimited() throws -> UnsafeBufferPointer<UInt8> {
        let length = try varint()
        guard length <= UInt64(bytes.count - index) else {
            throw WireError("Envelope: field of \(length) bytes runs past the end (\(bytes.count - index) left)")
        }
        let start = index
        index += Int(length)
        return UnsafeBufferPointer(rebasing: bytes[start..<index])
    }

    /// A string field up to its first NUL (as protobuf-c reads a `char *`). `known`: a string
    /// likely to come again, returned instead of a new one when the bytes are the same.
    mutating func string(reusing known: String = "") throws -> String {
        let field = try lengthDelimited()
        let raw = UnsafeBufferPointer(rebasing: field[..<(field.firstIndex(of: 0) ?? field.endIndex)])
        if !known.isEmpty, known.utf8.withContiguousStorageIfAvailable({ Self.same($0, raw) }) == true { return known }
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

    private mutating func advance(_ count: Int) throws {
        guard bytes.count - index >= count else { throw WireError("Envelope: truncated fixed-size field") }
        index += count
    }

    private static func same(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        guard let x = a.baseAddress, let y = b.baseAddress else { return true }
        return memcmp(x, y, a.count) == 0
    }
}

/// Writes protobuf into memory sized beforehand (by the generated `…Encoding` initializers).
struct ProtobufWriter {
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

    /// A length and the bytes (the field's key is written before).
    mutating func lengthDelimited<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        varint(UInt64(bytes.count))
        let written = bytes.withContiguousStorageIfAvailable { source -> Int in
            if let from = source.baseAddress { at.update(from: from, count: source.count) }
            return source.count
        }
        if let written { at += written } else { for b in bytes { byte(b) } }
    }

    static func varintSize(_ value: UInt64) -> Int {
        var v = value, n = 1
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }

    /// A string's bytes up to its first NUL, as protobuf-c sends a `char *`.
    static func cString(_ text: String) -> Substring.UTF8View {
        // Scanned as contiguous bytes where it can be (the usual native string): per frame.
        let nul = text.utf8.withContiguousStorageIfAvailable { $0.firstIndex(of: 0) }
        switch nul {
        case .some(nil): return Substring(text).utf8
        case .some(let count?): return text.utf8.prefix(count)
        case nil: return text.utf8.prefix { $0 != 0 }
        }
    }
}

/// An enum the generated codec writes as a varint; what an unknown value reads as is the type's
/// choice (as `Envelope(wire:)` decides it for protobuf-c).
protocol DirectWireEnum {
    var wireValue: UInt64 { get }
    init(wireValue: UInt64) throws
}

extension Envelope.Kind: DirectWireEnum {
    // protobuf writes an enum as an int32: a negative one sign-extends to 10 bytes.
    var wireValue: UInt64 { UInt64(truncatingIfNeeded: rawValue) }
    init(wireValue: UInt64) throws {
        // Reported as protobuf-c's unsigned field reads it (`Envelope(wire:)`).
        let raw = UInt32(truncatingIfNeeded: wireValue)
        guard let kind = Envelope.Kind(rawValue: Int32(bitPattern: raw)) else { throw WireError("Envelope: unknown kind \(raw)") }
        self = kind
    }
}

extension StatusCode: DirectWireEnum {
    // protobuf writes an enum as an int32: a negative one sign-extends to 10 bytes.
    var wireValue: UInt64 { UInt64(truncatingIfNeeded: rawValue) }
    /// Codes this build does not know read as UNKNOWN, as `StatusCode(wire:)` does for protobuf-c.
    init(wireValue: UInt64) { self = StatusCode(rawValue: Int32(truncatingIfNeeded: wireValue)) ?? .unknown }
}

/// An embedded message the generated codec decodes into: every field at its protobuf default.
/// (The root Envelope starts from its fields' defaults, written by the generator.)
protocol DirectWireMessage { static var wireZero: Self { get } }

extension Status: DirectWireMessage {
    static var wireZero: Status { Status(.ok) }
}
