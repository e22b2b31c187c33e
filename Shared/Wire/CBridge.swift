import CProtobufC

/// A Swift value that mirrors one protobuf-c message struct. The generated types in
/// `Placement.swift`, `Scheduler.swift`, `Worker.swift` and `CircuitOptimizer.swift` conform;
/// `WireMessage` comes for free from `init(c:)` and `fill(_:_:)`.
public protocol CBridged: WireMessage {
    associatedtype CMessage
    /// The protoc-c descriptor. A copy is enough: only its `message_init` and field tables are read.
    static var descriptor: ProtobufCMessageDescriptor { get }
    /// Reads a C struct that protobuf-c unpacked (and still owns).
    init(c: CMessage) throws
    /// Writes this value into an initialised C struct; every pointer it stores lives in `arena`.
    func fill(_ c: inout CMessage, _ arena: WireArena)
}

extension CBridged {
    public func encode() -> [UInt8] {
        withPacker { size, pack in
            guard size > 0 else { return [] }
            return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                if let base = buffer.baseAddress { pack(base) }
                count = size
            }
        }
    }

    /// Packs this message into memory the caller sizes and owns (a transport frame): `body` gets
    /// the packed size and a function that writes exactly that many bytes at a pointer. `bytes`
    /// fields go from their arrays straight to that memory, one copy.
    public func withPacker<R>(_ body: (_ size: Int, _ pack: (UnsafeMutableRawPointer) -> Void) -> R) -> R {
        let arena = WireArena()
        let message = arena.cMessage(self)
        return withExtendedLifetime(arena) {
            message.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) { base in
                let size = protobuf_c_message_get_packed_size(base)
                return body(size) { out in
                    _ = protobuf_c_message_pack(base, out.assumingMemoryBound(to: UInt8.self))
                    if size >= AdoptingAllocator.minimumBytes { PayloadCopies.add(size) }   // the one copy out
                }
            }
        }
    }

    public init(wire bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try Self(borrowing: $0) }
    }

    public init(borrowing bytes: UnsafeRawBufferPointer) throws {
        let name = String(describing: Self.self)
        self = try withUnsafePointer(to: Self.descriptor) { descriptor in
            try unpackMessage(bytes, descriptor, as: CMessage.self, name: name) { try Self(c: $0.pointee) }
        }
    }
}

/// An enum carried on the wire as its protobuf number.
public protocol WireEnum: RawRepresentable, CaseIterable, Sendable, Hashable where RawValue == UInt32 {
    /// The zero value, which proto3 sends for an unset field.
    init()
}

/// Owns the C memory of one message being encoded (strings, arrays, nested structs) until packed.
public final class WireArena {
    private var allocations: [UnsafeMutableRawPointer] = []
    private var kept: [[UInt8]] = []   // arrays whose storage `bytes` points at

    public init() {}
    deinit { for allocation in allocations { allocation.deallocate() } }

    private func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: MemoryLayout<T>.stride * max(count, 1), alignment: MemoryLayout<T>.alignment)
        allocations.append(raw)
        return raw.bindMemory(to: T.self, capacity: max(count, 1))
    }

    /// A C array of trivial values (numbers, pointers).
    public func scalars<T>(_ values: [T]) -> (Int, UnsafeMutablePointer<T>?) {
        guard !values.isEmpty else { return (0, nil) }
        let pointer = allocate(T.self, count: values.count)
        pointer.initialize(from: values, count: values.count)
        return (values.count, pointer)
    }

    /// A NUL-terminated copy (protobuf-c stops at the first NUL, so one inside a string ends it).
    public func string(_ string: String) -> UnsafeMutablePointer<CChar> {
        let utf8 = string.utf8CString
        let pointer = allocate(CChar.self, count: utf8.count)
        _ = UnsafeMutableBufferPointer(start: pointer, count: utf8.count).initialize(from: utf8)
        return pointer
    }

    /// Points at the array's own storage instead of copying it (a hidden state can be megabytes):
    /// the arena keeps the array alive until the message is packed, and protobuf-c only reads it.
    /// (`[UInt8]` always has native, contiguous storage; nothing mutates this copy of it.)
    public func bytes(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        kept.append(bytes)
        let base = bytes.withUnsafeBufferPointer { $0.baseAddress }
        return ProtobufCBinaryData(len: bytes.count, data: UnsafeMutablePointer(mutating: base))
    }

    public func strings(_ strings: [String]) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) {
        scalars(strings.map { Optional(string($0)) })
    }

    /// An initialised C struct (its `init` sets the real descriptor) filled from `value`.
    func cMessage<M: CBridged>(_ value: M) -> UnsafeMutablePointer<M.CMessage> {
        let pointer = allocate(M.CMessage.self, count: 1)
        pointer.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) { M.descriptor.message_init($0) }
        value.fill(&pointer.pointee, self)
        return pointer
    }

    public func message<M: CBridged>(_ value: M?) -> UnsafeMutablePointer<M.CMessage>? {
        value.map { cMessage($0) }
    }

    public func messages<M: CBridged>(_ values: [M]) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<M.CMessage>?>?) {
        scalars(values.map { Optional(cMessage($0)) })
    }
}

// MARK: - Decoding helpers (the C side was filled by protobuf_c_message_unpack)

public func decodeEnum<E: WireEnum>(_ raw: UInt32, _ field: String) throws -> E {
    guard let value = E(rawValue: raw) else {
        let known = E.allCases.map { String($0.rawValue) }.joined(separator: ", ")
        throw WireError("\(field): unknown enum value \(raw) (this build knows \(known)); update the older side")
    }
    return value
}

public func decodeOptional<M: CBridged>(_ pointer: UnsafeMutablePointer<M.CMessage>?) throws -> M? {
    try pointer.map { try M(c: $0.pointee) }
}

public func decodeRequired<M: CBridged>(_ pointer: UnsafeMutablePointer<M.CMessage>?, _ field: String) throws -> M {
    guard let pointer else { throw WireError("\(field): set in the oneof but missing") }
    return try M(c: pointer.pointee)
}

public func decodeScalars<T>(_ count: Int, _ pointer: UnsafeMutablePointer<T>?, _ field: String) throws -> [T] {
    guard count > 0 else { return [] }
    guard let pointer else { throw WireError("\(field): \(count) values announced, none present") }
    return Array(UnsafeBufferPointer(start: pointer, count: count))
}

public func decodeStrings(
    _ count: Int, _ pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ field: String
) throws -> [String] {
    try decodeScalars(count, pointer, field).map(stringField)
}

public func decodeMessages<M: CBridged>(
    _ count: Int, _ pointer: UnsafeMutablePointer<UnsafeMutablePointer<M.CMessage>?>?, _ field: String
) throws -> [M] {
    try decodeScalars(count, pointer, field).map { try decodeRequired($0, field) }
}

/// The generated message types, by file (each generated file adds its list).
public enum WireCatalog {
    /// Every service message type (common.proto's are written by hand).
    public static var all: [any CBridged.Type] { placement + scheduler + worker + circuitOptimizer }
}
