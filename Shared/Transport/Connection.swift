import Logging
import Synchronization
import Wire

/// Client side: one TCP connection to a server, many calls in flight, matched by call id.
/// Connects lazily on the first call and reconnects with backoff when calls wait.
public final class Connection: Sendable {
    let core: ClientCore
    private let nextID = Atomic<UInt64>(0)
    private let maxFrameBytes: Int
    private let streamWindow: Int

    public init(host: String, port: Int, config: TransportConfig = .init(), reconnect: ReconnectPolicy = .default, logger: Logger? = nil) {
        core = ClientCore(loop: .shared, target: Endpoint(host: host, port: port), config: config, policy: reconnect,
                          logger: logger ?? Logger(label: "lattice.transport.client"))
        maxFrameBytes = config.maxFrameBytes
        streamWindow = min(max(config.streamWindowBytes, 0), Int(UInt32.max))
    }

    public convenience init(_ endpoint: Endpoint, config: TransportConfig = .init(), reconnect: ReconnectPolicy = .default, logger: Logger? = nil) {
        self.init(host: endpoint.host, port: endpoint.port, config: config, reconnect: reconnect, logger: logger)
    }

    /// Unary call; throws `Status` (UNAVAILABLE when it cannot connect, DEADLINE_EXCEEDED,
    /// CANCELLED, or the server's status). The async calls are `nonisolated(nonsending)`: they
    /// run on the caller's executor, with no task switch into them and back (2 of the 6 a call
    /// on the loop executor made). That changed their calling convention: a build that
    /// compiled callers before the change must be cleaned (`swift package clean`).
    public nonisolated(nonsending) func call(_ method: String, _ payload: [UInt8], deadline: Duration? = nil) async throws -> [UInt8] {
        try await send(prepare(method, payload, deadline), method) { .unary($0) }
    }

    /// Unary call with a message packed straight into the request frame (one copy of its
    /// `bytes` fields, e.g. a Forward's hidden state, instead of `encode()` and a frame copy).
    public nonisolated(nonsending) func call<Request: CBridged>(_ method: String, message: Request, deadline: Duration? = nil) async throws -> [UInt8] {
        try await send(prepare(method, message, deadline), method) { .unary($0) }
    }

    /// Unary call whose answer is decoded as `Response` on the loop, straight from its frame:
    /// one copy of a large `bytes` field (a hidden state), from the frame into the message.
    /// An answer that does not decode throws INTERNAL naming the method and the type.
    public nonisolated(nonsending) func call<Response: WireMessage>(_ method: String, _ payload: [UInt8], deadline: Duration? = nil,
                                            decoding response: Response.Type) async throws -> Response {
        try await send(prepare(method, payload, deadline), method) { Self.decoding(Response.self, method, $0) }
    }

    /// As `call(_:_:deadline:decoding:)`, with the request packed straight into its frame.
    public nonisolated(nonsending) func call<Request: CBridged, Response: WireMessage>(_ method: String, message: Request, deadline: Duration? = nil,
                                                               decoding response: Response.Type) async throws -> Response {
        try await send(prepare(method, message, deadline), method) { Self.decoding(Response.self, method, $0) }
    }

    /// Unary call without a Task: `answer` runs once, on the transport's loop thread, with the
    /// response's payload lent from its frame (valid only during the call; copy what you keep)
    /// or the `Status` the call failed with (as `call` throws). A call made on the loop thread
    /// (from inside an `answer`, say) joins that loop iteration's one batched write: the way to
    /// keep many small calls in flight on one connection cheaply. `answer` must be quick and
    /// never block: while it runs, no socket of this process is served. To cancel, give a deadline.
    public func call(_ method: String, _ payload: [UInt8], deadline: Duration? = nil,
                     answer: @escaping @Sendable (Result<UnsafeRawBufferPointer, Status>) -> Void) {
        let prepared: (UInt64, FrameBytes, UInt64)
        do {
            prepared = try prepare(method, payload, deadline)
        } catch {
            let status = error as? Status ?? Status(.internal, "\(error)")
            core.loop.execute { answer(.failure(status)) }
            return
        }
        core.submit(prepared.0, method, prepared.1, .callback(answer), deadlineMs: prepared.2)
    }

