import Foundation
import Logging
import Wire

/// The loop-side half of a `Connection`: the socket, the call table, and the connect /
/// reconnect state machine. Loop-confined except for the fast path: while a socket is
/// connected, a caller registers its call and sends its request itself (`submit`), so a call
/// needs no hop through the loop thread on its way out. The call table and the socket new calls
/// go to are therefore behind `lock`; answers are still matched and resumed on the loop thread.
final class ClientCore: @unchecked Sendable {
    private enum State {
        case idle                       // no socket; the next call connects
        case connecting
        case handshaking(TCPChannel, Int)  // connected; Hello sent, Challenge awaited
        case connected(TCPChannel, Int)    // the socket new calls go to, and its number
        case waitingToRetry(LoopTimer)
        case closed                     // `close()` was called; terminal
    }

    let loop: EventLoop
    let target: Endpoint
    let config: TransportConfig
    let policy: ReconnectPolicy
    let logger: Logger
    let counters = ClientCounters()

    // Guarded by lock (the loop and callers on the fast path). Shared by the loop when the first
    // call is submitted from another thread (`submit`): a client whose calls are all made on the
    // loop (tasks on `TransportLoop.executor`, answer callbacks) takes no lock per call.
    private let lock: LoopSharedLock
    private var table = CallTable()
    private var current: (channel: TCPChannel, number: Int)?   // mirrors state .connected
    /// The loop is handing out the answers of one read (see `received`).
    private var inRead = false
    /// Requests of calls made on the loop during the read, for socket `heldFor`: they go out
    /// when it is done (their calls are in the table, marked sent on that socket already), or
    /// back into the table as unsent if that socket stops taking calls meanwhile (`unhold`).
    private var held: [(id: UInt64, request: FrameBytes)] = []
    private var heldFor = 0

    // Loop thread only.
    private var state = State.idle
    private var attempts = 0
    private var lastServerError: [Int: Status] = [:]
    /// Every open socket by number: the current one, and retired ones (the server said it is
    /// going away) that still carry answers to calls sent on them.
    private var sockets: [Int: TCPChannel] = [:]
    private var lastSocketNumber = 0
    private var abandoned = false   // the Connection is gone: close once no call is left
    /// Sockets whose handshake is not finished, and what they wait for next.
    private var handshakes: [Int: PendingHandshake] = [:]

    private struct PendingHandshake {
        let clientNonce: [UInt8]
        var expectedWelcome: [UInt8]? = nil   // set once the Proof is sent
    }

    init(loop: EventLoop, target: Endpoint, config: TransportConfig, policy: ReconnectPolicy, logger: Logger) {
        self.loop = loop
        lock = LoopSharedLock(loop: loop)
        self.target = target
        self.config = config
        self.policy = policy
        self.logger = logger
    }

