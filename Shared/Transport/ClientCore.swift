import Logging
import Wire

/// The loop-confined half of a `Connection`: the socket, the call table, and the
/// connect / reconnect state machine.
final class ClientCore: @unchecked Sendable {
    private enum State {
        case idle                       // no socket; the next call connects
        case connecting
        case connected(TCPChannel, Int)    // the socket new calls go to, and its number
        case waitingToRetry(LoopTimer)
        case closed                     // `close()` was called; terminal
    }

    let loop: EventLoop
    let target: Endpoint
    let config: TransportConfig
    let policy: ReconnectPolicy
    let logger: Logger

    // Loop thread only.
    private var state = State.idle
    private var table = CallTable()
    private var attempts = 0
    private var lastServerError: [Int: Status] = [:]
    /// Every open socket by number: the current one, and retired ones (the server said it is
    /// going away) that still carry answers to calls sent on them.
    private var sockets: [Int: TCPChannel] = [:]
    private var lastSocketNumber = 0
    private var abandoned = false   // the Connection is gone: close once no call is left

    init(loop: EventLoop, target: Endpoint, config: TransportConfig, policy: ReconnectPolicy, logger: Logger) {
        self.loop = loop
        self.target = target
        self.config = config
        self.policy = policy
        self.logger = logger
    }

    func start(_ id: UInt64, _ method: String, _ request: FrameBytes, _ waiter: CallTable.Waiter, deadlineMs: UInt64) {
        var call = CallTable.Call(method: method, waiter: waiter, request: request)
        if case .closed = state {
            table.insert(id, call)
            table.fail(id, Status(.unavailable, "connection to \(target) was closed by this client"))
            return
        }
        if deadlineMs > 0 {
            let timer = LoopTimer(loop: loop)
            timer.start(after: deadlineMs) { [self] in
                self.end(id, Status(.deadlineExceeded, "'\(method)' on \(target) got no answer within its deadline of \(deadlineMs) ms"))
            }
            call.onEnd = { timer.cancel() }
        }
        table.insert(id, call)
        switch state {
        case .connected(let channel, let number):
            if let bytes = table.takeRequest(id, sendingOn: number) { channel.write(bytes) }
        case .idle:
            connect()
        case .connecting, .waitingToRetry, .closed:
            break   // sent once connected
        }
    }

    /// The caller cancelled (Task cancelled or stream dropped).
    func cancel(_ id: UInt64) {
        end(id, Status(.cancelled, "call was cancelled by the caller"))
    }

    private func end(_ id: UInt64, _ status: Status) {
        let (existed, sentOn) = table.fail(id, status)
        if existed, let channel = sockets[sentOn] {
            channel.write(EnvelopeCodec.frame(Envelope(callID: id, method: "", kind: .cancel)))
        }
        closeIfAbandoned()
    }

    func abandon() {
        abandoned = true
        closeIfAbandoned()
    }

    private func closeIfAbandoned() {
        guard abandoned, table.isEmpty else { return }
        if case .waitingToRetry(let timer) = state { timer.cancel() }
        state = .closed
        closeSockets(reason: "connection dropped by its owner")
    }

    private func closeSockets(reason: String) {
        let open = sockets.values
        sockets.removeAll()
        for channel in open { channel.close(reason: reason) }
    }

    func close(_ done: CheckedContinuation<Void, Never>) {
        if case .waitingToRetry(let timer) = state { timer.cancel() }
        state = .closed
        table.failAll(Status(.cancelled, "connection to \(target) was closed by this client"))
        closeSockets(reason: "closed by client")
        done.resume()
    }

    // MARK: Connecting

    private func connect() {
        state = .connecting
        attempts += 1
        if let address = SocketAddress.numeric(host: target.host, port: target.port) {
            dial(address)
            return
        }
        // Name lookup blocks, so it runs off the loop thread.
        let target = target
        Task.detached { [self] in
            let result = Result<SocketAddress, Error> { try SocketAddress.resolve(host: target.host, port: target.port) }
            loop.execute { [self] in
                switch result {
                case .success(let address): dial(address)
                case .failure(let error): connectFailed(error as? Status ?? Status(.unavailable, "\(error)"))
                }
            }
        }
    }

