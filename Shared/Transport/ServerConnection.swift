import Foundation
import Logging
import Wire

/// One accepted connection on a server: decodes envelopes, runs each request's handler in a
/// runner's Task (`CallRunners`: reused from call to call), and writes answers back. State is confined to the loop thread, except the table
/// of calls in flight: a finished handler takes its call out of it and writes the answer itself
/// (no hop through the loop on the latency path), so it sits behind `callsLock`, which also
/// makes "the handler answered" and "the deadline / a cancel ended the call" exclusive. A call
/// takes it once on the way in and once on the way out, once handler threads share the table
/// (a `LoopSharedLock`: before, the loop alone uses it, unlocked); the loop reads the calls
/// in flight from an atomic.
final class ServerConnection: @unchecked Sendable {
    /// Sendable so that a finished handler can carry it back to the loop: only the loop uses its
    /// timer; the rest changes under callsLock. A class: the call table moves one reference per
    /// call instead of copying this struct's references (a retain and a release each, through
    /// generic value witnesses: ~15% of a non-blocking call's server CPU in perf).
    /// Also what its runner runs (a `CallRunners.Assignment`): one object per call, not two.
    private final class ActiveCall: CallRunners.Assignment, @unchecked Sendable {
        var task: Task<Void, Never>?
        var timer: LoopTimer?
        /// The API key it counts against (`TransportConfig.maxCallsPerClient`); nil: not limited.
        var client: String?
        /// Stream flow control: the bytes the client buffers (0: none), the bytes sent and not
        /// yet granted back, and the item waiting for a grant (a handler sends one at a time).
        var window = 0
        var unacknowledged = 0
        var waitingForWindow: WaitingWrite?

        /// Whether an item of `count` bytes may go now (see common.proto's `Envelope.window`;
        /// with nothing outstanding it always may, so an item larger than a tiny window goes).
        func mayStream(_ count: Int) -> Bool {
            window == 0 || unacknowledged == 0 || unacknowledged < window / 2 || unacknowledged + count <= window
        }
    }
    /// A handler's answer waiting for the loop to write it (see `run`).
    private struct FinishedAnswer {
        let id: UInt64
        let bytes: FrameBytes
        let failed: Bool
        /// The handler reported a protocol violation: the connection closes after the answer.
        let violation: Status?
    }
    private struct WaitingWrite {
        let callID: UInt64
        let bytes: FrameBytes
        let waiter: CheckedContinuation<Void, Error>
        /// Stream items waiting for the window: their payload's bytes.
        var payloadCount = 0
    }

    let loop: EventLoop
    let maxFrameBytes: Int
    private let maxQueued: Int
    private let maxCalls: Int
    private let server: ServerCore
    private let channel: TCPChannel
    let peer: String
    /// This connection's share of the server's stats (no lock: atomics, summed on read).
    let counters = ConnectionCounters()
    private typealias C = ConnectionCounters
    /// Shared when a call of a handler on the handler threads is admitted (`admit`): a connection
    /// that only calls non-blocking handlers never takes it (three rounds per call before).
    private let callsLock: LoopSharedLock
    private var calls = CallMap<ActiveCall>()   // guarded by callsLock (ids count up: no hashing)
    private var finishedAnswers: [FinishedAnswer] = []   // guarded by callsLock
    /// Set by the loop (under callsLock) when an ending call needs it: reading is paused (an end
    /// may resume it) or the server drains (an end may complete the drain).
    private var endsNeedLoop = false
    private var waitingWrites: [WaitingWrite] = []
    private(set) var lastActivity: UInt64
    /// The method of the previous request, reused while requests name it (no string per frame),
    /// and its handler (no lookup per frame) as of the server's `handlersGeneration`.
    private var lastMethod = ""
    private var lastHandler: (handler: Handler?, generation: Int)?
    private(set) var isClosed = false

