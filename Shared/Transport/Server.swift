import Foundation
import Logging
import Wire

/// A framed-TCP RPC server: register handlers, `start`, and later `shutdown`.
public final class Server: Sendable {
    /// One per event loop (`TransportConfig.serverLoops`): the first on the process's shared
    /// loop, the others on loops of their own, which shutdown stops.
    let cores: [ServerCore]
    /// The first loop's (for tests that look inside).
    var core: ServerCore { cores[0] }

    /// `config.serverLoops` above 1 starts that many loops (threads) at once, all but the
    /// shared one stopped by `shutdown`.
    public init(config: TransportConfig = .init(), logger: Logger) {
        let loops = max(config.serverLoops, 1)
        let clientCalls = Locked<[String: Int]>([:])   // one limit per client over all loops
        cores = (0..<loops).map { index in
            ServerCore(loop: index == 0 ? .shared : EventLoop(name: "lattice-uv-loop-\(index)"),
                       config: config, logger: logger, reusePort: loops > 1, clientCalls: clientCalls)
        }
    }

    /// A server never started stops its own loops when it goes away (a started one serves on).
    deinit {
        for core in cores.dropFirst() {
            let core = core
            core.loop.execute { core.stopLoopUnlessStarted() }
        }
    }

    private func register(_ method: String, _ handler: Handler) {
        for core in cores { core.register(method, handler) }
    }

    /// Registers a unary method. Handlers run in a Task (reused from call to call, see `CallRunners`): on the transport's handler threads (`HandlerPool`), or,
    /// with `nonBlocking`, on the transport's loop (no thread hop in or out; calls it makes to
    /// other servers resume there too). Only a handler that never blocks and computes briefly may
    /// say `nonBlocking` (a lookup, a small update, awaiting other calls): while it runs no socket
    /// of this process is served. Throw a `Status` to answer with that code; any other error
    /// answers INTERNAL. The handler's Task is cancelled when the client sends CANCEL, the
    /// deadline passes, or the connection closes. Handlers are `nonisolated(nonsending)` (a
    /// closure literal is inferred so): they start on their Task's executor with no task switch
    /// (a plain `@Sendable` async closure is `@concurrent`, and hopped to the same executor on
    /// entry: ~1.2 of the 5 switches per pool call of bench/Forward, uprobes).
    public func unary(_ method: String, nonBlocking: Bool = false, _ handler: nonisolated(nonsending) @escaping @Sendable ([UInt8], CallContext) async throws -> [UInt8]) {
        register(method, .task(prepare: { payload in .rawUnary(handler, request: Handler.copy(payload)) }, onLoop: nonBlocking))
    }

    /// Registers a unary method whose request is decoded as `Request` on the loop, straight from
    /// the frame (a hidden state is copied once, from the frame into the message the handler
    /// gets). A payload that does not decode is answered INVALID_ARGUMENT naming the method and
    /// type, and its connection closes. Otherwise as `unary(_:nonBlocking:_:)`.
    public func unary<Request: WireMessage>(
        _ method: String, decoding request: Request.Type, nonBlocking: Bool = false,
        _ handler: nonisolated(nonsending) @escaping @Sendable (Request, CallContext) async throws -> [UInt8]
    ) {
        register(method, .task(prepare: { payload in
            let request = try decodeRequest(Request.self, payload, method: method)
            return .unary { try await handler(request, $0) }
        }, onLoop: nonBlocking))
    }

    /// Registers a unary method whose handler runs on the transport's loop thread, as the
    /// request is read, and answers there: no Task and no thread hop, hence the lowest latency.
    /// Only for cheap, synchronous work that never blocks or waits (Health, Stats, a lookup in
    /// memory): while it runs, no other socket of this process is served. It finishes before
    /// anything could cancel it, so it sees no cancellation and its deadline cannot pass.
    /// Errors are answered as for `unary`.
    public func inlineUnary(_ method: String, _ handler: @escaping @Sendable ([UInt8], CallContext) throws -> [UInt8]) {
        register(method, .inline(handler))
    }

    /// Registers a server-streaming method: each `send` is one item; returning ends the stream
    /// with OK, throwing ends it with that status. `nonBlocking` as for `unary`.
    public func stream(_ method: String, nonBlocking: Bool = false, _ handler: nonisolated(nonsending) @escaping @Sendable ([UInt8], CallContext, StreamWriter) async throws -> Void) {
        register(method, .task(prepare: { payload in
            let request = Handler.copy(payload)
            return .stream { try await handler(request, $0, $1) }
        }, onLoop: nonBlocking))
    }

    /// Registers a server-streaming method whose request is decoded as `Request` on the loop,
    /// straight from the frame (as `unary(_:decoding:nonBlocking:_:)`).
    public func stream<Request: WireMessage>(
        _ method: String, decoding request: Request.Type, nonBlocking: Bool = false,
        _ handler: nonisolated(nonsending) @escaping @Sendable (Request, CallContext, StreamWriter) async throws -> Void
    ) {
        register(method, .task(prepare: { payload in
            let request = try decodeRequest(Request.self, payload, method: method)
            return .stream { try await handler(request, $0, $1) }
        }, onLoop: nonBlocking))
    }

