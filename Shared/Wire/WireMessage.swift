import CProtobufC

/// A Swift value type that travels as a protobuf message, encoded and decoded through protobuf-c.
public protocol WireMessage: Sendable, Equatable {
    /// The protobuf wire bytes of this value.
    func encode() -> [UInt8]
    /// Decodes wire bytes; throws `WireError` on anything that is not a valid message.
    init(wire bytes: [UInt8]) throws
    /// Decodes wire bytes it only borrows (a frame still in the read buffer): protobuf-c
    /// messages copy their large `bytes` fields once, straight into the arrays they keep.
    init(borrowing bytes: UnsafeRawBufferPointer) throws
}

extension WireMessage {
    public init(borrowing bytes: UnsafeRawBufferPointer) throws {
        try self.init(wire: Array(bytes))
    }
}

/// Why bytes could not be decoded into a message.
public struct WireError: Error, Equatable, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Packs a filled-in protobuf-c message into bytes.
@inlinable
public func packMessage<M>(_ message: inout M) -> [UInt8] {
    withUnsafeMutablePointer(to: &message) { typed in
        typed.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) { base in
            let size = protobuf_c_message_get_packed_size(base)
            if size == 0 { return [] }
            return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                count = protobuf_c_message_pack(base, buffer.baseAddress)
            }
        }
    }
}

/// Unpacks bytes with a protobuf-c descriptor, hands the C struct to `read`, then frees it.
public func unpackMessage<M, R>(
    _ bytes: [UInt8], _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>, as type: M.Type,
    name: String, _ read: (UnsafePointer<M>) throws -> R
) throws -> R {
    try bytes.withUnsafeBytes { try unpackMessage($0, descriptor, as: type, name: name, read) }
}

/// Unpacks borrowed bytes; `bytes` fields of at least `AdoptingAllocator.minimumBytes` are
/// copied straight into the arrays `bytesField` returns (one copy of a hidden state).
public func unpackMessage<M, R>(
    _ bytes: UnsafeRawBufferPointer, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>, as type: M.Type,
    name: String, _ read: (UnsafePointer<M>) throws -> R
) throws -> R {
    let data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
    func unpacked(_ allocator: UnsafeMutablePointer<ProtobufCAllocator>?) throws -> R {
        guard let raw = protobuf_c_message_unpack(descriptor, allocator, bytes.count, data) else {
            throw WireError("\(name): bytes do not decode as a \(name) message (\(bytes.count) bytes)")
        }
        defer { protobuf_c_message_free_unpacked(raw, allocator) }
        return try raw.withMemoryRebound(to: M.self, capacity: 1) { try read(UnsafePointer($0)) }
    }
    // Only a message this large can hold a field worth adopting.
    guard bytes.count >= AdoptingAllocator.minimumBytes else { return try unpacked(nil) }
    return try AdoptingAllocator().withAllocator { try unpacked($0) }
}

/// Runs `body` with a C string that stays valid for its duration (protobuf-c wants `char *`).
@inlinable
public func withCStringField<R>(_ string: String, _ body: (UnsafeMutablePointer<CChar>) throws -> R) rethrows -> R {
    var copy = string
    return try copy.withUTF8 { utf8 in
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count + 1)
        defer { buffer.deallocate() }
        utf8.withMemoryRebound(to: CChar.self) { src in
            if let base = src.baseAddress { buffer.initialize(from: base, count: utf8.count) }
        }
        buffer[utf8.count] = 0
        return try body(buffer)
    }
}

/// Reads a protobuf-c `char *` field (NULL reads as the empty string).
@inlinable
public func stringField(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
    guard let pointer else { return "" }
    return String(cString: pointer)
}

/// Runs `body` with a protobuf-c bytes field pointing at `bytes`.
@inlinable
public func withBytesField<R>(_ bytes: [UInt8], _ body: (ProtobufCBinaryData) throws -> R) rethrows -> R {
    try bytes.withUnsafeBufferPointer { buffer in
        try body(ProtobufCBinaryData(len: buffer.count, data: UnsafeMutablePointer(mutating: buffer.baseAddress)))
    }
}

/// A protobuf-c bytes field as a Swift array: the array protobuf-c already copied a large
/// field into (see `AdoptingAllocator`), else a copy.
public func bytesField(_ data: ProtobufCBinaryData) -> [UInt8] {
    guard data.len > 0, let base = data.data else { return [] }
    if let adopted = AdoptingAllocator.adoptedArray(data) { return adopted }
    if data.len >= AdoptingAllocator.minimumBytes { PayloadCopies.add(data.len) }
    return Array(UnsafeBufferPointer(start: base, count: data.len))
}