    /// Where the connection is in its handshake (loop thread only; see `Handshake`).
    private enum Phase {
        case hello
        case proof(serverNonce: [UInt8], clientNonce: [UInt8])
        case open(Peer)
        case refused   // answered UNAUTHENTICATED and closing: nothing more is read
    }
    private var phase = Phase.hello
    private let auth: ServerAuth?
    /// A peer that does not finish the handshake in time is cut off (it holds a socket).
    private var handshakeTimer: LoopTimer?
    static let handshakeTimeoutMs: UInt64 = 10_000

    init(server: ServerCore, channel: TCPChannel) {
        self.server = server
        self.channel = channel
        loop = channel.loop
        callsLock = LoopSharedLock(loop: channel.loop)
        maxFrameBytes = server.config.maxFrameBytes
        maxQueued = server.config.maxQueuedWriteBytes
        maxCalls = max(server.config.maxConcurrentCallsPerConnection, 1)
        peer = channel.peer
        lastActivity = loop.now
        auth = server.config.auth
        if auth != nil {
            channel.maxFrameBytes = min(Handshake.maxFrameBytes, maxFrameBytes)
            let timer = LoopTimer(loop: loop)
            timer.start(after: Self.handshakeTimeoutMs) { [unowned self] in
                self.refuse(Status(.unauthenticated, "no handshake within \(Self.handshakeTimeoutMs) ms"))
            }
            handshakeTimer = timer
        }
        // Unretained, as per frame: the channel calls it only while open, and while it is open
        // its onClosed holds this connection. (A guaranteed reference: an unowned(unsafe) capture
        // was retained and released around each call, in perf.)
        let connection = Unmanaged.passUnretained(self)
        channel.onFrame = { frame in connection._withUnsafeGuaranteedRef { $0.received(frame) } }
        channel.onFrameError = { [unowned self] in
            C.add(self.counters.framesTooLarge)
            self.protocolError(Status(.resourceExhausted, "\($0)"))
        }
        channel.onWritten = { [unowned self] in self.written() }
        channel.onClosed = { [self] in self.closed(reason: $0) }   // strong: keeps us alive until closed
        server.counters.opened(counters)
    }

    /// The calls listed in `calls` (the counter moves with the table, no lock needed to read it).
    var callsInFlight: Int { Int(counters.callsInFlight.load(ordering: .relaxed)) }

    // MARK: Incoming frames

    private func received(_ frame: UnsafeBufferPointer<UInt8>) {
        loop.assertInLoop("ServerConnection.received")
        lastActivity = loop.now
        C.add(counters.bytesIn, UInt64(frame.count + 4))
        let envelope: Envelope, payload: UnsafeBufferPointer<UInt8>
        do {
            (envelope, payload) = try EnvelopeCodec.decodeBorrowing(frame, knownMethod: lastMethod)
            if envelope.method != lastMethod {
                lastMethod = envelope.method
                lastHandler = nil
            }
        } catch {
            protocolError(Status(.invalidArgument, "a frame of \(frame.count) bytes is not a lattice.v1.Envelope: \(error)"))
            return
        }
        guard case .open(let client) = phase else {
            var handshake = envelope
            handshake.payload = Array(payload)
            shake(handshake)
            return
        }
        dispatch(envelope, UnsafeRawBufferPointer(payload), from: client)
    }

    /// `payload`: the request's, still in the frame (a handshake's Hello carries it in `envelope`).
    private func dispatch(_ envelope: Envelope, _ payload: UnsafeRawBufferPointer, from client: Peer) {
        switch envelope.kind {
        case .request: start(envelope, payload, from: client)
        case .cancel: cancel(envelope.callID)
        case .windowUpdate: windowUpdate(envelope.callID, Int(envelope.window))
        case .response:
            protocolError(Status(.invalidArgument, "a client sent a RESPONSE frame (call \(envelope.callID)); clients send REQUEST or CANCEL"))
        }
    }

    // MARK: Handshake (loop thread)

