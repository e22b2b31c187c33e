import Logging
import Wire

/// One accepted connection on a server: decodes envelopes, runs each request's handler in a Task
/// of its own, and writes answers back. All state is confined to the loop thread; handler Tasks
/// reach it only through `loop.execute`.
final class ServerConnection: @unchecked Sendable {
    private struct ActiveCall {
        var task: Task<Void, Never>?
        var timer: LoopTimer?
    }
    private struct WaitingWrite {
        let callID: UInt64
        let bytes: FrameBytes
        let waiter: CheckedContinuation<Void, Error>
    }

    let loop: EventLoop
    let maxFrameBytes: Int
    private let maxQueued: Int
    private let maxCalls: Int
    private let server: ServerCore
    private let channel: TCPChannel
    let peer: String
    private var calls: [UInt64: ActiveCall] = [:]
    private var waitingWrites: [WaitingWrite] = []
    private(set) var lastActivity: UInt64
    private(set) var isClosed = false

    init(server: ServerCore, channel: TCPChannel) {
        self.server = server
        self.channel = channel
        loop = channel.loop
        maxFrameBytes = server.config.maxFrameBytes
        maxQueued = server.config.maxQueuedWriteBytes
        maxCalls = max(server.config.maxConcurrentCallsPerConnection, 1)
        peer = channel.peer
        lastActivity = loop.now
        channel.onFrame = { [unowned self] in self.received($0) }
        channel.onFrameError = { [unowned self] in
            self.protocolError(Status(.resourceExhausted, "\($0)"))
        }
        channel.onWritten = { [unowned self] in self.written() }
        channel.onClosed = { [self] in self.closed(reason: $0) }   // strong: keeps us alive until closed
    }

    var callsInFlight: Int { calls.count }

    // MARK: Incoming frames

    private func received(_ frame: UnsafeBufferPointer<UInt8>) {
        lastActivity = loop.now
        server.stats.withLock { $0.bytesIn += UInt64(frame.count + 4) }
        let envelope: Envelope
        do {
            envelope = try EnvelopeCodec.decode(frame)
        } catch {
            protocolError(Status(.invalidArgument, "a frame of \(frame.count) bytes is not a lattice.v1.Envelope: \(error)"))
            return
        }
        switch envelope.kind {
        case .request: start(envelope)
        case .cancel: cancel(envelope.callID)
        case .response:
            protocolError(Status(.invalidArgument, "a client sent a RESPONSE frame (call \(envelope.callID)); clients send REQUEST or CANCEL"))
        }
    }

    private func start(_ request: Envelope) {
        let id = request.callID
        if server.draining {
            answer(id, Status(.unavailable, "server is shutting down; retry on another instance"))
            return
        }
        guard calls[id] == nil else {
            protocolError(Status(.invalidArgument, "call id \(id) is already in flight on this connection; use a fresh id per call"))
            return
        }
        guard request.version <= Envelope.protocolVersion else {
            answer(id, Status(.failedPrecondition, "protocol version \(request.version) is not supported; this server speaks version \(Envelope.protocolVersion)"))
            return
        }
        guard let handler = server.handler(for: request.method) else {
            server.stats.withLock { $0.callsTotal += 1; $0.callsFailed += 1 }
            let known = server.methodNames.joined(separator: ", ")
            let status = Status(.unimplemented, "unknown method '\(request.method)'; this server serves: \(known.isEmpty ? "nothing" : known)")
            answer(id, status)
            if server.config.closeOnUnknownMethod { closeForProtocolError(status) }
            return
        }
        let deadline: ContinuousClock.Instant? = request.deadlineMs > 0
            ? .now + .milliseconds(Int64(clamping: request.deadlineMs)) : nil
        let context = CallContext(method: request.method, callID: id, deadline: deadline, peer: peer)
        server.stats.withLock { $0.callsTotal += 1; $0.callsInFlight += 1 }
        var call = ActiveCall()
        if request.deadlineMs > 0 {
            let timer = LoopTimer(loop: loop)
            let milliseconds = request.deadlineMs
            timer.start(after: milliseconds) { [self] in
                self.end(id, answer: Status(.deadlineExceeded, "deadline of \(milliseconds) ms passed before '\(request.method)' finished"))
            }
            call.timer = timer
        }
        let payload = request.payload
        call.task = Task { [self] in await self.run(handler, payload, context) }
        calls[id] = call
        updateReading()
    }

    /// Runs on Swift concurrency, never on the loop; hands the final frame back to the loop.
    private func run(_ handler: Handler, _ payload: [UInt8], _ context: CallContext) async {
        var reply = Envelope(callID: context.callID, method: "", endOfStream: true, kind: .response)
        var violation = false
        do {
            switch handler {
            case .unary(let body):
                reply.payload = try await body(payload, context)
            case .stream(let body):
                try await body(payload, context, StreamWriter(connection: self, callID: context.callID))
            }
        } catch let error as ProtocolViolation {
            reply.status = error.status
            violation = true
        } catch {
            reply.status = Self.status(for: error, method: context.method)
        }
        var bytes = EnvelopeCodec.frame(reply)
        if bytes.count - 4 > maxFrameBytes {
            reply.payload = []
            reply.status = Status(.resourceExhausted, "the answer of '\(context.method)' is \(bytes.count - 4) bytes, over the maximum frame of \(maxFrameBytes) bytes")
            bytes = EnvelopeCodec.frame(reply)
        }
        let failed = reply.status.map { !$0.isOK } ?? false
        let frame = bytes, status = reply.status, closeAfter = violation
        loop.execute { [self] in
            self.finish(context.callID, frame, failed: failed)
            if closeAfter, let status { self.closeForProtocolError(status) }
        }
    }