    /// Binds and starts serving on the loop thread; returns the bound port (port 0 = pick one).
    /// Throws a `Status` (UNAVAILABLE: address in use, cannot resolve; FAILED_PRECONDITION: started twice).
    public func start(host: String, port: Int) throws -> Int {
        guard (0...65535).contains(port) else {
            throw Status(.invalidArgument, "port \(port) is not in 0...65535")
        }
        guard !cores.contains(where: { $0.loop.inLoopThread }) else {
            throw Status(.failedPrecondition, "Server.start was called on a transport loop thread; call it from a Task or the main thread")
        }
        let address = try SocketAddress.resolve(host: host, port: port)
        // The first loop binds (port 0 picks a port), the others bind the port it got.
        var bound = port
        for (index, core) in cores.enumerated() {
            let here = index == 0 ? address : address.withPort(bound)
            switch core.loop.executeAndWait({ core.listen(on: here) }) {
            case .success(let port):
                bound = port
            case .failure(let status):
                for started in cores.prefix(index) { started.loop.executeAndWait { started.stopListening() } }
                throw status
            }
        }
        return bound
    }

    /// Stops accepting, lets in-flight calls finish (up to `timeout`), then closes everything.
    /// Calls still running at the timeout are cancelled and answered UNAVAILABLE.
    /// With several loops, each drains on its own and the extra ones then stop (their threads end).
    public func shutdown(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            for core in cores { group.addTask { await core.shutdown(timeout: timeout) } }
        }
    }

    /// Calls total/failed/in flight, connections open, bytes in/out: the sum over its loops.
    public var stats: ServerStats {
        cores.dropFirst().reduce(into: cores[0].counters.total) { $0.add($1.counters.total) }
    }

    /// The same per event loop, in loop order (one entry unless `TransportConfig.serverLoops` > 1).
    public var statsPerLoop: [ServerStats] { cores.map(\.counters.total) }
}

/// The loop-confined half of a `Server`: listener, connections, draining.
final class ServerCore: @unchecked Sendable {
    let loop: EventLoop
    let config: TransportConfig
    let logger: Logger
    let counters = ServerCounters()
    /// Its listener shares the port with other loops' (SO_REUSEPORT).
    private let reusePort: Bool
    /// The Tasks that run this server's calls: non-blocking handlers' on the loop, the others'
    /// on the handler threads (see `CallRunners`).
    let loopRunners: CallRunners
    let poolRunners: CallRunners
    /// Handlers by method. Filled under `registration` until the server starts; from then on read
    /// (and, rarely, added to) on the loop thread only, so a frame takes no lock to find its handler.
    private var handlers: [String: Handler] = [:]
    private let registration = NSLock()
    private var handlersFrozen = false   // guarded by registration

    // Loop thread only.
    private var listener: Listener?
    private var started = false
    private var connections: [ObjectIdentifier: ServerConnection] = [:]
    private(set) var draining = false
    private var shutdownDone = false
    private var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    private var shutdownTimer: LoopTimer?
    private var forceCloseTimer: LoopTimer?
    private var idleSweep: LoopTimer?

    init(loop: EventLoop, config: TransportConfig, logger: Logger, reusePort: Bool = false,
         clientCalls: Locked<[String: Int]> = Locked([:])) {
        self.loop = loop
        self.reusePort = reusePort
        self.clientCalls = clientCalls
        self.config = config
        self.logger = logger
        loopRunners = .onLoop(loop)
        poolRunners = .onHandlerThreads(.shared, loop: loop)
    }

    func register(_ method: String, _ handler: Handler) {
        let early = registration.withLock { () -> Bool in
            guard !handlersFrozen else { return false }
            handlers[method] = handler
            return true
        }
        guard !early else { return }
        if loop.inLoopThread {
            handlers[method] = handler
            handlersGeneration += 1
        } else {
            loop.executeAndWait { [self] in handlers[method] = handler; handlersGeneration += 1 }
        }
    }

    /// Bumped whenever a handler is registered, so connections know their cached lookup is stale.
    private(set) var handlersGeneration = 0

    func handler(for method: String) -> Handler? {
        loop.assertInLoop("looking up a handler")
        return handlers[method]
    }

    /// Calls running per API key, across connections and the server's loops
    /// (`TransportConfig.maxCallsPerClient`).
    private let clientCalls: Locked<[String: Int]>

    func admitClientCall(_ keyID: String) -> Bool {
        let limit = config.maxCallsPerClient
        return clientCalls.withLock { running in
            guard limit <= 0 || running[keyID, default: 0] < limit else { return false }
            running[keyID, default: 0] += 1
            return true
        }
    }

    func releaseClientCall(_ keyID: String?) {
        guard let keyID else { return }
        clientCalls.withLock { running in
            let left = running[keyID, default: 1] - 1
            running[keyID] = left > 0 ? left : nil
        }
    }
    var methodNames: [String] {
        loop.assertInLoop("listing methods")
        return handlers.keys.sorted()
    }