    private func shake(_ envelope: Envelope) {
        switch phase {
        case .hello:
            guard envelope.kind == .request, envelope.callID == 0, envelope.method == Handshake.helloMethod else {
                guard auth != nil else {   // no proof asked: a peer that skips the handshake is served too
                    open(for: .cluster)
                    envelope.payload.withUnsafeBytes { dispatch(envelope, $0, from: .cluster) }
                    return
                }
                refuse(Status(.unauthenticated, "the first frame must be the handshake's Hello (proto/lattice/v1/auth.proto), not '\(envelope.method)'"))
                return
            }
            guard let hello = try? HandshakeHello(wire: envelope.payload), hello.clientNonce.count == Handshake.nonceBytes else {
                refuse(Status(.unauthenticated, "Hello must carry a client nonce of \(Handshake.nonceBytes) bytes"))
                return
            }
            let nonce = Handshake.nonce()
            reply(Handshake.helloMethod, HandshakeChallenge(serverNonce: nonce, authRequired: auth != nil).encode())
            if auth == nil { open(for: .cluster) } else { phase = .proof(serverNonce: nonce, clientNonce: hello.clientNonce) }
        case .proof(let serverNonce, let clientNonce):
            guard let auth, envelope.kind == .request, envelope.callID == 0, envelope.method == Handshake.proofMethod,
                  let proof = try? HandshakeProof(wire: envelope.payload) else {
                refuse(Status(.unauthenticated, "after the Challenge the handshake needs a Proof (proto/lattice/v1/auth.proto), not '\(envelope.method)'"))
                return
            }
            switch auth.verify(proof, serverNonce: serverNonce, clientNonce: clientNonce) {
            case .success(let (client, welcome)):
                reply(Handshake.proofMethod, HandshakeWelcome(mac: welcome).encode())
                open(for: client)
            case .failure(let status):
                refuse(status)
            }
        case .open, .refused:
            break
        }
    }

    private func open(for client: Peer) {
        phase = .open(client)
        handshakeTimer?.cancel()
        handshakeTimer = nil
        channel.maxFrameBytes = maxFrameBytes
    }

    /// No valid credentials: UNAUTHENTICATED on call 0, then the connection closes; nothing
    /// it sent is run.
    private func refuse(_ status: Status) {
        phase = .refused
        handshakeTimer?.cancel()
        handshakeTimer = nil
        C.add(counters.authFailures)
        server.logger.warning("refused a connection", metadata: ["peer": "\(peer)", "status": "\(status)"])
        answer(0, status)
        channel.closeAfterFlush(reason: "not authenticated: \(status.message)")
    }

    private func reply(_ method: String, _ payload: [UInt8]) {
        write(EnvelopeCodec.frame(Envelope(callID: 0, method: method, payload: payload, kind: .response)))
    }

    // MARK: Calls

