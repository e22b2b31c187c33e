import LatticeTesting
import Testing
@testable import Transport
import Wire

/// The loop as a Swift executor: non-blocking handlers run there, and callers that prefer it
/// resume there from their answers.
@Suite("Loop executor", .serialized, .timeLimit(.minutes(TestTime.minutes(1))))
struct LoopExecutorTests {
    /// A client's call table goes without a lock while all its calls are made on the loop, and
    /// takes it once a call comes from another thread (`ClientCore.tableShared`: that first call
    /// goes through the loop): calls from the loop, then from the pool and the loop at once, on
    /// one connection, all get their own answers.
    @Test func loopCallersThenPoolCallersShareAConnection() async throws {
        let (server, port) = try startServer()
        let connection = Connection(host: "127.0.0.1", port: port)
        @Sendable func calls(_ tag: String, _ count: Int) async -> Int {
            var wrong = 0
            for i in 0..<count where (try? await connection.call("test/Echo", bytes("\(tag)\(i)"))).map(text) != "\(tag)\(i)" { wrong += 1 }
            return wrong
        }
        let loopOnly = try await within(20, "calls from the loop") {
            await withTaskExecutorPreference(TransportLoop.executor) { await calls("l", 100) }
        }
        #expect(loopOnly == 0)
        let mixed = try await within(20, "calls from the pool and the loop at once") {
            await withTaskGroup(of: Int.self) { group in
                for caller in 0..<8 {
                    group.addTask { await calls("p\(caller).", 100) }
                    group.addTask { await withTaskExecutorPreference(TransportLoop.executor) { await calls("l\(caller).", 100) } }
                }
                return await group.reduce(0, +)
            }
        }
        #expect(mixed == 0, "\(mixed) of 1600 calls got a wrong answer or failed")
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    /// A server connection writes its answers without the channel's lock while only
    /// non-blocking handlers answer (on the loop), and shares it once a call goes to the handler
    /// threads (which may send their answers themselves, `TCPChannel.shareWrites`): loop answers,
    /// then pool and loop answers at once on one connection, of sizes that make the direct sends
    /// leave bytes for the loop, all arrive whole and in their own calls.
    @Test func aServerConnectionSharesItsWritesOnceAPoolCallComes() async throws {
        let (server, port) = try startServer { server in
            server.unary("test/LoopEcho", nonBlocking: true) { payload, _ in payload }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        @Sendable func calls(_ method: String, _ tag: String, _ count: Int) async -> Int {
            var wrong = 0
            for i in 0..<count {
                // Up to 200 KiB: more than a loopback send takes at once while answers pile up.
                let payload = bytes("\(tag)\(i)") + [UInt8](repeating: UInt8(i % 251), count: (i * 7919) % (200 << 10))
                if (try? await connection.call(method, payload)) != payload { wrong += 1 }
            }
            return wrong
        }
        let loopOnly = try await within(20, "non-blocking calls") { await calls("test/LoopEcho", "l", 50) }
        #expect(loopOnly == 0)
        let mixed = try await within(60, "pool and non-blocking calls at once") {
            await withTaskGroup(of: Int.self) { group in
                for caller in 0..<6 {
                    group.addTask { await calls("test/Echo", "p\(caller).", 40) }
                    group.addTask { await calls("test/LoopEcho", "l\(caller).", 40) }
                }
                return await group.reduce(0, +)
            }
        }
        #expect(mixed == 0, "\(mixed) of 480 calls got a wrong answer or failed")
        let stats = server.stats
        #expect(stats.callsTotal == 530 && stats.callsFailed == 0 && stats.protocolErrors == 0)
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func nonBlockingHandlersAndLoopCallersRunOnTheLoopThread() async throws {
        let (server, port) = try startServer { server in
            server.unary("test/Where", nonBlocking: true) { payload, _ in
                try await Task.sleep(for: .milliseconds(1))   // suspends and resumes on the loop too
                return bytes((TransportLoop.isCurrent ? "loop " : "pool ") + text(payload))
            }
            server.unary("test/Pool") { payload, _ in bytes((TransportLoop.isCurrent ? "loop " : "pool ") + text(payload)) }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        let answer = try await within(5, "non-blocking call") { try await connection.call("test/Where", bytes("x")) }
        #expect(text(answer) == "loop x")
        #expect(text(try await connection.call("test/Pool", bytes("y"))) == "pool y", "plain handlers stay off the loop")

        // Callers on the loop executor, many at once (one socket, pipelined): every answer comes
        // back to its caller, and each caller is on the loop thread when it resumes.
        let (mismatches, offLoop) = try await within(20, "callers on the loop") {
            await withTaskExecutorPreference(TransportLoop.executor) {
                await withTaskGroup(of: (Int, Int).self) { group in
                    for i in 0..<200 {
                        group.addTask {
                            let method = i.isMultiple(of: 2) ? "test/Where" : "test/Pool"
                            let expected = (i.isMultiple(of: 2) ? "loop #" : "pool #") + "\(i)"
                            let answer = try? await connection.call(method, bytes("#\(i)"))
                            return (answer.map(text) == expected ? 0 : 1, TransportLoop.isCurrent ? 0 : 1)
                        }
                    }
                    return await group.reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
                }
            }
        }
        #expect(mismatches == 0)
        #expect(offLoop == 0, "\(offLoop) callers resumed off the loop thread")
        let stats = server.stats
        #expect(stats.callsTotal == 202 && stats.callsFailed == 0 && stats.callsInFlight == 0 && stats.connectionsOpen == 1)
        await connection.close()
        #expect(await eventually { server.stats.connectionsOpen == 0 })
        #expect(server.stats.callsTotal == 202, "a closed connection's counts stay in the totals")
        await server.shutdown(timeout: .seconds(1))
    }

    /// Work the loop keeps giving itself (a task that only yields) must not starve the sockets.
    @Test func aTaskThatKeepsYieldingOnTheLoopDoesNotStarveSockets() async throws {
        let (server, port) = try startServer()
        let connection = Connection(host: "127.0.0.1", port: port)
        let stop = Counter()
        let spinner = Task(executorPreference: TransportLoop.executor) {
            var turns = 0
            while stop.current == 0 { await Task.yield(); turns += 1 }
            return turns
        }
        let answer = try await within(10, "a call while a task spins on the loop") { try await connection.call("test/Echo", bytes("x")) }
        stop.increment()
        #expect(text(answer) == "x")
        #expect(await spinner.value > 0)
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func aCancelledNonBlockingHandlerEndsWithItsCall() async throws {
        let started = Counter()
        let (server, port) = try startServer { server in
            server.unary("test/Hang", nonBlocking: true) { _, _ in
                started.increment()
                try await Task.sleep(for: .seconds(60))
                return []
            }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        _ = try await connection.call("test/Echo", [])   // connected first: the deadline is the call's alone
        await #expect { try await connection.call("test/Hang", [], deadline: .milliseconds(100)) } throws: {
            ($0 as? Status)?.code == .deadlineExceeded
        }
        #expect(started.current == 1)
        #expect(await eventually { server.stats.callsInFlight == 0 }, "the server ended the call at its deadline")
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }
}