    func listen(on address: SocketAddress) -> Result<Int, Status> {
        loop.assertInLoop("ServerCore.listen")
        guard !started else { return .failure(Status(.failedPrecondition, "server already started; create another Server to listen twice")) }
        do {
            let listener = try Listener(loop: loop, address: address, maxFrameBytes: config.maxFrameBytes, reusePort: reusePort)
            registration.withLock { handlersFrozen = true }
            listener.onAccept = { [self] in self.accepted($0) }
            self.listener = listener
            started = true
            if let idle = config.idleTimeout { startIdleSweep(idle) }
            logger.info("listening", metadata: ["address": "\(address.text)", "port": "\(listener.port)"])
            return .success(listener.port)
        } catch let status as Status {
            return .failure(status)
        } catch {
            return .failure(Status(.unavailable, "\(error)"))
        }
    }

    /// Loop thread: closes the listener of a start that failed on another loop.
    func stopListening() {
        loop.assertInLoop("ServerCore.stopListening")
        listener?.close()
        listener = nil
    }

    /// Loop thread: a loop of its own stops if it never served (its `Server` went away unstarted).
    func stopLoopUnlessStarted() {
        loop.assertInLoop("ServerCore.stopLoopUnlessStarted")
        guard !started, loop !== EventLoop.shared else { return }
        loopRunners.stop()
        poolRunners.stop()
        loop.stop {}
    }

    /// Drains (see `beginShutdown`), then stops the loop if it is one of its own.
    func shutdown(timeout: Duration) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            loop.execute { [self] in beginShutdown(timeout: timeout, done) }
        }
        guard loop !== EventLoop.shared else { return }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            loop.stop { done.resume() }
        }
    }

    private func accepted(_ channel: TCPChannel) {
        loop.assertInLoop("ServerCore.accepted")
        guard !draining else { channel.close(reason: "server is shutting down"); return }
        let connection = ServerConnection(server: self, channel: channel)
        connections[ObjectIdentifier(connection)] = connection
    }

    func connectionClosed(_ connection: ServerConnection) {
        loop.assertInLoop("ServerCore.connectionClosed")
        connections.removeValue(forKey: ObjectIdentifier(connection))
        if draining && connections.isEmpty { finishShutdown() }
    }

    /// Called whenever a call ends; completes a drain once nothing is in flight.
    func callEnded() {
        loop.assertInLoop("ServerCore.callEnded")
        guard draining, !shutdownDone, shutdownTimer != nil else { return }
        if connections.values.allSatisfy({ $0.callsInFlight == 0 }) { closeConnections(reason: "server shut down") }
    }

    private func startIdleSweep(_ idle: Duration) {
        let idleMs = UInt64(max(ReconnectPolicy.milliseconds(idle), 1))
        let timer = LoopTimer(loop: loop)
        timer.start(after: max(idleMs / 4, 10), repeatMs: max(idleMs / 4, 10)) { [self] in
            let now = loop.now
            for connection in connections.values where connection.callsInFlight == 0 && now - connection.lastActivity >= idleMs {
                connection.forceClose(reason: "idle for \(idleMs) ms")
            }
        }
        idleSweep = timer
    }

    // MARK: Shutdown (loop thread)

    func beginShutdown(timeout: Duration, _ done: CheckedContinuation<Void, Never>) {
        loop.assertInLoop("ServerCore.beginShutdown")
        if shutdownDone { done.resume(); return }
        shutdownWaiters.append(done)
        guard !draining else { return }
        draining = true
        listener?.close()
        listener = nil
        idleSweep?.cancel()
        idleSweep = nil
        logger.info("draining", metadata: ["connections": "\(connections.count)"])
        for connection in connections.values { connection.goAway() }
        let timer = LoopTimer(loop: loop)
        timer.start(after: UInt64(max(ReconnectPolicy.milliseconds(timeout), 0))) { [self] in
            closeConnections(reason: "server shut down before the call finished (drain timeout)")
        }
        shutdownTimer = timer
        callEnded()
        if connections.isEmpty { finishShutdown() }
    }

    private func closeConnections(reason: String) {
        shutdownTimer?.cancel()
        shutdownTimer = nil
        guard forceCloseTimer == nil else { return }
        for connection in connections.values { connection.drainAndClose(reason: reason) }
        // Peers that do not read their last answers are cut off after a grace period.
        let timer = LoopTimer(loop: loop)
        timer.start(after: 1000) { [self] in
            for connection in connections.values { connection.forceClose(reason: "shutdown grace period over") }
        }
        forceCloseTimer = timer
        if connections.isEmpty { finishShutdown() }
    }

    private func finishShutdown() {
        loop.assertInLoop("ServerCore.finishShutdown")
        guard !shutdownDone else { return }
        shutdownDone = true
        shutdownTimer?.cancel()
        shutdownTimer = nil
        forceCloseTimer?.cancel()
        forceCloseTimer = nil
        loopRunners.stop()
        poolRunners.stop()
        logger.info("shut down")
        let waiters = shutdownWaiters
        shutdownWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }
}
