import WireC

// `StatusCode` and `Status`'s fields are generated from common.proto (EnvelopeTypes.swift).

/// The outcome of a call: a code and a message a person can act on. Also thrown as an error.
extension Status: Error, CustomStringConvertible {
    public init(_ code: StatusCode, _ message: String = "") {
        self.init(code: code, message: message)
    }

    public static let ok = Status(.ok)
    public var isOK: Bool { code == .ok }
    public var description: String { message.isEmpty ? "\(code)" : "\(code): \(message)" }
}

extension StatusCode {
    init(wire value: Lattice__V1__Code) {
        // A peer may send any 32-bit value (fuzzing found 0xFFFFFFFF): unknown codes read as UNKNOWN.
        self = Int32(exactly: value.rawValue).flatMap(StatusCode.init(rawValue:)) ?? .unknown
    }
    var wire: Lattice__V1__Code { Lattice__V1__Code(rawValue: UInt32(rawValue)) }
}