    /// `nonisolated(nonsending)` like the calls, with no `isolated` parameter, and the tracked
    /// call's continuation inherits the caller's executor: entering a function isolated to the
    /// caller's isolation, returning from it, and calling `withUnsafeThrowingContinuation(isolation:)`
    /// each took a task switch, every one looking the task's executor preference up under a
    /// runtime lock (uprobes on `swift_task_switch`, transport-bench loop client in a scope: 3 per
    /// call before, 1 now: the hop back to the caller's isolation after the answer, which keeps a
    /// caller on its actor). Only a call that needs a cancellation handler of its own goes
    /// through `sendWithHandler`.
    private nonisolated(nonsending) func send<Answer>(_ prepared: (UInt64, FrameBytes, UInt64), _ method: String,
                                                     _ waiter: (UnsafeContinuation<Answer, Error>) -> CallTable.Waiter) async throws -> Answer {
        let (id, request, deadlineMs) = prepared
        let core = core
        let (begun, scope) = CallCancellation.begin(core, id)
        switch begun {
        case .cancelled:
            throw Status(.cancelled, "call was cancelled by the caller")
        case .tracked:
            defer { scope?.end() }
            return try await _unsafeInheritExecutor_withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Answer, Error>) in
                core.submit(id, method, request, waiter(continuation), deadlineMs: deadlineMs)
                // As in `sendWithHandler`: a cancel that raced ahead of `start` on the loop is
                // repeated. Not from the loop thread itself: there the scope's cancel (handed to
                // the loop) can only run after this submit (`Task.isCancelled` retained and
                // released the task, ~1.5% of a pipelining loop caller's CPU in perf).
                if !core.loop.inLoopThread, Task.isCancelled { core.loop.execute { core.cancel(id) } }
            }
        case .notCovered:
            return try await sendWithHandler(prepared, method, waiter)
        }
    }

    /// A call with a cancellation handler of its own. `isolation` (captured by the handler's
    /// operation, as in `CallCancellation.scope`): the call stays on the caller's actor instead
    /// of hopping to the pool.
    private func sendWithHandler<Answer>(isolation: isolated (any Actor)? = #isolation, _ prepared: (UInt64, FrameBytes, UInt64), _ method: String,
                                         _ waiter: (UnsafeContinuation<Answer, Error>) -> CallTable.Waiter) async throws -> Answer {
        let (id, request, deadlineMs) = prepared
        let core = core
        return try await withTaskCancellationHandler {
            _ = isolation
            return try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Answer, Error>) in
                core.submit(id, method, request, waiter(continuation), deadlineMs: deadlineMs)
                // A cancel that raced ahead of `start` on the loop would be lost; repeat it after.
                if Task.isCancelled { core.loop.execute { core.cancel(id) } }
            }
        } onCancel: {
            core.loop.execute { core.cancel(id) }
        }
    }

    /// Resumes `continuation` with the answer decoded from its frame (on the loop).
    private static func decoding<Response: WireMessage>(_ type: Response.Type, _ method: String,
                                                        _ continuation: UnsafeContinuation<Response, Error>) -> CallTable.Waiter {
        .callback { answer in
            continuation.resume(with: Result {
                let payload = try answer.get()
                do {
                    return try Response(borrowing: payload)
                } catch {
                    throw Status(.internal, "\(method): the response (\(payload.count) bytes) does not decode as \(Response.self): \(error)")
                }
            })
        }
    }

    /// Runs `body` with one cancellation handler for all the unary calls this task makes in it
    /// (on any connection), instead of one per call: cheaper for a task that makes many calls
    /// one after another (a pipelining worker, a client's request loop). Cancelling the task
    /// still ends its call in flight at once with CANCELLED and tells the server; later calls
    /// in the scope fail with CANCELLED without being sent. Calls from child tasks are not
    /// covered: they register handlers of their own, as outside a scope.
    public nonisolated(nonsending) static func withCallCancellation<T>(_ body: nonisolated(nonsending) () async throws -> T) async rethrows -> T {
        try await CallCancellation.scope(body)
    }

    /// Server stream; each element is one response payload; finishes at end_of_stream; throws the
    /// final non-OK Status. Cancelling the consuming Task, or dropping the stream unfinished,
    /// sends CANCEL to the server. The server sends ahead of the consumer by at most about
    /// `TransportConfig.streamWindowBytes` (see `CallStream`).
    public func stream(_ method: String, _ payload: [UInt8], deadline: Duration? = nil) -> CallStream {
        let core = core
        let buffer = StreamBuffer(window: streamWindow, method: method, counters: core.counters)
        let prepared: (UInt64, FrameBytes, UInt64)
        do {
            prepared = try prepare(method, deadline, window: streamWindow) { EnvelopeCodec.frame($0, payload: payload) }
        } catch {
            buffer.finish(error as? Status ?? Status(.internal, "\(error)"))
            return CallStream(buffer)
        }
        let (id, request, deadlineMs) = prepared
        buffer.grant = { bytes in core.loop.execute { core.grant(id, bytes) } }
        buffer.cancel = { status in core.loop.execute { core.end(id, status) } }
        core.submit(id, method, request, .stream(buffer), deadlineMs: deadlineMs)
        return CallStream(buffer)
    }

    /// Calls refused at this connection's limits, and its streams' flow control.
    public var stats: ClientStats { core.counters.stats }

    /// A dropped connection closes its socket once its last call (e.g. a stream still being
    /// consumed) has ended.
    deinit {
        let core = core
        core.loop.execute { core.abandon() }
    }

    /// Fails every call still waiting with CANCELLED and closes the socket. Later calls fail
    /// with UNAVAILABLE.
    public func close() async {
        let core = core
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            core.loop.execute { core.close(done) }
        }
    }

    private func prepare(_ method: String, _ payload: [UInt8], _ deadline: Duration?) throws -> (UInt64, FrameBytes, UInt64) {
        try prepare(method, deadline) { EnvelopeCodec.frame($0, payload: payload) }   // a large payload is not copied: it becomes the frame's tail
    }

    private func prepare<Request: CBridged>(_ method: String, _ message: Request, _ deadline: Duration?) throws -> (UInt64, FrameBytes, UInt64) {
        try prepare(method, deadline) { envelope in
            message.withPacker { size, pack in
                EnvelopeCodec.frame(envelope, payloadCount: size) { if let base = $0.baseAddress { pack(base) } }
            }
        }
    }

    /// A call id and the request frame `build` makes from the envelope (without its payload:
    /// builders frame the payload after it, so the Envelope is never copied to hold it; a
    /// copy cost a retain and a release per reference in it, through its value witnesses).
    private func prepare(_ method: String, _ deadline: Duration?, window: Int = 0, _ build: (Envelope) -> FrameBytes) throws -> (UInt64, FrameBytes, UInt64) {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        var deadlineMs: UInt64 = 0
        if let deadline {
            let ms = ReconnectPolicy.milliseconds(deadline)
            guard ms > 0 else { throw Status(.deadlineExceeded, "'\(method)' was called with a deadline already past (\(deadline))") }
            deadlineMs = UInt64(ms.rounded(.up))
        }
        let request = build(Envelope(callID: id, method: method, deadlineMs: deadlineMs, window: UInt32(window)))
        guard request.count - 4 <= maxFrameBytes else {
            throw Status(.resourceExhausted, "request of '\(method)' is \(request.count - 4) bytes, over the maximum frame of \(maxFrameBytes) bytes")
        }
        return (id, request, deadlineMs)
    }
}
