import CProtobufC
import WireC

/// One frame of the wire protocol: a call id, a method, a payload and, on responses, a status.
public struct Envelope: WireMessage {
    public enum Kind: UInt32, Sendable {
        case request = 0, response = 1, cancel = 2
        /// Client to server: `window` more bytes of a stream's items were consumed.
        case windowUpdate = 3
    }

    public static let protocolVersion: UInt32 = 1

    public var callID: UInt64
    public var method: String
    public var payload: [UInt8]
    public var status: Status?
    public var deadlineMs: UInt64
    public var endOfStream: Bool
    public var version: UInt32
    public var kind: Kind
    /// Stream flow control: on a request, the bytes of items the client buffers (0 = none);
    /// on a window update, the bytes granted back (see common.proto).
    public var window: UInt32

    public init(
        callID: UInt64, method: String, payload: [UInt8] = [], status: Status? = nil,
        deadlineMs: UInt64 = 0, endOfStream: Bool = false, version: UInt32 = Envelope.protocolVersion,
        kind: Kind = .request, window: UInt32 = 0
    ) {
        self.callID = callID
        self.method = method
        self.payload = payload
        self.status = status
        self.deadlineMs = deadlineMs
        self.endOfStream = endOfStream
        self.version = version
        self.kind = kind
        self.window = window
    }

    public func encode() -> [UInt8] {
        var message = Lattice__V1__Envelope()
        lattice__v1__envelope__init(&message)
        message.call_id = callID
        message.deadline_ms = deadlineMs
        message.end_of_stream = endOfStream ? 1 : 0
        message.version = version
        message.kind = Lattice__V1__Envelope__Kind(rawValue: kind.rawValue)
        message.window = window
        return withCStringField(method) { methodC in
            message.method = methodC
            return withBytesField(payload) { payloadC in
                message.payload = payloadC
                guard let status else { return packMessage(&message) }
                var statusC = Lattice__V1__Status()
                lattice__v1__status__init(&statusC)
                statusC.code = status.code.wire
                return withCStringField(status.message) { text in
                    statusC.message = text
                    return withUnsafeMutablePointer(to: &statusC) { pointer in
                        message.status = pointer
                        return packMessage(&message)
                    }
                }
            }
        }
    }

    public init(wire bytes: [UInt8]) throws {
        self = try withUnsafePointer(to: lattice__v1__envelope__descriptor) { descriptor in
            try unpackMessage(bytes, descriptor, as: Lattice__V1__Envelope.self, name: "Envelope") { m in
                let c = m.pointee
                guard let kind = Kind(rawValue: c.kind.rawValue) else {
                    throw WireError("Envelope: unknown kind \(c.kind.rawValue)")
                }
                return Envelope(
                    callID: c.call_id, method: stringField(c.method), payload: bytesField(c.payload),
                    status: c.status.map { Status(StatusCode(wire: $0.pointee.code), stringField($0.pointee.message)) },
                    deadlineMs: c.deadline_ms, endOfStream: c.end_of_stream != 0, version: c.version, kind: kind,
                    window: c.window)
            }
        }
    }
}
