// The Swift side of scripts/bench-transport: an echo server and a pipelining client on the
// Lattice transport, printing the same figures as the raw libuv floor (scripts/bench/uv-echo.c).
//
//   transport-bench server PORT [LOOPS]     LOOPS: TransportConfig.serverLoops (default 1)
//   transport-bench client PORT SIZE INFLIGHT SECONDS [METHOD [pool|loop|loop-percall|callback]]
//       prints: calls p50_us p99_us calls_per_s
//
//   transport-bench auth ROUNDS      what the handshake costs (scripts/bench-auth)
//
// METHOD is bench/Echo (a handler on the transport's handler threads, HandlerPool, the default), bench/EchoLoop (an async
// handler registered non-blocking: its Task runs on the loop), bench/EchoInline (an inline
// handler, run on the loop thread) or bench/Forward (a worker-shaped Forward: a ForwardRequest
// whose hidden state is SIZE bytes, packed into the frame per call; the server decodes it and
// acknowledges with a ForwardResponse, as a worker does; decoded from the frame, as ServiceKit's typed handlers do). The last argument says where the calling tasks run:
// on Swift's global pool (the default) or on the transport loop (`TransportLoop.executor`), each
// task's calls under one cancellation handler (`Connection.withCallCancellation`), or on the loop
// with a handler per call (`loop-percall`); or
// there are no calling tasks: `callback` keeps INFLIGHT calls going with `Connection.call(_:_:answer:)`,
// each answer (on the loop thread) timing its call and making the next.
import Foundation
import Logging
import Transport
import Wire

let arguments = CommandLine.arguments
var logger = Logger(label: "transport-bench")
logger.logLevel = .warning

func fail(_ message: String) -> Never {
    print("transport-bench: \(message)")
    exit(2)
}

if (3...4).contains(arguments.count), arguments[1] == "server", let port = Int(arguments[2]) {
    var config = TransportConfig()
    if arguments.count == 4 {
        guard let loops = Int(arguments[3]), loops > 0 else { fail("LOOPS must be a positive number (got '\(arguments[3])')") }
        config.serverLoops = loops
    }
    let server = Server(config: config, logger: logger)
    server.unary("bench/Echo") { payload, _ in payload }
    server.unary("bench/EchoLoop", nonBlocking: true) { payload, _ in payload }
    server.inlineUnary("bench/EchoInline") { payload, _ in payload }
    // As a worker's Forward: decode the batch, acknowledge it (the hidden state goes one way).
    server.unary("bench/Forward", decoding: ForwardRequest.self) { request, _ in
        ForwardResponse(accepted: UInt32(request.items.count)).encode()
    }
    do { _ = try server.start(host: "127.0.0.1", port: port) } catch { fail("\(error)") }
    while true { try await Task.sleep(for: .seconds(3600)) }
} else if (6...8).contains(arguments.count), arguments[1] == "client", let port = Int(arguments[2]), let size = Int(arguments[3]),
          let inflight = Int(arguments[4]), let seconds = Double(arguments[5]) {
    let method = arguments.count >= 7 ? arguments[6] : "bench/Echo"
    let executor: (any TaskExecutor)?
    let callbacks = arguments.count == 8 && arguments[7] == "callback"
    let place = arguments.count == 8 ? arguments[7] : "pool"
    // Callers register one cancellation handler per task (Connection.withCallCancellation), as a
    // pipelining client should; `loop-percall` keeps one per call, the default outside a scope.
    let scoped = place != "loop-percall"
    switch place {
    case "pool": executor = nil
    case "loop", "loop-percall", "callback": executor = TransportLoop.executor
    default: fail("the last argument is where callers run: pool, loop, loop-percall or callback (got '\(place)')")
    }
    let connection = Connection(host: "127.0.0.1", port: port, reconnect: .never, logger: logger)
    // A Forward packs its request into the frame on every call, as a worker does.
    let forward = method == "bench/Forward" ? forwardRequest(hiddenBytes: size) : nil
    let payload = [UInt8](repeating: 0x5A, count: size)
    let expected = forward == nil ? size : ForwardResponse(accepted: 1).encode().count
    @Sendable func call() async throws -> [UInt8] {
        if let forward { try await connection.call(method, message: forward) } else { try await connection.call(method, payload) }
    }
    // `count` calling tasks placed as the row's callers are (on `executor`; each under one
    // cancellation handler unless `loop-percall`), each running `body`; their results merged.
    @Sendable func callers(_ count: Int, _ body: @escaping @Sendable () async -> ([Int64], Int)) async -> ([Int64], Int) {
        await withTaskExecutorPreference(executor) { await withTaskGroup(of: ([Int64], Int).self) { group in
            for _ in 0..<count {
                group.addTask { scoped ? await Connection.withCallCancellation(body) : await body() }
            }
            var all: [Int64] = []
            var errors = 0
            for await (samples, failed) in group { all += samples; errors += failed }
            return (all, errors)
        } }
    }
    // The warm-up call (it connects) is made where the row's calls are: a call from another
    // thread makes a loop-only client share its locks for good (LoopSharedLock), as it does in
    // production, so a warm-up off the loop would cost the loop and callback rows their lock-free path.
    if callbacks {
        let warmUp = Pipeline(connection: connection, method: method, payload: payload, expected: expected, inflight: 1, until: .now)
        if let failure = await warmUp.run().failure { fail("warm-up call failed: \(failure)") }
    } else {
        _ = await callers(1) {
            do { _ = try await call() } catch { fail("warm-up call failed: \(error)") }
            return ([], 0)
        }
    }
    let clock = ContinuousClock()
    let start = clock.now
    let end = start + .milliseconds(Int(seconds * 1000))
    // One calling task's calls, one after another until `end`: (round trips in ns, failures).
    @Sendable func callLoop() async -> ([Int64], Int) {
        var samples: [Int64] = []
        samples.reserveCapacity(1 << 16)
        var errors = 0
        while clock.now < end {
            let t0 = clock.now
            do {
                let answer = try await call()
                if answer.count != expected { errors += 1 }
            } catch { errors += 1 }
            let (s, atto) = (clock.now - t0).components
            samples.append(s * 1_000_000_000 + atto / 1_000_000_000)
        }
        return (samples, errors)
    }
    let (latencies, errors) = callbacks
        ? await Pipeline(connection: connection, method: method, payload: payload, expected: expected, inflight: inflight, until: end).run().outcome
        : await callers(inflight, callLoop)
    let (s, atto) = (clock.now - start).components
    let elapsed = Double(s) + Double(atto) / 1e18
    let sorted = latencies.sorted()
    guard !sorted.isEmpty else { fail("no calls completed") }
    let p50 = Double(sorted[sorted.count / 2]) / 1000
    let p99 = Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]) / 1000
    print(String(format: "%d %.1f %.1f %.0f", sorted.count, p50, p99, Double(sorted.count) / elapsed))
    if errors > 0 { print("transport-bench: \(errors) calls failed") }
    await connection.close()
} else if arguments.count == 3, arguments[1] == "auth", let rounds = Int(arguments[2]), rounds > 0 {
    try await AuthBench.run(rounds: rounds, logger: logger)
} else {
    fail("usage: transport-bench server PORT [LOOPS] | transport-bench client PORT SIZE INFLIGHT SECONDS [METHOD [pool|loop|loop-percall|callback]] | transport-bench auth ROUNDS")
}