    private func start(_ request: Envelope, _ payload: UnsafeRawBufferPointer, from client: Peer) {
        loop.assertInLoop("ServerConnection.start")   // runners, timers, reading state
        let id = request.callID
        if server.draining {
            answer(id, Status(.unavailable, "server is shutting down; retry on another instance"))
            return
        }
        if let auth, let refusal = auth.refusal(of: request.method, by: client) {
            if refusal.code == .unauthenticated { refuse(refusal); return }
            C.add(counters.callsTotal); C.add(counters.callsFailed); C.add(counters.callsDenied)
            answer(id, refusal)
            return
        }
        guard request.version <= Envelope.protocolVersion else {
            answer(id, Status(.failedPrecondition, "protocol version \(request.version) is not supported; this server speaks version \(Envelope.protocolVersion)"))
            return
        }
        guard let handler = handler(for: request.method) else {
            C.add(counters.callsTotal); C.add(counters.callsFailed)
            let known = server.methodNames.joined(separator: ", ")
            let status = Status(.unimplemented, "unknown method '\(request.method)'; this server serves: \(known.isEmpty ? "nothing" : known)")
            answer(id, status)
            if server.config.closeOnUnknownMethod { closeForProtocolError(status) }
            return
        }
        let deadline: ContinuousClock.Instant? = request.deadlineMs > 0
            ? .now + .milliseconds(Int64(clamping: request.deadlineMs)) : nil
        let keyID: String? = if case .client(let keyID) = client { keyID } else { nil }
        // Made where it is used, not once up front: a context (or work) kept in a local and
        // then stored in the call was copied and the local destroyed (retains and releases of
        // its strings per call, uprobes).
        func context() -> CallContext {
            CallContext(method: request.method, callID: id, deadline: deadline, peer: peer, clientKeyID: keyID)
        }
        let call: ActiveCall
        switch handler {
        case .inline(let body):
            answerInline(body, Handler.copy(payload), context())
            return
        case .task(let prepare, _):
            do {
                call = ActiveCall(connection: self, work: try prepare(payload), context: context())
            } catch {
                answerInline({ _, _ in throw error }, [], context())   // a request that does not decode
                return
            }
        }
        call.window = Int(request.window)
        if case .client(let keyID) = client {
            guard server.admitClientCall(keyID) else {
                C.add(counters.callsTotal); C.add(counters.callsFailed); C.add(counters.callsOverClientLimit)
                answer(id, Status(.resourceExhausted, "API key '\(keyID)' already has \(server.config.maxCallsPerClient) calls running here, the most one client may (--max-calls-per-client / LATTICE_MAX_CALLS_PER_CLIENT); wait for some to finish"))
                return
            }
            call.client = keyID
        }
        if request.deadlineMs > 0 {
            let timer = LoopTimer(loop: loop)
            let milliseconds = request.deadlineMs
            timer.start(after: milliseconds) { [self] in
                self.end(id, answer: Status(.deadlineExceeded, "deadline of \(milliseconds) ms passed before '\(request.method)' finished"))
            }
            call.timer = timer
        }
        guard admit(id, call, onLoop: handler.runsOnLoop) else {
            call.timer?.cancel()
            server.releaseClientCall(call.client)
            protocolError(Status(.invalidArgument, "call id \(id) is already in flight on this connection; use a fresh id per call"))
            return
        }
        C.add(counters.callsTotal); C.add(counters.callsInFlight)
        // Starting a call queued nothing: only the call limit can pause reading here.
        if callsInFlight >= maxCalls { pauseReading() }
    }

    /// Lists call `id` (false: one with that id is in flight), then queues it for a runner
    /// (the loop's, or the handler threads'), which finds it listed (`begin`). The runners are
    /// named here, not passed in: a reference held in a local cost a retain and a release per call.
    private func admit(_ id: UInt64, _ call: ActiveCall, onLoop: Bool) -> Bool {
        if !onLoop {
            // A handler thread may take the call out of the table and write its answer itself.
            callsLock.share()
            channel.shareWrites()
        }
        let listed = callsLock.fromLoop { calls.insertNew(id, call) }
        if listed { if onLoop { server.loopRunners.start(call) } else { server.poolRunners.start(call) } }
        return listed
    }

    /// A runner takes call `id`: records its Task (what ending the call cancels). False: the
    /// call ended while it waited for a runner (cancel, deadline, closed) and must not run.
    func begin(_ id: UInt64, _ task: Task<Void, Never>?) -> Bool {
        callsLock.withAccess(onLoopThread: loop.inLoopThread) { calls.update(id) { $0.task = task } != nil }
    }

    /// The handler of `method`, which is `lastMethod` (the request's, just decoded).
    private func handler(for method: String) -> Handler? {
        if let cached = lastHandler, cached.generation == server.handlersGeneration { return cached.handler }
        let handler = server.handler(for: method)
        lastHandler = (handler, server.handlersGeneration)
        return handler
    }

