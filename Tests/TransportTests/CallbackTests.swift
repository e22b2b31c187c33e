import LatticeTesting
import Testing
@testable import Transport
import Wire

/// `Connection.call(_:_:deadline:answer:)`: calls without a Task, answered on the loop thread,
/// and calls whose answer is decoded straight from its frame.
@Suite("Callback calls", .serialized, .timeLimit(.minutes(TestTime.minutes(1))))
struct CallbackTests {
    /// Many calls kept in flight by their own answers, as a pipelining client does: each answer
    /// runs on the loop with its own payload, and the call it makes goes out from there.
    @Test func answersRunOnTheLoopAndPipelineTheNextCalls() async throws {
        let (server, port) = try startServer { server in
            server.inlineUnary("test/Inline") { payload, _ in payload }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        let chain = Chain(connection: connection, slots: 16, callsPerSlot: 50)
        let outcome = try await within(20, "800 pipelined callback calls") { await chain.run() }
        #expect(outcome.answered == 800 && outcome.wrong == 0 && outcome.offLoop == 0, "\(outcome)")
        #expect(server.stats.callsTotal == 800)
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    /// A failed call is answered with its status, also on the loop: the server's, and a deadline's.
    @Test func failuresReachTheCallbackOnTheLoop() async throws {
        let (server, port) = try startServer { server in
            server.inlineUnary("test/Refuse") { _, _ in throw Status(.permissionDenied, "no") }
            server.unary("test/Never") { _, _ in
                try await Task.sleep(for: .seconds(30))
                return []
            }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        for (method, deadline, code) in [("test/Refuse", Duration?.none, StatusCode.permissionDenied), ("test/Never", .milliseconds(50), .deadlineExceeded)] {
            let (code2, onLoop) = try await within(10, method) {
                await withCheckedContinuation { (done: CheckedContinuation<(StatusCode?, Bool), Never>) in
                    connection.call(method, [1], deadline: deadline) { result in
                        let failed: StatusCode? = if case .failure(let status) = result { status.code } else { nil }
                        done.resume(returning: (failed, TransportLoop.isCurrent))
                    }
                }
            }
            #expect(code2 == code && onLoop, "\(method): \(String(describing: code2)), on the loop: \(onLoop)")
        }
        // A deadline already past fails at once, on the loop too.
        let (past, pastOnLoop) = await withCheckedContinuation { (done: CheckedContinuation<(StatusCode?, Bool), Never>) in
            connection.call("test/Echo", [], deadline: .zero) { result in
                let failed: StatusCode? = if case .failure(let status) = result { status.code } else { nil }
                done.resume(returning: (failed, TransportLoop.isCurrent))
            }
        }
        #expect(past == .deadlineExceeded && pastOnLoop)
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    /// A server that drains while answers keep making calls: each call is answered exactly
    /// once, with its payload or a status; none is lost between the go-away and the next socket.
    @Test func everyCallIsAnsweredWhileTheServerDrains() async throws {
        let (server, port) = try startServer { server in
            server.inlineUnary("test/Inline") { payload, _ in payload }
        }
        let connection = Connection(host: "127.0.0.1", port: port, reconnect: .never)
        _ = try await connection.call("test/Inline", [])   // connected first: the 100 ms below are all calls
        let chains = UntilFailure(connection: connection, slots: 8)
        chains.start()
        try await Task.sleep(for: .milliseconds(100))
        await server.shutdown(timeout: .seconds(1))
        let outcome = try await within(10, "every chain ended with a failed call") { await chains.ended() }
        #expect(outcome.answered > 8 && outcome.failed == 8 && outcome.wrong == 0, "\(outcome)")
        await connection.close()
    }

    /// Issue 13: a large response decoded as a message is copied once on the client, from the
    /// frame into the message's own array (not into a payload array first).
    @Test func aLargeResponseIsDecodedFromItsFrameWithOneCopy() async throws {
        let states = HiddenStates(data: (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }, dtype: .float32, shape: [128, 2048])
        let encoded = states.encode()
        let (server, port) = try startServer { server in
            server.unary("test/States") { _, _ in encoded }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        _ = try await within(20, "warm-up call") { try await connection.call("test/Echo", [1]) }
        let bound = states.data.count + largeFrameReadSlack + 4096
        let copied = try await leastPayloadCopies(enough: bound) {
            let got = try await within(20, "1 MiB answer") { try await connection.call("test/States", [], decoding: HiddenStates.self) }
            #expect(got == states)
        }
        // One copy (protobuf-c's, into the message's array), besides what reads into the loop's
        // shared buffer moved to the decoder (`largeFrameReadSlack`).
        #expect(copied <= bound, "copied \(copied) bytes for a \(states.data.count)-byte field (\(Double(copied) / Double(states.data.count)) copies)")
        // An answer that is not the type asked for is INTERNAL, naming the method and the type.
        await #expect { try await connection.call("test/Echo", [0xFF, 0xFF], decoding: HiddenStates.self) } throws: { error in
            guard let status = error as? Status else { return false }
            return status.code == .internal && status.message.contains("test/Echo") && status.message.contains("HiddenStates")
        }
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }
}

/// `slots` chains of calls, each answer making its chain's next call, until each chain made
/// `callsPerSlot`; counts answers, wrong payloads and answers seen off the loop thread.
private final class Chain: @unchecked Sendable {
    struct Outcome: Sendable { var answered = 0, wrong = 0, offLoop = 0 }
    let connection: Connection
    let slots: Int
    let callsPerSlot: Int
    private let state = Locked<(Outcome, done: CheckedContinuation<Outcome, Never>?)>((Outcome(), nil))

    init(connection: Connection, slots: Int, callsPerSlot: Int) {
        self.connection = connection
        self.slots = slots
        self.callsPerSlot = callsPerSlot
    }

    func run() async -> Outcome {
        await withCheckedContinuation { done in
            state.withLock { $0.done = done }
            for slot in 0..<slots { send(slot, 0) }
        }
    }

    private func send(_ slot: Int, _ n: Int) {
        let expected = bytes("\(slot).\(n)")
        connection.call("test/Inline", expected) { [self] result in
            let onLoop = TransportLoop.isCurrent
            let right = if case .success(let payload) = result { payload.elementsEqual(expected) } else { false }
            let finished = state.withLock { state -> CheckedContinuation<Outcome, Never>? in
                state.0.answered += 1
                if !right { state.0.wrong += 1 }
                if !onLoop { state.0.offLoop += 1 }
                guard state.0.answered == slots * callsPerSlot, let done = state.done else { return nil }
                state.done = nil
                return done
            }
            if let finished { finished.resume(returning: state.withLock { $0.0 }) }
            if n + 1 < callsPerSlot { send(slot, n + 1) }
        }
    }
}

/// `slots` chains of calls that each go on until a call fails; `ended` waits for every chain.
private final class UntilFailure: @unchecked Sendable {
    struct Outcome: Sendable { var answered = 0, failed = 0, wrong = 0 }
    let connection: Connection
    let slots: Int
    private let state = Locked<(Outcome, done: CheckedContinuation<Outcome, Never>?)>((Outcome(), nil))

    init(connection: Connection, slots: Int) {
        self.connection = connection
        self.slots = slots
    }

    func start() {
        for slot in 0..<slots { send(slot, 0) }
    }

    func ended() async -> Outcome {
        await withCheckedContinuation { done in
            let now = state.withLock { state -> Outcome? in
                guard state.0.failed < slots else { return state.0 }
                state.done = done
                return nil
            }
            if let now { done.resume(returning: now) }
        }
    }

    private func send(_ slot: Int, _ n: Int) {
        let expected = bytes("\(slot).\(n)")
        connection.call("test/Inline", expected) { [self] result in
            let (failed, finished) = state.withLock { state -> (Bool, CheckedContinuation<Outcome, Never>?) in
                switch result {
                case .success(let payload):
                    state.0.answered += 1
                    if !payload.elementsEqual(expected) { state.0.wrong += 1 }
                    return (false, nil)
                case .failure:
                    state.0.failed += 1
                    guard state.0.failed == slots, let done = state.done else { return (true, nil) }
                    state.done = nil
                    return (true, done)
                }
            }
            if let finished { finished.resume(returning: state.withLock { $0.0 }) }
            if !failed { send(slot, n + 1) }
        }
    }
}