    /// Starts a call from any thread: sent straight from the caller while a socket is up and no
    /// other call is in flight, else handed to the loop (which connects first if need be). On
    /// the loop thread (a callback or a task on the loop executor) the request joins this loop
    /// iteration's one batched write, with no hop and no allocation besides its frame.
    func submit(_ id: UInt64, _ method: String, _ request: FrameBytes, _ waiter: CallTable.Waiter, deadlineMs: UInt64) {
        let limit = config.maxPendingCalls
        let onLoopThread = loop.inLoopThread
        if !onLoopThread && !lock.isShared {
            // The first call from another thread: the loop shares the table from now on.
            loop.execute { [self] in
                lock.share()
                for channel in sockets.values { channel.shareWrites() }   // sends calls straight out (see `decide`)
                submit(id, method, request, waiter, deadlineMs: deadlineMs)
            }
            return
        }
        enum Outcome { case full, sent, viaLoop }
        func decide() -> Outcome {
            guard table.count < limit else { return .full }
            guard let (channel, number) = current else { return .viaLoop }
            if onLoopThread {
                if inRead {
                    // Answers of a read are still being handed out and a go-away may follow
                    // them (see `received`): the request is held until the read is done.
                    table.insert(id, CallTable.Call(method: method, waiter: waiter, request: nil, sentOn: number))
                    held.append((id, request))
                    heldFor = number
                } else {
                    table.insert(id, CallTable.Call(method: method, waiter: waiter, request: nil, sentOn: number))
                    channel.write(request)   // written with the others at the end of this iteration
                }
                return .sent
            }
            // With other calls in flight the loop is busy anyway and batches their requests into
            // one writev, which costs less per call than a send each; during a read, see above.
            guard table.isEmpty, !inRead else { return .viaLoop }
            table.insert(id, CallTable.Call(method: method, waiter: waiter, request: nil, sentOn: number))
            // Under the lock, so a CANCEL for this call (sent by the loop, also under it) goes after.
            channel.writeFromAnyThread(request)
            return .sent
        }
        let outcome = lock.withAccess(onLoopThread: onLoopThread, decide)
        switch outcome {
        case .full:
            counters.add(.callRefused)
            CallTable.refuse(waiter, Status(.resourceExhausted, "'\(method)': \(limit) calls to \(target) are already waiting for answers on this connection (TransportConfig.maxPendingCalls); wait for some to finish"))
        case .sent:
            guard deadlineMs > 0 else { return }
            if onLoopThread { armDeadline(id, method, deadlineMs) } else { loop.execute { [self] in armDeadline(id, method, deadlineMs) } }
        case .viaLoop:
            if onLoopThread { start(id, method, request, waiter, deadlineMs: deadlineMs) } else {
                loop.execute { [self] in start(id, method, request, waiter, deadlineMs: deadlineMs) }
            }
        }
    }

    /// Loop thread: starts a call that could not take the fast path.
    private func start(_ id: UInt64, _ method: String, _ request: FrameBytes, _ waiter: CallTable.Waiter, deadlineMs: UInt64) {
        loop.assertInLoop("ClientCore.start")
        if lock.fromLoop({ current == nil && table.unsentBytes + request.count > config.maxUnsentRequestBytes }) {
            counters.add(.callRefused)
            CallTable.refuse(waiter, Status(.resourceExhausted, "'\(method)': over \(config.maxUnsentRequestBytes) request bytes wait for the connection to \(target) (TransportConfig.maxUnsentRequestBytes); is it reachable?"))
            return
        }
        lock.fromLoop {
            table.insert(id, CallTable.Call(method: method, waiter: waiter, request: request))
            if case .closed = state {
                table.fail(id, Status(.unavailable, "connection to \(target) was closed by this client"))
            } else if case .connected(let channel, let number) = state, let bytes = table.takeRequest(id, sendingOn: number) {
                channel.write(bytes)   // connected since `submit` looked
            }
        }
        if deadlineMs > 0 { armDeadline(id, method, deadlineMs) }
        if case .idle = state { connect() }   // else it is sent once connected
    }

    /// Loop thread: fails the call with DEADLINE_EXCEEDED after `deadlineMs` unless it ends first.
    private func armDeadline(_ id: UInt64, _ method: String, _ deadlineMs: UInt64) {
        let timer = LoopTimer(loop: loop)
        guard lock.fromLoop({ table.setOnEnd(id, { timer.cancel() }) }) else { timer.cancel(); return }   // already answered
        timer.start(after: deadlineMs) { [self] in
            self.end(id, Status(.deadlineExceeded, "'\(method)' on \(target) got no answer within its deadline of \(deadlineMs) ms"))
        }
    }

    /// The caller cancelled (Task cancelled or stream dropped).
    func cancel(_ id: UInt64) {
        end(id, Status(.cancelled, "call was cancelled by the caller"))
    }

