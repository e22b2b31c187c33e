import Glibc
import LatticeTesting
import Testing
@testable import Transport
import Wire

/// Server calls run in reused Tasks (`CallRunners`): a call hands its request to a parked runner
/// instead of creating a Task, a runner whose call suspends keeps only that call, and a
/// cancelled call's runner is never handed another call.
@Suite("Call runners", .serialized, .timeLimit(.minutes(TestTime.minutes(1))))
struct CallRunnerTests {
    /// One call after another, on the loop (a non-blocking handler) and on the handler threads:
    /// most calls find a parked runner (a pool runner may still be on its way to parking when
    /// the next call comes; a Task per call would create one for every call).
    @Test(arguments: [true, false])
    func callsOneAfterAnotherReuseRunners(nonBlocking: Bool) async throws {
        let (server, port) = try startServer { server in
            server.unary("test/LoopEcho", nonBlocking: true) { payload, _ in payload }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        let method = nonBlocking ? "test/LoopEcho" : "test/Echo"
        _ = try await connection.call(method, bytes("warm-up"))
        let runners = nonBlocking ? server.core.loopRunners : server.core.poolRunners
        let before = runners.runnersCreated.load(ordering: .relaxed)
        let calls = 200
        var wrong = 0
        for i in 0..<calls where text(try await connection.call(method, bytes("#\(i)"))) != "#\(i)" { wrong += 1 }
        let created = runners.runnersCreated.load(ordering: .relaxed) - before
        #expect(wrong == 0)
        #expect(created < calls / 2, "\(created) runners created for \(calls) calls made one after another")
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    /// A call cancelled by its deadline cancels its runner's Task; the calls after it run in
    /// runners that are not cancelled.
    @Test(arguments: [true, false])
    func aCancelledCallsRunnerTakesNoOtherCall(nonBlocking: Bool) async throws {
        let (server, port) = try startServer { server in
            server.unary("test/Hang", nonBlocking: nonBlocking) { _, _ in
                try? await Task.sleep(for: .seconds(60))   // ends early, and normally, once cancelled
                return []
            }
            server.unary("test/IsCancelled", nonBlocking: nonBlocking) { _, _ in bytes(Task.isCancelled ? "cancelled" : "live") }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        _ = try await connection.call("test/Echo", [])   // connected first: the deadline is the call's alone
        await #expect { try await connection.call("test/Hang", [], deadline: .milliseconds(100)) } throws: {
            ($0 as? Status)?.code == .deadlineExceeded
        }
        #expect(await eventually { server.stats.callsInFlight == 0 })
        var answers: [String] = []
        for _ in 0..<20 { answers.append(text(try await connection.call("test/IsCancelled", []))) }
        #expect(answers.allSatisfy { $0 == "live" }, "\(answers.filter { $0 != "live" }.count) of 20 calls ran in a cancelled Task")
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    /// Pipelined calls to a non-blocking handler (sent in one write, so read together) run back
    /// to back in one runner: a batch wakes a runner or two, not one per call (issue 13: no
    /// Task switch per call). (On the handler threads a runner is sent per call, see
    /// `CallRunners.publishStaged`.)
    @Test func aBatchOfLoopCallsWakesFewRunners() async throws {
        let (server, port) = try startServer { server in
            server.unary("test/LoopEcho", nonBlocking: true) { payload, _ in payload }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        let method = "test/LoopEcho"
        _ = try await connection.call(method, bytes("warm-up"))
        let runners = server.core.loopRunners
        let before = runners.runnersSent.load(ordering: .relaxed)
        let rounds = 10, batch = 64
        var wrong = 0
        for round in 0..<rounds {
            let answers = await startBatch(connection, method, (0..<batch).map { bytes("\(round).\($0)") })
            #expect(await eventually(10) { answers.isComplete }, "round \(round): \(answers.texts)")
            for (i, answer) in answers.texts.enumerated() where answer != "\(round).\(i)" { wrong += 1 }
        }
        let sent = runners.runnersSent.load(ordering: .relaxed) - before
        #expect(wrong == 0)
        // About 2 per batch read in one read (the runner, and a spare that finds nothing); one per call before.
        #expect(sent <= rounds * batch / 8, "\(sent) runners sent for \(rounds) batches of \(batch) calls")
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    /// A call that waits (a non-blocking handler awaiting) or blocks (a handler-thread handler)
    /// holds up none of the calls read with it: a spare runner takes them.
    @Test(arguments: [true, false])
    func aWaitingCallHoldsUpNoneOfItsBatch(nonBlocking: Bool) async throws {
        let release = Counter()
        let (server, port) = try startServer { server in
            server.unary("test/Wait", nonBlocking: nonBlocking) { _, _ in
                if nonBlocking {
                    while release.current == 0 { try await Task.sleep(for: .milliseconds(5)) }
                } else {
                    while release.current == 0 { usleep(5_000) }   // blocks its handler thread
                }
                return bytes("released")
            }
            server.unary("test/LoopEcho", nonBlocking: nonBlocking) { payload, _ in payload }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        _ = try await connection.call("test/LoopEcho", [])
        let waited = Locked<String?>(nil)
        // test/Wait first, then the others, in one write: its runner takes it first.
        let answers = await startBatch(connection, "test/LoopEcho", (0..<16).map { bytes("#\($0)") }, after: ("test/Wait", { answer in
            waited.withLock { $0 = (try? answer.get()).map { text(Array($0)) } ?? "failed" }
        }))
        #expect(await eventually(10) { answers.isComplete }, "calls read with a waiting one: \(answers.texts)")
        #expect(answers.texts == (0..<16).map { "#\($0)" })
        #expect(waited.withLock { $0 } == nil, "test/Wait was answered before it was released")
        release.increment()
        #expect(await eventually(10) { waited.withLock { $0 } != nil })
        #expect(waited.withLock { $0 } == "released")
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    /// A connection's call table goes without a lock while only non-blocking handlers' calls
    /// use it, and takes the lock from the first handler-thread call on (`tableSharedWithPool`):
    /// batches of both kinds read together, then a non-blocking call ended by its deadline,
    /// are all answered and leave no call behind.
    @Test func loopAndHandlerThreadCallsShareAConnection() async throws {
        let (server, port) = try startServer { server in
            server.unary("test/LoopEcho", nonBlocking: true) { payload, _ in payload }
            server.unary("test/LoopHang", nonBlocking: true) { _, _ in
                try await Task.sleep(for: .seconds(60))
                return []
            }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        let loopOnly = await startBatch(connection, "test/LoopEcho", (0..<32).map { bytes("l\($0)") })
        #expect(await eventually(10) { loopOnly.isComplete })
        #expect(loopOnly.texts == (0..<32).map { "l\($0)" })
        for round in 0..<5 {
            // In one loop iteration: the requests leave in one write.
            let (loop, pool) = await withTaskExecutorPreference(TransportLoop.executor) { () async -> (BatchAnswers, BatchAnswers) in
                async let loop = startBatch(connection, "test/LoopEcho", (0..<32).map { bytes("\(round)l\($0)") })
                async let pool = startBatch(connection, "test/Echo", (0..<32).map { bytes("\(round)p\($0)") })
                return await (loop, pool)
            }
            #expect(await eventually(10) { loop.isComplete && pool.isComplete }, "round \(round)")
            #expect(loop.texts == (0..<32).map { "\(round)l\($0)" })
            #expect(pool.texts == (0..<32).map { "\(round)p\($0)" })
        }
        await #expect { try await connection.call("test/LoopHang", [], deadline: .milliseconds(100)) } throws: {
            ($0 as? Status)?.code == .deadlineExceeded
        }
        #expect(await eventually { server.stats.callsInFlight == 0 }, "\(server.stats.callsInFlight) calls left in flight")
        #expect(text(try await connection.call("test/LoopEcho", bytes("after"))) == "after")
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    /// A non-blocking handler that awaits holds only its own runner: another call on the loop is
    /// answered meanwhile.
    @Test func aSuspendedLoopHandlerHoldsUpNoOtherCall() async throws {
        let release = Counter()
        let (server, port) = try startServer { server in
            server.unary("test/WaitForRelease", nonBlocking: true) { _, _ in
                while release.current == 0 { try await Task.sleep(for: .milliseconds(5)) }
                return bytes("released")
            }
            server.unary("test/LoopEcho", nonBlocking: true) { payload, _ in payload }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        let waiting = Task { try await connection.call("test/WaitForRelease", []) }
        #expect(await eventually { server.stats.callsInFlight == 1 })
        let answer = try await within(10, "a call beside a suspended non-blocking handler") {
            try await connection.call("test/LoopEcho", bytes("x"))
        }
        #expect(text(answer) == "x")
        release.increment()
        #expect(text(try await within(10, "the released call") { try await waiting.value }) == "released")
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }
}

/// Makes `leading`'s call (if any) and then one call per payload in one loop iteration (their
/// requests leave in one write, so the server most likely reads them together); the payloads'
/// answers are collected in call order (`leading`'s goes to its own callback).
func startBatch(_ connection: Connection, _ method: String, _ payloads: [[UInt8]],
                after leading: (method: String, answer: @Sendable (Result<UnsafeRawBufferPointer, Status>) -> Void)? = nil)
    async -> BatchAnswers {
    let answers = BatchAnswers(payloads.count)
    await withTaskExecutorPreference(TransportLoop.executor) {
        if let leading { connection.call(leading.method, [], answer: leading.answer) }
        for (i, payload) in payloads.enumerated() {
            connection.call(method, payload) { answers.set(i, $0.map { Array($0) }) }
        }
    }
    return answers
}

/// The answers of a batch (see `startBatch`), as they come.
final class BatchAnswers: Sendable {
    private let results: Locked<[Result<[UInt8], Status>?]>
    init(_ count: Int) { results = Locked(Array(repeating: nil, count: count)) }
    func set(_ index: Int, _ result: Result<[UInt8], Status>) { results.withLock { $0[index] = result } }
    var isComplete: Bool { results.withLock { $0.allSatisfy { $0 != nil } } }
    /// The answers' texts in call order ("?" for one not yet answered, "failed" for a failure).
    var texts: [String] {
        results.withLock { $0.map { $0.map { (try? $0.get()).map(text) ?? "failed" } ?? "?" } }
    }
}
