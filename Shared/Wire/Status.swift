import WireC

/// RPC status codes (lattice.v1.Code).
public enum StatusCode: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case ok = 0, cancelled, unknown, invalidArgument, deadlineExceeded, notFound, alreadyExists,
         permissionDenied, resourceExhausted, failedPrecondition, aborted, outOfRange,
         unimplemented, `internal`, unavailable, dataLoss, unauthenticated

    public var description: String {
        switch self {
        case .ok: "OK"
        case .cancelled: "CANCELLED"
        case .unknown: "UNKNOWN"
        case .invalidArgument: "INVALID_ARGUMENT"
        case .deadlineExceeded: "DEADLINE_EXCEEDED"
        case .notFound: "NOT_FOUND"
        case .alreadyExists: "ALREADY_EXISTS"
        case .permissionDenied: "PERMISSION_DENIED"
        case .resourceExhausted: "RESOURCE_EXHAUSTED"
        case .failedPrecondition: "FAILED_PRECONDITION"
        case .aborted: "ABORTED"
        case .outOfRange: "OUT_OF_RANGE"
        case .unimplemented: "UNIMPLEMENTED"
        case .internal: "INTERNAL"
        case .unavailable: "UNAVAILABLE"
        case .dataLoss: "DATA_LOSS"
        case .unauthenticated: "UNAUTHENTICATED"
        }
    }
}

/// The outcome of a call: a code and a message a person can act on. Also thrown as an error.
public struct Status: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: StatusCode
    public var message: String

    public init(_ code: StatusCode, _ message: String = "") {
        self.code = code
        self.message = message
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