    /// Runs a call's handler in its runner's Task (on the pool, or on the loop for a non-blocking
    /// one) and answers: on the loop in its batched write; from the pool directly or via the loop.
    /// False when the call had ended before its handler finished (a cancel, its deadline, its
    /// connection closed): only then can its runner's Task have been cancelled (see `CallRunners.serve`).
    @discardableResult
    nonisolated(nonsending) func run(_ work: Handler.Work, _ context: CallContext) async -> Bool {
        let outcome: Result<[UInt8], Error>
        do {
            switch work {
            case .unary(let body):
                outcome = .success(try await body(context))
            case .rawUnary(let handler, let request):
                outcome = .success(try await handler(request, context))
            case .stream(let body):
                try await body(context, StreamWriter(connection: self, callID: context.callID))
                outcome = .success([])
            }
        } catch {
            outcome = .failure(error)
        }
        let (bytes, status, violation) = finalFrame(outcome, context)
        let failed = status.map { !$0.isOK } ?? false
        let id = context.callID, closeAfter = violation
        if loop.inLoopThread {
            // A non-blocking handler, on the loop: its answer joins this iteration's one batched
            // write (a send of its own per call would cost a system call each).
            guard let call = callsLock.fromLoop({ calls.removeValue(forKey: id) }) else { return false }
            countEnded(bytes: 0, failed: failed)   // `write` counts the bytes
            server.releaseClientCall(call.client)
            finished(call, queued: write(bytes))
            if closeAfter, let status { closeForProtocolError(status) }
            return true
        }
        // On a pool thread. Alone on its connection, the answer goes out from here, and the loop
        // is woken only if it has something to do (a timer, backpressure, a drain). With others
        // in flight the loop writes it, batched with theirs in one writev (cheaper per call).
        enum Taken { case gone, direct(ActiveCall, wakeLoop: Bool), queued(first: Bool) }
        let taken = callsLock.fromOtherThread { () -> Taken in
            guard calls.count == 1, let call = calls.removeValue(forKey: id) else {
                // Its handler is done: its runner may take another call before the loop ends
                // this one, so ending it must no longer cancel that runner.
                guard calls.update(id, { $0.task = nil }) != nil else { return .gone }   // ended by deadline/cancel
                finishedAnswers.append(FinishedAnswer(id: id, bytes: bytes, failed: failed, violation: closeAfter ? status : nil))
                return .queued(first: finishedAnswers.count == 1)
            }
            // Counted before the answer leaves: a client that has its answer sees it in the stats.
            countEnded(bytes: bytes.count, failed: failed)
            server.releaseClientCall(call.client)
            channel.writeFromAnyThread(bytes)   // under the lock: an ended call's answer never follows
            return .direct(call, wakeLoop: call.timer != nil || closeAfter || endsNeedLoop)
        }
        switch taken {
        case .gone:
            return false
        case .direct(_, wakeLoop: false), .queued(first: false):
            break
        case .direct(let call, wakeLoop: true):
            loop.execute { [self] in
                self.finished(call)
                if closeAfter, let status { self.closeForProtocolError(status) }
            }
        case .queued(first: true):
            // One hand-off for every answer that finishes before the loop gets to them.
            loop.execute { [self] in writeFinishedAnswers() }
        }
        return true
    }

    /// Loop: writes the answers handlers queued (see `run`), in one batch, and does the
    /// bookkeeping once for all of them.
    private func writeFinishedAnswers() {
        loop.assertInLoop("ServerConnection.writeFinishedAnswers")
        let batch = callsLock.fromLoop { () -> [(FinishedAnswer, ActiveCall)] in
            defer { finishedAnswers.removeAll(keepingCapacity: true) }
            return finishedAnswers.compactMap { answer in calls.removeValue(forKey: answer.id).map { (answer, $0) } }
        }
        guard !batch.isEmpty else { return }
        for (answer, call) in batch {
            countEnded(bytes: 0, failed: answer.failed)   // `write` counts the bytes
            server.releaseClientCall(call.client)
            write(answer.bytes)
            call.timer?.cancel()
            if let status = answer.violation { closeForProtocolError(status) }
        }
        counters.noteQueued(channel.queuedBytes)
        updateReading()
        server.callEnded()
    }

