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
    /// The last stage samples a token after this slice: false for a long prompt's chunks but its last.
    var samples = true

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
    /// One token past the first position: a decode step (anything else is prompt work), as the
    /// stages and the simulator's batches count them.
    var isDecode: Bool { tokenCount == 1 && (positions.first ?? 0) > 0 }
    /// Hidden states with data, or declared ones; an empty payload counts as none (the first stage's form).
    var hiddenInput: Hidden? { hidden.flatMap { $0.bytes.isEmpty && $0.encoding != .declared ? nil : $0 } }

    /// Tokens `range` of this slice as a slice of their own (one chunk of a long prompt); only
    /// the chunk that ends the slice samples.
    func part(_ range: Range<Int>) -> ForwardSlice {
        var part = self
        part.positions = Array(positions[range])
        if !tokenIDs.isEmpty { part.tokenIDs = Array(tokenIDs[range]) }
        if let hidden = hiddenInput {
            let rowBytes = hidden.bytes.count / max(1, tokenCount)
            part.hidden = Hidden(shape: [UInt32(range.count)] + hidden.shape.dropFirst(), encoding: hidden.encoding,
                                 bytes: Array(hidden.bytes[(range.lowerBound * rowBytes)..<(range.upperBound * rowBytes)]))
        }
        part.samples = samples && range.upperBound == tokenCount
        return part
    }
}

/// Why a Forward was refused, with the status code the service answers with.
public struct ForwardRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        case invalidArgument, failedPrecondition, resourceExhausted, unavailable
    }
    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
