/// One request's part of a Forward call, as the stage checks and runs it: the wire item's
/// fields that matter here, converted by the service.
public struct ForwardSlice: Sendable {
    /// Hidden states as they arrived: the declared shape is checked, not trusted.
    public struct Hidden: Sendable {
        public var shape: [UInt32]
        public var encoding: HiddenEncoding
        public var bytes: [UInt8]

        public init(shape: [UInt32], encoding: HiddenEncoding, bytes: [UInt8]) {
            self.shape = shape
            self.encoding = encoding
            self.bytes = bytes
        }
    }

    public var requestID: String
    public var positions: [UInt32]
    public var tokenIDs: [UInt32]
    public var hidden: Hidden?
    /// The layers the caller wants run here.
    public var layers: (start: UInt32, end: UInt32)
    /// The layers of the hop after this one, nil when the route is empty.
    public var nextHop: (start: UInt32, end: UInt32)?
    public var replyTo: String
    public var sampling: SamplingParameters
    /// The request decodes in a loop among the workers: its next step will pass here again.
    public var comesBack: Bool

    public init(requestID: String, positions: [UInt32], tokenIDs: [UInt32] = [], hidden: Hidden? = nil,
                layers: (start: UInt32, end: UInt32), nextHop: (start: UInt32, end: UInt32)? = nil, replyTo: String = "",
                sampling: SamplingParameters = .greedy, comesBack: Bool = false) {
        self.requestID = requestID
        self.positions = positions
        self.tokenIDs = tokenIDs
        self.hidden = hidden
        self.layers = layers
        self.nextHop = nextHop
        self.replyTo = replyTo
        self.sampling = sampling
        self.comesBack = comesBack
    }

    var tokenCount: Int { positions.count }
    /// Hidden states with data; an empty payload counts as none (the first stage's form).
    var hiddenInput: Hidden? { hidden.flatMap { $0.bytes.isEmpty ? nil : $0 } }
}

/// Why a Forward was refused, with the status code the service answers with.
public struct ForwardRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        case invalidArgument, failedPrecondition, resourceExhausted
    }
    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