    private func dial(_ address: SocketAddress) {
        if case .closed = state { return }
        Connector.connect(loop: loop, address: address, maxFrameBytes: config.maxFrameBytes) { [self] result in
            switch result {
            case .success(let channel): connected(channel)
            case .failure(let status): connectFailed(status)
            }
        }
    }

    private func connected(_ channel: TCPChannel) {
        if case .closed = state {
            channel.close(reason: "client closed while connecting")
            return
        }
        attempts = 0
        lastSocketNumber += 1
        let number = lastSocketNumber
        sockets[number] = channel
        state = .connected(channel, number)
        channel.onFrame = { [unowned self, unowned channel] in self.received($0, on: channel, number) }
        channel.onFrameError = { [unowned channel] error in channel.close(reason: "server broke the framing: \(error)") }
        channel.onClosed = { [self] reason in self.lost(number, reason) }
        for request in table.takeUnsent(sendingOn: number) { channel.write(request) }
        logger.debug("connected", metadata: ["target": "\(target)"])
    }

    private func connectFailed(_ status: Status) {
        if case .closed = state { return }
        state = .idle
        guard table.hasUnsent else { attempts = 0; return }   // nobody waits: stop trying
        if let maxAttempts = policy.maxAttempts, attempts >= maxAttempts {
            let plural = attempts == 1 ? "attempt" : "attempts"
            table.failAll(Status(.unavailable, "\(status.message) (\(attempts) \(plural)); is the server running at \(target)?"), sentOn: 0)
            attempts = 0
            return
        }
        let delay = policy.delay(beforeRetry: attempts, jitter: Double.random(in: 0.5...1))
        logger.debug("connect failed, retrying", metadata: ["target": "\(target)", "attempt": "\(attempts)", "delay": "\(delay)", "reason": "\(status.message)"])
        let timer = LoopTimer(loop: loop)
        state = .waitingToRetry(timer)
        timer.start(after: UInt64(ReconnectPolicy.milliseconds(delay))) { [self] in
            timer.cancel()
            guard case .waitingToRetry = state else { return }
            state = .idle
            if table.hasUnsent { connect() } else { attempts = 0 }
        }
    }

    private func lost(_ number: Int, _ reason: String) {
        sockets.removeValue(forKey: number)
        let said = lastServerError.removeValue(forKey: number).map { " (server said: \($0))" } ?? ""
        table.failAll(Status(.unavailable, "connection to \(target) lost: \(reason)\(said)"), sentOn: number)
        if case .closed = state { return }
        if case .connected(_, number) = state { state = .idle }
        if abandoned { closeIfAbandoned(); return }
        logger.debug("connection lost", metadata: ["target": "\(target)", "reason": "\(reason)"])
        if case .idle = state, table.hasUnsent { connect() }
    }

    /// The server said this socket is going away (draining, or a protocol error): calls already
    /// sent on it finish there; new calls go to a new connection.
    private func retire(_ number: Int) {
        guard case .connected(_, number) = state else { return }
        state = .idle
        if table.hasUnsent { connect() }
    }

    // MARK: Answers

    private func received(_ frame: UnsafeBufferPointer<UInt8>, on channel: TCPChannel, _ number: Int) {
        guard let envelope = try? EnvelopeCodec.decode(frame) else {
            channel.close(reason: "server sent a frame of \(frame.count) bytes that is not a lattice.v1.Envelope")
            return
        }
        guard envelope.kind == .response else {
            channel.close(reason: "server sent a \(envelope.kind) frame; servers send RESPONSE")
            return
        }
        if envelope.callID == 0, let status = envelope.status, !status.isOK {
            lastServerError[number] = status   // about the connection itself: it is going away
            retire(number)
            return
        }
        table.deliver(envelope)
        if abandoned { closeIfAbandoned() }
    }
}
