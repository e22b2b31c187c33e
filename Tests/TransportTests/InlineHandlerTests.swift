import LatticeTesting
import Testing
@testable import Transport
import Wire

/// `Server.inlineUnary`: synchronous handlers run on the loop thread and answer there.
@Suite("Inline handlers", .serialized, .timeLimit(.minutes(TestTime.minutes(1))))
struct InlineHandlerTests {
    @Test func answersFromTheLoopThreadWithStatusesAndViolations() async throws {
        let onLoop = Counter()
        let (server, port) = try startServer { server in
            server.inlineUnary("test/Where") { payload, context in
                if EventLoop.shared.inLoopThread { onLoop.increment() }
                return bytes("\(context.method) \(text(payload))")
            }
            server.inlineUnary("test/Refuse") { _, _ in throw Status(.permissionDenied, "no") }
            server.inlineUnary("test/Violate") { _, _ in throw ProtocolViolation(Status(.invalidArgument, "bad payload")) }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        let answer = try await within(5, "inline call") { try await connection.call("test/Where", bytes("x"), deadline: .seconds(5)) }
        #expect(text(answer) == "test/Where x")
        #expect(onLoop.current == 1, "the handler ran on the loop thread")
        await #expect { try await connection.call("test/Refuse", []) } throws: { ($0 as? Status)?.code == .permissionDenied }
        // Mixed with Task handlers on one connection, many at once: each answer reaches its caller.
        let mismatches = try await within(20, "mixed inline and Task calls") {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<200 {
                    group.addTask {
                        let method = i.isMultiple(of: 2) ? "test/Where" : "test/Echo"
                        let answer = try await connection.call(method, bytes("#\(i)"))
                        return text(answer) == (i.isMultiple(of: 2) ? "test/Where #\(i)" : "#\(i)") ? 0 : 1
                    }
                }
                return try await group.reduce(0, +)
            }
        }
        #expect(mismatches == 0)
        let stats = server.stats
        #expect(stats.callsTotal == 202 && stats.callsFailed == 1 && stats.callsInFlight == 0)

        // A protocol violation is answered and then closes the connection, as for Task handlers.
        let raw = try RawSocket(port: port)
        defer { raw.close() }
        try await raw.sendEnvelope(Envelope(callID: 9, method: "test/Violate"))
        let refused = try await raw.readEnvelope()
        #expect(refused?.callID == 9 && refused?.status?.code == .invalidArgument)
        #expect(await raw.waitForClose())
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }
}