    private func countEnded(bytes: Int, failed: Bool) {
        C.add(counters.bytesOut, UInt64(bytes))
        C.subtract(counters.callsInFlight)
        if failed { C.add(counters.callsFailed) }
    }

    /// A synchronous handler, run right here on the loop (`Server.inlineUnary`): answered in
    /// this loop iteration's batched write, with no call table entry, timer or Task.
    private func answerInline(_ body: ([UInt8], CallContext) throws -> [UInt8], _ payload: [UInt8], _ context: CallContext) {
        let (bytes, status, violation) = finalFrame(Result { try body(payload, context) }, context)
        let failed = status.map { !$0.isOK } ?? false
        C.add(counters.callsTotal)
        if failed { C.add(counters.callsFailed) }
        write(bytes)
        if violation, let status { closeForProtocolError(status) }
    }

    /// The last frame of a call (its answer, or the status its handler threw), kept within the
    /// frame limit; and whether the handler reported a protocol violation. An answer is packed
    /// straight into its frame after the reply's header (an Envelope holding it, copied on its
    /// way to the codec, cost retains and releases per call in perf).
    private func finalFrame(_ outcome: Result<[UInt8], Error>, _ context: CallContext) -> (FrameBytes, Status?, violation: Bool) {
        var header = Self.replyHeader
        header.callID = context.callID
        func tooLarge(_ bytes: FrameBytes) -> Status {
            Status(.resourceExhausted, "the answer of '\(context.method)' is \(bytes.count - 4) bytes, over the maximum frame of \(maxFrameBytes) bytes")
        }
        let status: Status, violation: Bool
        switch outcome {
        case .success(let payload):
            let bytes = EnvelopeCodec.frame(header, payload: payload)
            if bytes.count - 4 <= maxFrameBytes { return (bytes, nil, false) }
            (status, violation) = (tooLarge(bytes), false)
        case .failure(let error as ProtocolViolation):
            (status, violation) = (error.status, true)
        case .failure(let error):
            (status, violation) = (Self.status(for: error, method: context.method), false)
        }
        var reply = header
        reply.status = status
        var bytes = EnvelopeCodec.frame(reply)
        if bytes.count - 4 > maxFrameBytes {   // a status message over the limit
            reply.status = tooLarge(bytes)
            bytes = EnvelopeCodec.frame(reply)
        }
        return (bytes, reply.status, violation)
    }

    /// Every call's last frame, its id filled in per call: copied from here, not built. The
    /// generated `Envelope.init` copies the Envelope it builds and destroys the first (swiftc
    /// 6.3.1, for a struct with an Optional field), through value witnesses; copying this
    /// costs less (uprobes: 3 fewer releases per call).
    private static let replyHeader = Envelope(method: "", endOfStream: true, kind: .response)

    static func status(for error: Error, method: String) -> Status {
        switch error {
        case let status as Status: status
        case is CancellationError: Status(.cancelled, "'\(method)' was cancelled")
        default: Status(.internal, "'\(method)' failed: \(error)")
        }
    }

    // MARK: Ending calls (loop thread)

    /// A handler's answer went out (see `run`); `queued`: the bytes queued now, if known.
    private func finished(_ call: ActiveCall, queued: Int? = nil) {
        loop.assertInLoop("ServerConnection.finished")
        call.timer?.cancel()
        let queued = queued ?? channel.queuedBytes
        counters.noteQueued(queued)
        updateReading(queued: queued)
        server.callEnded()
    }