    /// Loop: grants a stream's server `bytes` more of its window (the consumer took them).
    func grant(_ id: UInt64, _ bytes: Int) {
        loop.assertInLoop("ClientCore.grant")
        lock.fromLoop {
            guard let socket = table.sentOn(id), let channel = sockets[socket] else { return }
            channel.write(EnvelopeCodec.frame(Envelope(callID: id, method: "", kind: .windowUpdate, window: UInt32(clamping: bytes))))
        }
        counters.add(.windowUpdateSent)
    }

    /// Loop: ends a call with `status` and tells the server (CANCEL) if its request went out.
    func end(_ id: UInt64, _ status: Status) {
        loop.assertInLoop("ClientCore.end")
        lock.fromLoop {
            if let index = held.firstIndex(where: { $0.id == id }) {
                held.remove(at: index)   // never sent: the server needs no CANCEL
                table.fail(id, status)
                return
            }
            let (existed, sentOn) = table.fail(id, status)
            if existed, let channel = sockets[sentOn] {
                channel.write(EnvelopeCodec.frame(Envelope(callID: id, method: "", kind: .cancel)))
            }
        }
        closeIfAbandoned()
    }

    func abandon() {
        loop.assertInLoop("ClientCore.abandon")
        abandoned = true
        closeIfAbandoned()
    }

    private func closeIfAbandoned() {
        guard abandoned, lock.fromLoop({ table.isEmpty }) else { return }
        if case .waitingToRetry(let timer) = state { timer.cancel() }
        setClosed()
        closeSockets(reason: "connection dropped by its owner")
    }

    private func closeSockets(reason: String) {
        let open = sockets.values
        sockets.removeAll()
        for channel in open { channel.close(reason: reason) }
    }

    func close(_ done: CheckedContinuation<Void, Never>) {
        loop.assertInLoop("ClientCore.close")
        if case .waitingToRetry(let timer) = state { timer.cancel() }
        setClosed()
        lock.fromLoop { table.failAll(Status(.cancelled, "connection to \(target) was closed by this client")) }
        closeSockets(reason: "closed by client")
        done.resume()
    }

    /// Loop thread: the one way into `.closed`; new calls stop taking the fast path.
    private func setClosed() {
        state = .closed
        lock.fromLoop { current = nil }
    }

    // MARK: Connecting

    private func connect() {
        loop.assertInLoop("ClientCore.connect")
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
        loop.assertInLoop("ClientCore.connected")
        if case .closed = state {
            channel.close(reason: "client closed while connecting")
            return
        }
        lastSocketNumber += 1
        let number = lastSocketNumber
        sockets[number] = channel
        state = .handshaking(channel, number)
        // Unretained, as per frame: the channel calls these only while open, and while it is
        // open its onClosed holds this core. (onFrame takes guaranteed references: its
        // unowned(unsafe) captures were retained and released around each frame, in perf.)
        let core = Unmanaged.passUnretained(self), socket = Unmanaged.passUnretained(channel)
        channel.onFrame = { frame in
            core._withUnsafeGuaranteedRef { core in socket._withUnsafeGuaranteedRef { core.received(frame, on: $0, number) } }
        }
        channel.onFramesDelivered = { [unowned(unsafe) self] in self.readDone() }
        channel.onFrameError = { [unowned channel] error in channel.close(reason: "server broke the framing: \(error)") }
        channel.onClosed = { [self] reason in self.lost(number, reason) }
        let nonce = Handshake.nonce()
        handshakes[number] = PendingHandshake(clientNonce: nonce)
        channel.write(EnvelopeCodec.frame(Envelope(callID: 0, method: Handshake.helloMethod, payload: HandshakeHello(clientNonce: nonce).encode())))
    }

    /// The handshake is done (or its Proof sent: calls follow it at once); calls may go out.
    private func open(_ channel: TCPChannel, _ number: Int) {
        loop.assertInLoop("ClientCore.open")
        attempts = 0
        state = .connected(channel, number)
        if lock.isShared { channel.shareWrites() }   // before it becomes `current`, which callers send on
        lock.fromLoop {
            for request in table.takeUnsent(sendingOn: number) { channel.write(request) }
            current = (channel, number)
        }
        logger.debug("connected", metadata: ["target": "\(target)"])
    }

