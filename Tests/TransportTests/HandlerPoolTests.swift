import Foundation
import LatticeTesting
import Testing
@testable import Transport
import Wire

/// Handlers that may block run on the transport's own handler threads (`HandlerPool`), not on
/// the loop nor on Swift's cooperative pool.
@Suite("Handler pool", .serialized, .timeLimit(.minutes(TestTime.minutes(1))))
struct HandlerPoolTests {
    /// Every handler, and every resumption inside it, runs on a handler thread; pipelined calls
    /// handed over in batches all come back to their callers.
    @Test func blockingHandlersRunOnTheHandlerThreads() async throws {
        let (server, port) = try startServer { server in
            server.unary("test/WhereBlocking") { payload, _ in
                let before = HandlerPool.shared.isCurrent
                try await Task.sleep(for: .microseconds(100))   // resumes on the pool too
                return bytes("\(before && HandlerPool.shared.isCurrent && !TransportLoop.isCurrent) " + text(payload))
            }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        let wrong = try await within(20, "pipelined pool calls") {
            await withTaskGroup(of: Int.self) { group in
                for i in 0..<300 {
                    group.addTask {
                        let answer = try? await connection.call("test/WhereBlocking", bytes("#\(i)"))
                        return answer.map(text) == "true #\(i)" ? 0 : 1
                    }
                }
                return await group.reduce(0, +)
            }
        }
        #expect(wrong == 0, "\(wrong) of 300 calls were answered wrongly or ran off the handler threads")
        #expect(server.stats.callsTotal == 300 && server.stats.callsFailed == 0)
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    /// A handler that blocks its thread holds up only that thread: a call behind it is answered
    /// while it still blocks.
    @Test func aBlockedHandlerHoldsUpOnlyItsThread() async throws {
        #expect(HandlerPool.shared.threadCount >= 2)
        let release = DispatchSemaphore(value: 0)
        defer { release.signal() }   // never leave a handler thread blocked for the next tests
        let (server, port) = try startServer { server in
            server.unary("test/Block") { _, _ in
                release.wait()   // a solve or a forward pass, as far as the pool can tell
                return bytes("released")
            }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        let blocked = Task { try await connection.call("test/Block", []) }
        let answer = try await within(10, "a call beside a blocked handler") { try await connection.call("test/Echo", bytes("x")) }
        #expect(text(answer) == "x")
        release.signal()
        #expect(text(try await within(10, "the blocked call") { try await blocked.value }) == "released")
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    /// Calls one after another, the gaps between them around how long a handler thread out of
    /// jobs looks for the next before it sleeps (`HandlerPool.spinWindowNanos`): each is taken,
    /// whether it came while a thread was looking, as it stopped, or once it slept.
    @Test func callsAroundTheLookingWindowAreAllRun() async throws {
        let (server, port) = try startServer()
        let connection = Connection(host: "127.0.0.1", port: port)
        let window = Int(HandlerPool.spinWindowNanos / 1000)
        let wrong = try await within(30, "calls with gaps around the looking window") {
            var wrong = 0
            for i in 0..<300 {
                let gap = [0, window / 2, window, 2 * window][i % 4]
                if gap > 0 { try await Task.sleep(for: .microseconds(gap)) }
                if text(try await connection.call("test/Echo", bytes("#\(i)"))) != "#\(i)" { wrong += 1 }
            }
            return wrong
        }
        #expect(wrong == 0)
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func threadCountComesFromTheEnvironment() {
        #expect(HandlerPool.defaultThreads(environment: ["LATTICE_HANDLER_THREADS": "5"]) == 5)
        #expect(HandlerPool.defaultThreads(environment: [:]) == max(ProcessInfo.processInfo.activeProcessorCount, 2))
    }
}