    /// Ends a call early: cancels its Task, and answers the client if `answer` is given.
    private func end(_ id: UInt64, answer status: Status?) {
        loop.assertInLoop("ServerConnection.end")
        // Whoever takes the call out of the table answers it: here, or its handler (see `run`).
        guard let call = callsLock.fromLoop({ calls.removeValue(forKey: id) }) else { return }
        server.releaseClientCall(call.client)
        if let status { answer(id, status) }
        call.task?.cancel()
        call.timer?.cancel()
        let why = Status(.cancelled, status?.message ?? "call \(id) was cancelled by the client")
        call.waitingForWindow?.waiter.resume(throwing: why)
        failWaitingWrites(of: id, why)
        C.subtract(counters.callsInFlight); C.add(counters.callsFailed)
        updateReading()
        server.callEnded()
    }

    private func cancel(_ id: UInt64) { end(id, answer: nil) }

    /// Tells the client this connection is going away (call id 0, UNAVAILABLE): calls in flight
    /// finish here, new ones should go to a new connection.
    func goAway() {
        loop.assertInLoop("ServerConnection.goAway")
        callsLock.fromLoop { endsNeedLoop = true }
        answer(0, Status(.unavailable, "server is draining: calls in flight finish, send new calls on a new connection"))
    }

    /// Ends every call and closes once queued answers are written (server shutdown).
    func drainAndClose(reason: String) {
        loop.assertInLoop("ServerConnection.drainAndClose")
        for id in callsLock.fromLoop({ calls.entries.map(\.id) }) { end(id, answer: Status(.unavailable, reason)) }
        channel.closeAfterFlush(reason: reason)
    }

    func forceClose(reason: String) { channel.close(reason: reason) }