    /// A handshake frame from the server (see `Handshake`).
    private func shake(_ envelope: Envelope, _ pending: PendingHandshake, on channel: TCPChannel, _ number: Int) {
        if envelope.callID == 0, let status = envelope.status, !status.isOK {
            refused(number, channel, status.code == .unauthenticated ? status : Status(status.code, "\(target) refused the connection: \(status.message)"))
            return
        }
        guard envelope.callID == 0, envelope.kind == .response else {
            refused(number, channel, Status(.unavailable, "\(target) answered a call before finishing the handshake; is it a Lattice server of this version?"))
            return
        }
        if let expected = pending.expectedWelcome {
            guard envelope.method == Handshake.proofMethod, let welcome = try? HandshakeWelcome(wire: envelope.payload),
                  constantTimeEqual(welcome.mac, expected) else {
                refused(number, channel, Status(.unauthenticated, "\(target) did not prove that it knows the secret: it is not a server of this cluster"))
                return
            }
            handshakes[number] = nil
            return
        }
        guard envelope.method == Handshake.helloMethod, let challenge = try? HandshakeChallenge(wire: envelope.payload),
              challenge.serverNonce.count == Handshake.nonceBytes else {
            refused(number, channel, Status(.unavailable, "\(target) did not answer the handshake's Hello with a Challenge; is it a Lattice server of this version?"))
            return
        }
        guard challenge.authRequired else {
            handshakes[number] = nil
            open(channel, number)
            return
        }
        let credentials: Credentials
        switch config.credentials.map({ .success($0) }) ?? Credentials.ambient() {
        case .failure(let status):
            refused(number, channel, status)
            return
        case .success(nil):
            refused(number, channel, Status(.unauthenticated, "\(target) asks for credentials and this process has none: set LATTICE_API_KEY_FILE (`lattice up` writes .lattice/api.key), or LATTICE_CLUSTER_SECRET_FILE for a service of the cluster"))
            return
        case .success(let found?):
            credentials = found
        }
        let (proof, welcome) = Handshake.proof(credentials, serverNonce: challenge.serverNonce, clientNonce: pending.clientNonce)
        channel.write(EnvelopeCodec.frame(Envelope(callID: 0, method: Handshake.proofMethod, payload: proof.encode())))
        handshakes[number]?.expectedWelcome = welcome
        open(channel, number)
    }

    /// The handshake failed: every call waiting for this server fails with `status` (another
    /// try would fail the same way) and the socket closes.
    private func refused(_ number: Int, _ channel: TCPChannel, _ status: Status) {
        handshakes[number] = nil
        lock.fromLoop {
            if current?.number == number { current = nil }
            table.failAll(status, sentOn: number)
            table.failAll(status, sentOn: 0)
        }
        switch state {
        case .connected(_, number), .handshaking(_, number): state = .idle
        default: break
        }
        attempts = 0
        logger.debug("handshake failed", metadata: ["target": "\(target)", "status": "\(status)"])
        channel.close(reason: "handshake failed: \(status)")
    }

    private func connectFailed(_ status: Status) {
        loop.assertInLoop("ClientCore.connectFailed")
        if case .closed = state { return }
        state = .idle
        guard lock.fromLoop({ table.hasUnsent }) else { attempts = 0; return }   // nobody waits: stop trying
        if let maxAttempts = policy.maxAttempts, attempts >= maxAttempts {
            let plural = attempts == 1 ? "attempt" : "attempts"
            let failure = Status(.unavailable, "\(status.message) (\(attempts) \(plural)); is the server running at \(target)?")
            lock.fromLoop { table.failAll(failure, sentOn: 0) }
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
            if lock.fromLoop({ table.hasUnsent }) { connect() } else { attempts = 0 }
        }
    }