    static func status(for error: Error, method: String) -> Status {
        switch error {
        case let status as Status: status
        case is CancellationError: Status(.cancelled, "'\(method)' was cancelled")
        default: Status(.internal, "'\(method)' failed: \(error)")
        }
    }

    // MARK: Ending calls (loop thread)

    private func finish(_ id: UInt64, _ bytes: FrameBytes, failed: Bool) {
        guard let call = calls.removeValue(forKey: id) else { return }   // already ended by deadline/cancel
        call.timer?.cancel()
        write(bytes)
        server.stats.withLock {
            $0.callsInFlight -= 1
            if failed { $0.callsFailed += 1 }
        }
        updateReading()
        server.callEnded()
    }

    /// Ends a call early: cancels its Task, and answers the client if `answer` is given.
    private func end(_ id: UInt64, answer status: Status?) {
        guard let call = calls.removeValue(forKey: id) else { return }
        call.task?.cancel()
        call.timer?.cancel()
        failWaitingWrites(of: id, Status(.cancelled, status?.message ?? "call \(id) was cancelled by the client"))
        if let status { answer(id, status) }
        server.stats.withLock { $0.callsInFlight -= 1; $0.callsFailed += 1 }
        updateReading()
        server.callEnded()
    }

    private func cancel(_ id: UInt64) { end(id, answer: nil) }

    /// Tells the client this connection is going away (call id 0, UNAVAILABLE): calls in flight
    /// finish here, new ones should go to a new connection.
    func goAway() {
        answer(0, Status(.unavailable, "server is draining: calls in flight finish, send new calls on a new connection"))
    }

    /// Ends every call and closes once queued answers are written (server shutdown).
    func drainAndClose(reason: String) {
        for id in Array(calls.keys) { end(id, answer: Status(.unavailable, reason)) }
        channel.closeAfterFlush(reason: reason)
    }

    func forceClose(reason: String) { channel.close(reason: reason) }

    private func closed(reason: String) {
        isClosed = true
        let ended = calls
        calls.removeAll()
        for (_, call) in ended {
            call.task?.cancel()
            call.timer?.cancel()
        }
        let waiting = waitingWrites
        waitingWrites.removeAll()
        for write in waiting { write.waiter.resume(throwing: Status(.unavailable, "connection closed: \(reason)")) }
        server.stats.withLock {
            $0.callsInFlight -= UInt64(ended.count)
            $0.callsFailed += UInt64(ended.count)
            $0.connectionsOpen -= 1
        }
        server.logger.debug("connection closed", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
        server.connectionClosed(self)
        if !ended.isEmpty { server.callEnded() }
    }

    // MARK: Writing (loop thread)

    private func answer(_ id: UInt64, _ status: Status) {
        write(EnvelopeCodec.frame(Envelope(callID: id, method: "", status: status, endOfStream: true, kind: .response)))
    }

    private func write(_ bytes: FrameBytes) {
        channel.write(bytes)
        let queued = channel.queuedBytes
        server.stats.withLock {
            $0.bytesOut += UInt64(bytes.count)
            $0.maxQueuedWriteBytes = max($0.maxQueuedWriteBytes, UInt64(queued))
        }
        if queued > maxQueued { channel.pauseReading() }
    }

    /// Backpressure: a client whose answers pile up unread, or who has too many calls running,
    /// gets no more requests read until that eases (hysteresis: resume at half the queue limit).
    private func updateReading() {
        guard !isClosed else { return }
        let queued = channel.queuedBytes
        if calls.count >= maxCalls || queued > maxQueued {
            channel.pauseReading()
        } else if !channel.isReading && queued <= maxQueued / 2 {
            channel.resumeReading()
        }
    }

    private func hasRoom(for count: Int) -> Bool {
        let queued = channel.queuedBytes
        return queued == 0 || queued + count <= maxQueued
    }

    /// A stream item from a handler: written now if the queue has room, else when it drains.
    func sendStreamItem(_ id: UInt64, _ bytes: FrameBytes, _ waiter: CheckedContinuation<Void, Error>) {
        guard calls[id] != nil, !isClosed else {
            waiter.resume(throwing: Status(.cancelled, "call \(id) has ended (cancelled, past its deadline, or its connection closed)"))
            return
        }
        if waitingWrites.isEmpty && hasRoom(for: bytes.count) {
            write(bytes)
            waiter.resume()
        } else {
            waitingWrites.append(WaitingWrite(callID: id, bytes: bytes, waiter: waiter))
        }
    }

    private func written() {
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
        answer(0, status)
        closeForProtocolError(status)
    }

    private func closeForProtocolError(_ status: Status) {
        server.stats.withLock { $0.protocolErrors += 1 }
        server.logger.warning("closing connection after a protocol error", metadata: ["peer": "\(peer)", "status": "\(status)"])
        channel.closeAfterFlush(reason: "protocol error: \(status)")
    }
}
