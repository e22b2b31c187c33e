import CProtobufC
import WireC

// `Envelope`'s fields and `Kind` are generated from common.proto (EnvelopeTypes.swift); this is
// its protobuf-c bridge.
extension Envelope: WireMessage {
    public static let protocolVersion: UInt32 = 1

    public func encode() -> [UInt8] {
        var message = Lattice__V1__Envelope()
        lattice__v1__envelope__init(&message)
        message.call_id = callID
        message.deadline_ms = deadlineMs
        message.end_of_stream = endOfStream ? 1 : 0
        message.version = version
        message.kind = Lattice__V1__Envelope__Kind(rawValue: UInt32(bitPattern: kind.rawValue))
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
                guard let kind = Kind(rawValue: Int32(bitPattern: c.kind.rawValue)) else {
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