    private func lost(_ number: Int, _ reason: String) {
        loop.assertInLoop("ClientCore.lost")
        sockets.removeValue(forKey: number)
        let said = lastServerError.removeValue(forKey: number).map { " (server said: \($0))" } ?? ""
        let hasUnsent = lock.fromLoop { () -> Bool in
            inRead = false
            if heldFor == number { unhold() }   // held calls go out on the next socket
            if current?.number == number { current = nil }   // before failing: no call slips onto it
            table.failAll(Status(.unavailable, "connection to \(target) lost: \(reason)\(said)"), sentOn: number)
            return table.hasUnsent
        }
        if case .closed = state { return }
        handshakes[number] = nil
        switch state {
        case .connected(_, number), .handshaking(_, number): state = .idle
        default: break
        }
        if abandoned { closeIfAbandoned(); return }
        logger.debug("connection lost", metadata: ["target": "\(target)", "reason": "\(reason)"])
        if case .idle = state, hasUnsent { connect() }
    }

    /// The server said this socket is going away (draining, or a protocol error): calls already
    /// sent on it finish there; new calls go to a new connection.
    private func retire(_ number: Int) {
        loop.assertInLoop("ClientCore.retire")
        guard case .connected(_, number) = state else { return }
        state = .idle
        let hasUnsent = lock.fromLoop { () -> Bool in
            current = nil
            if heldFor == number { unhold() }
            return table.hasUnsent
        }
        if hasUnsent { connect() }
    }

    /// Puts held requests back into the table as unsent (lock held): their socket stopped
    /// taking calls before they went out.
    private func unhold() {
        table.restoreUnsent(held)
        held.removeAll()
    }

    // MARK: Answers

    private func received(_ frame: UnsafeBufferPointer<UInt8>, on channel: TCPChannel, _ number: Int) {
        loop.assertInLoop("ClientCore.received")
        guard let (envelope, payload) = try? EnvelopeCodec.decodeBorrowing(frame) else {
            channel.close(reason: "server sent a frame of \(frame.count) bytes that is not a lattice.v1.Envelope")
            return
        }
        if !handshakes.isEmpty, let pending = handshakes[number] {
            var handshake = envelope
            handshake.payload = Array(payload)
            shake(handshake, pending, on: channel, number)
            return
        }
        guard envelope.kind == .response else {
            channel.close(reason: "server sent a \(envelope.kind) frame; servers send RESPONSE")
            return
        }
        if envelope.callID == 0, let status = envelope.status, !status.isOK {
            // Credentials no longer accepted (a revoked key): retrying would be refused too.
            if status.code == .unauthenticated { refused(number, channel, status); return }
            lastServerError[number] = status   // about the connection itself: it is going away
            retire(number)
            return
        }
        // Resumed right away, from this thread; while the rest of this read is processed, new
        // calls go through the loop, not straight out: a server that closes a connection says
        // so (call id 0) right after its last answer, and a caller resumed by that answer must
        // not send its next call into the closing socket.
        let delivery = lock.fromLoop { () -> CallTable.Delivery? in
            inRead = true
            return table.route(envelope)
        }
        delivery?.resume(UnsafeRawBufferPointer(payload))
    }

    /// Every frame of one read is processed.
    private func readDone() {
        loop.assertInLoop("ClientCore.readDone")
        lock.fromLoop {
            inRead = false
            guard !held.isEmpty else { return }
            if let (channel, number) = current, number == heldFor {
                for (_, request) in held { channel.write(request) }
                held.removeAll(keepingCapacity: true)
                return
            }
            unhold()   // their socket went away during the read: they go out on the current one
            if let (channel, number) = current {
                for request in table.takeUnsent(sendingOn: number) { channel.write(request) }
            }
        }
        if abandoned { closeIfAbandoned() }
    }
}