/// One request's slice of a Forward between two stages: `hiddenBytes` of float32 hidden state.
func forwardRequest(hiddenBytes: Int) -> ForwardRequest {
    let hidden = 2048
    let tokens = max(hiddenBytes / (4 * hidden), 1)
    let data = (0..<hiddenBytes).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    return ForwardRequest(items: [ForwardItem(
        requestID: "bench-request", positions: Array(0..<UInt32(tokens)),
        hidden: HiddenStates(data: data, dtype: .float32, shape: [UInt32(tokens), UInt32(hidden)]),
        start: 12, end: 24, route: [RouteHop(address: "127.0.0.1:40125", start: 24, end: 36, workerID: "w3")],
        replyTo: "127.0.0.1:40120", prefill: true, step: 0)])
}

/// INFLIGHT calls kept going without tasks: each slot's answer callback (one closure per slot,
/// reused) records its round trip and makes the slot's next call, on the loop thread.
final class Pipeline: @unchecked Sendable {
    let connection: Connection
    let method: String
    let payload: [UInt8]
    let expected: Int
    let until: ContinuousClock.Instant
    let clock = ContinuousClock()
    // Loop thread only once running.
    private var sentAt: [ContinuousClock.Instant]
    private var answers: [@Sendable (Result<UnsafeRawBufferPointer, Status>) -> Void] = []
    private var samples: [Int64] = []
    private var errors = 0
    private var firstFailure: String?
    private var running: Int
    private var done: CheckedContinuation<(outcome: ([Int64], Int), failure: String?), Never>?

    init(connection: Connection, method: String, payload: [UInt8], expected: Int, inflight: Int, until: ContinuousClock.Instant) {
        self.connection = connection
        self.method = method
        self.payload = payload
        self.expected = expected
        self.until = until
        sentAt = Array(repeating: clock.now, count: inflight)
        running = inflight
        samples.reserveCapacity(1 << 20)
    }

    /// Runs the calls until `until` (each slot makes one at least): (round trips in ns, failures),
    /// and the first failure's description.
    func run() async -> (outcome: ([Int64], Int), failure: String?) {
        await withTaskExecutorPreference(TransportLoop.executor) {
            await withCheckedContinuation { done in
                self.done = done
                answers = (0..<sentAt.count).map { slot in { [unowned self] in self.answered(slot, $0) } }
                for slot in 0..<sentAt.count { send(slot) }
            }
        }
    }

    private func send(_ slot: Int) {
        sentAt[slot] = clock.now
        connection.call(method, payload, answer: answers[slot])
    }

    private func answered(_ slot: Int, _ result: Result<UnsafeRawBufferPointer, Status>) {
        let now = clock.now
        switch result {
        case .success(let answer) where answer.count == expected: break
        case .success(let answer): failed("an answer of \(answer.count) bytes, not \(expected)")
        case .failure(let status): failed("\(status)")
        }
        let (s, atto) = (now - sentAt[slot]).components
        samples.append(s * 1_000_000_000 + atto / 1_000_000_000)
        if now < until { send(slot); return }
        running -= 1
        if running == 0 { done?.resume(returning: ((samples, errors), firstFailure)); done = nil }
    }

    private func failed(_ what: String) {
        errors += 1
        if firstFailure == nil { firstFailure = what }
    }
}