    private func closed(reason: String) {
        loop.assertInLoop("ServerConnection.closed")
        isClosed = true
        handshakeTimer?.cancel()
        handshakeTimer = nil
        let ended = callsLock.fromLoop { () -> [(id: UInt64, value: ActiveCall)] in
            defer { calls = CallMap() }
            return calls.entries
        }
        for (_, call) in ended {
            server.releaseClientCall(call.client)
            call.task?.cancel()
            call.timer?.cancel()
            call.waitingForWindow?.waiter.resume(throwing: Status(.unavailable, "connection closed: \(reason)"))
        }
        let waiting = waitingWrites
        waitingWrites.removeAll()
        for write in waiting { write.waiter.resume(throwing: Status(.unavailable, "connection closed: \(reason)")) }
        C.subtract(counters.callsInFlight, UInt64(ended.count))
        C.add(counters.callsFailed, UInt64(ended.count))
        server.counters.closed(counters)
        server.logger.debug("connection closed", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
        server.connectionClosed(self)
        if !ended.isEmpty { server.callEnded() }
    }

    // MARK: Writing (loop thread)

    private func answer(_ id: UInt64, _ status: Status) {
        write(EnvelopeCodec.frame(Envelope(callID: id, method: "", status: status, endOfStream: true, kind: .response)))
    }

    /// Returns the bytes queued now.
    @discardableResult
    private func write(_ bytes: FrameBytes) -> Int {
        let queued = channel.write(bytes)
        C.add(counters.bytesOut, UInt64(bytes.count))
        counters.noteQueued(queued)
        if queued > maxQueued { pauseReading() }
        return queued
    }

    /// Backpressure: a client whose answers pile up unread, or who has too many calls running,
    /// gets no more requests read until that eases (hysteresis: resume at half the queue limit).
    private func updateReading(queued known: Int? = nil) {
        loop.assertInLoop("ServerConnection.updateReading")
        guard !isClosed else { return }
        let queued = known ?? channel.queuedBytes
        if callsInFlight >= maxCalls || queued > maxQueued {
            pauseReading()
        } else if !channel.isReading && queued <= maxQueued / 2 {
            channel.resumeReading()
            callsLock.fromLoop { endsNeedLoop = server.draining }
        }
    }

    private func pauseReading() {
        channel.pauseReading()
        callsLock.fromLoop { endsNeedLoop = true }
    }

    private func hasRoom(for count: Int) -> Bool {
        let queued = channel.queuedBytes
        return queued == 0 || queued + count <= maxQueued
    }

    /// A stream item from a handler: waits for the client's window if it is used up, then is
    /// written now if the queue has room, else when it drains.
    /// `payloadCount`: what the item costs of the window (the client grants payload bytes back).
    func sendStreamItem(_ id: UInt64, _ bytes: FrameBytes, payloadCount: Int, _ waiter: CheckedContinuation<Void, Error>) {
        enum Admission { case ended, waitsForWindow, goes }
        let admission = isClosed ? .ended : callsLock.fromLoop {
            calls.update(id) { call -> Admission in
                guard call.mayStream(payloadCount) else {
                    call.waitingForWindow = WaitingWrite(callID: id, bytes: bytes, waiter: waiter, payloadCount: payloadCount)
                    return .waitsForWindow
                }
                call.unacknowledged += payloadCount
                return .goes
            } ?? .ended
        }
        switch admission {
        case .ended:
            waiter.resume(throwing: Status(.cancelled, "call \(id) has ended (cancelled, past its deadline, or its connection closed)"))
        case .waitsForWindow:
            C.add(counters.streamWindowWaits)
        case .goes:
            queueStreamItem(id, bytes, waiter)
        }
    }

    /// The client took `bytes` of call `id`'s stream: an item waiting for the window may go.
    private func windowUpdate(_ id: UInt64, _ bytes: Int) {
        loop.assertInLoop("ServerConnection.windowUpdate")
        let ready = callsLock.fromLoop {   // nil: ended meanwhile, or the window is still used up
            calls.update(id) { call -> WaitingWrite? in
                call.unacknowledged = max(call.unacknowledged - bytes, 0)
                guard let waiting = call.waitingForWindow, call.mayStream(waiting.payloadCount) else { return nil }
                call.waitingForWindow = nil
                call.unacknowledged += waiting.payloadCount
                return waiting
            } ?? nil
        }
        if let ready { queueStreamItem(id, ready.bytes, ready.waiter) }
    }

    private func queueStreamItem(_ id: UInt64, _ bytes: FrameBytes, _ waiter: CheckedContinuation<Void, Error>) {
        if waitingWrites.isEmpty && hasRoom(for: bytes.count) {
            write(bytes)
            waiter.resume()
        } else {
            waitingWrites.append(WaitingWrite(callID: id, bytes: bytes, waiter: waiter))
        }
    }

    private func written() {
        loop.assertInLoop("ServerConnection.written")
        var sent = 0
        while sent < waitingWrites.count, hasRoom(for: waitingWrites[sent].bytes.count) {
            write(waitingWrites[sent].bytes)
            waitingWrites[sent].waiter.resume()
            sent += 1
        }
        if sent > 0 { waitingWrites.removeFirst(sent) }
        updateReading()
    }

    private func failWaitingWrites(of id: UInt64, _ status: Status) {
        guard waitingWrites.contains(where: { $0.callID == id }) else { return }
        var kept: [WaitingWrite] = []
        for write in waitingWrites {
            if write.callID == id { write.waiter.resume(throwing: status) } else { kept.append(write) }
        }
        waitingWrites = kept
    }

    // MARK: Protocol errors

    /// Answers with `status` (call id 0: the frame's own id is unknown) and closes this connection.
    private func protocolError(_ status: Status) {
        closeForProtocolError(status)
    }

    /// Says `status` on call id 0 (so the client sends no further calls here, even one it was
    /// about to send on being answered) and closes once that is written.
    private func closeForProtocolError(_ status: Status) {
        answer(0, status)
        C.add(counters.protocolErrors)
        server.logger.warning("closing connection after a protocol error", metadata: ["peer": "\(peer)", "status": "\(status)"])
        channel.closeAfterFlush(reason: "protocol error: \(status)")
    }
}
