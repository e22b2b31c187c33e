import Wire

/// What a handler sees of its call.
public struct CallContext: Sendable {
    public let method: String
    public let callID: UInt64
    /// When the caller stops waiting (from Envelope.deadline_ms); nil = no deadline.
    public let deadline: ContinuousClock.Instant?
    /// The caller's address, e.g. "127.0.0.1:53412".
    public let peer: String
    /// The API key the caller proved (its id), which per-client limits count against over all
    /// its connections; nil for the cluster's own services and servers that ask no proof.
    public let clientKeyID: String?

    public init(method: String, callID: UInt64, deadline: ContinuousClock.Instant?, peer: String, clientKeyID: String? = nil) {
        self.method = method
        self.callID = callID
        self.deadline = deadline
        self.peer = peer
        self.clientKeyID = clientKeyID
    }
}

/// Counters a server keeps; read them with `Server.stats`.
public struct ServerStats: Sendable, Equatable {
    public var callsTotal: UInt64 = 0
    public var callsFailed: UInt64 = 0
    public var callsInFlight: UInt64 = 0
    public var connectionsOpen: UInt64 = 0
    public var bytesIn: UInt64 = 0
    public var bytesOut: UInt64 = 0
    /// Connections closed for breaking the protocol (bad frame, oversize length, unknown method).
    public var protocolErrors: UInt64 = 0
    /// Of those, connections whose frame announced more than `maxFrameBytes` (RESOURCE_EXHAUSTED).
    public var framesTooLarge: UInt64 = 0
    /// The most bytes any one connection has had queued for its socket (shows backpressure works).
    public var maxQueuedWriteBytes: UInt64 = 0
    /// Connections closed because their handshake or credentials failed (UNAUTHENTICATED).
    public var authFailures: UInt64 = 0
    /// Calls refused because the connection's API key may not call them (PERMISSION_DENIED).
    public var callsDenied: UInt64 = 0
    /// Calls refused because their API key had `maxCallsPerClient` running (RESOURCE_EXHAUSTED).
    public var callsOverClientLimit: UInt64 = 0
    /// Stream items that waited for their client's flow-control window (a slow consumer).
    public var streamWindowWaits: UInt64 = 0

    public init() {}
}

/// Thrown by a handler whose caller broke the protocol (for example a payload that does not
/// decode as the method's request): the caller gets `status`, then its connection is closed,
/// as for any other protocol error. Other calls on other connections are not affected.
public struct ProtocolViolation: Error, Sendable, CustomStringConvertible {
    public var status: Status
    public init(_ status: Status) { self.status = status }
    public var description: String { "protocol violation: \(status)" }
}

/// A method's implementation as registered on a server.
enum Handler: Sendable {
    /// Runs in a Task (a server's `CallRunners`, reused from call to call); `onLoop`: on the loop executor (registered `nonBlocking`).
    /// `prepare` turns the request's payload, still in the frame and valid only during the call
    /// (on the loop), into that Task's work: it copies the payload, or decodes it (one copy of
    /// large `bytes` fields, see `WireMessage.init(borrowing:)`).
    case task(prepare: @Sendable (UnsafeRawBufferPointer) throws -> Work, onLoop: Bool)
    /// Synchronous, run on the loop thread itself (see `Server.inlineUnary`).
    case inline(@Sendable ([UInt8], CallContext) throws -> [UInt8])

    /// What a call's Task runs, its request already in hand. On the runner's executor
    /// (`nonisolated(nonsending)`): no task switch per call on the way into the handler.
    enum Work: Sendable {
        typealias Unary = nonisolated(nonsending) @Sendable (CallContext) async throws -> [UInt8]
        typealias Stream = nonisolated(nonsending) @Sendable (CallContext, StreamWriter) async throws -> Void
        typealias RawUnary = nonisolated(nonsending) @Sendable ([UInt8], CallContext) async throws -> [UInt8]
        case unary(Unary)
        /// A raw-bytes handler and its request, called with no closure around it (whose return
        /// cost each call one more task switch).
        case rawUnary(RawUnary, request: [UInt8])
        case stream(Stream)
    }

    var runsOnLoop: Bool {
        switch self {
        case .task(_, let onLoop): onLoop
        case .inline: true
        }
    }

    /// The request payload as an array of its own (the one copy for handlers of raw bytes).
    static func copy(_ payload: UnsafeRawBufferPointer) -> [UInt8] {
        if payload.count >= EnvelopeCodec.directCopyReport { PayloadCopies.add(payload.count) }
        return Array(payload)
    }
}

/// A request decoded from bytes it borrows (the frame itself, on the loop). A payload that does
/// not decode means the peer speaks another protocol: INVALID_ARGUMENT, then its connection closes.
public func decodeRequest<Request: WireMessage>(_ type: Request.Type, _ payload: UnsafeRawBufferPointer, method: String) throws -> Request {
    do {
        return try Request(borrowing: payload)
    } catch {
        throw ProtocolViolation(Status(.invalidArgument, "\(method): the request payload (\(payload.count) bytes) does not decode as \(Request.self): \(error)"))
    }
}

/// A server-stream sink; `send` suspends while the connection's write queue is full.
public struct StreamWriter: Sendable {
    let connection: ServerConnection
    public let callID: UInt64

    /// Sends one item of the stream. Throws CANCELLED once the call has ended (client cancel,
    /// deadline, connection closed) and RESOURCE_EXHAUSTED for an item over the frame limit.
    public func send(_ payload: [UInt8]) async throws {
        if Task.isCancelled { throw Status(.cancelled, "call \(callID) was cancelled") }
        let bytes = EnvelopeCodec.frame(Envelope(callID: callID, method: "", payload: payload, kind: .response))
        guard bytes.count - 4 <= connection.maxFrameBytes else {
            throw Status(.resourceExhausted, "stream item of \(bytes.count - 4) bytes exceeds the maximum frame of \(connection.maxFrameBytes) bytes")
        }
        let connection = connection, callID = callID
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, Error>) in
            connection.loop.execute { connection.sendStreamItem(callID, bytes, payloadCount: payload.count, waiter) }
        }
    }
}
