import LatticeTesting
import Testing
@testable import Transport
import Wire

/// Calls over real loopback sockets: round trips, concurrency, streams, deadlines, cancel.
@Suite("Calls over loopback", .serialized, .timeLimit(.minutes(TestTime.minutes(1))))
struct CallTests {
    @Test func unaryRoundTrip() async throws {
        let (server, port) = try startServer { server in
            server.unary("test/Greet") { payload, context in
                bytes("hello \(text(payload)) from \(context.method)")
            }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        let answer = try await within(5, "round trip") { try await connection.call("test/Greet", bytes("ada")) }
        #expect(text(answer) == "hello ada from test/Greet")
        let empty = try await connection.call("test/Echo", [])
        #expect(empty.isEmpty)
        let stats = server.stats
        #expect(stats.callsTotal == 2 && stats.callsFailed == 0 && stats.connectionsOpen == 1)
        #expect(stats.bytesIn > 0 && stats.bytesOut > 0)
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func manyConcurrentCallsOnOneConnectionAreMatchedById() async throws {
        let (server, port) = try startServer { server in
            server.unary("test/Slow") { payload, _ in
                // Answer out of order: later calls often finish first.
                try await Task.sleep(for: .microseconds(Int.random(in: 0...3000)))
                return payload + payload
            }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        let answers = try await within(20, "256 concurrent calls") {
            try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
                for i in 0..<256 {
                    group.addTask { (i, try await connection.call("test/Slow", bytes("#\(i)"))) }
                }
                var out: [Int: String] = [:]
                for try await (i, answer) in group { out[i] = text(answer) }
                return out
            }
        }
        #expect(answers.count == 256)
        for i in 0..<256 { #expect(answers[i] == "#\(i)#\(i)") }
        #expect(server.stats.connectionsOpen == 1, "all calls shared one connection")
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    /// Callers send their requests themselves when nothing is queued; big ones only partly fit
    /// the socket and the rest goes through the loop. Mixed sizes from many callers at once
    /// check that frames never interleave and no byte is lost (every echo must match).
    @Test func concurrentCallsOfMixedSizesArriveWhole() async throws {
        let (server, port) = try startServer()
        let connection = Connection(host: "127.0.0.1", port: port)
        let sizes = [0, 1, 63, 4096, 70_000, 1 << 20]
        let mismatches = try await within(30, "mixed-size concurrent calls") {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<48 {
                    group.addTask {
                        let size = sizes[i % sizes.count]
                        var payload = [UInt8](repeating: UInt8(i), count: size)
                        for k in stride(from: 0, to: size, by: 997) { payload[k] = UInt8(truncatingIfNeeded: k) }
                        return try await connection.call("test/Echo", payload) == payload ? 0 : 1
                    }
                }
                return try await group.reduce(0, +)
            }
        }
        #expect(mismatches == 0)
        // One at a time, each call (and its answer) is sent by the caller (the handler) directly;
        // a 16 MiB frame does not fit the socket at once, and the loop writes the rest.
        for size in [16 << 20, 1, 1 << 20, 0] {
            var payload = [UInt8](repeating: 7, count: size)
            for k in stride(from: 0, to: size, by: 1013) { payload[k] = UInt8(truncatingIfNeeded: k) }
            #expect(try await connection.call("test/Echo", payload) == payload)
        }
        #expect(server.stats.connectionsOpen == 1)
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func serverStreamDeliversManyItemsInOrder() async throws {
        let (server, port) = try startServer { server in
            server.stream("test/Count") { payload, _, writer in
                let n = Int(text(payload)) ?? 0
                for i in 0..<n { try await writer.send(bytes("\(i)")) }
            }
            server.stream("test/FailAfterTwo") { _, _, writer in
                try await writer.send(bytes("a"))
                try await writer.send(bytes("b"))
                throw Status(.notFound, "no third item")
            }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        let items = try await within(20, "stream of 20000") {
            var items: [String] = []
            for try await item in connection.stream("test/Count", bytes("20000")) { items.append(text(item)) }
            return items
        }
        #expect(items.count == 20000)
        #expect(items == (0..<20000).map { "\($0)" })

        var got: [String] = []
        await #expect {
            for try await item in connection.stream("test/FailAfterTwo", []) { got.append(text(item)) }
        } throws: { error in
            (error as? Status)?.code == .notFound && (error as? Status)?.message == "no third item"
        }
        #expect(got == ["a", "b"])
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func handlerErrorsBecomeStatusesAndTheConnectionStaysUp() async throws {
        struct Oops: Error {}
        let (server, port) = try startServer { server in
            server.unary("test/Invalid") { _, _ in throw Status(.invalidArgument, "field x must be positive") }
            server.unary("test/Crash") { _, _ in throw Oops() }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        await #expect(throws: Status(.invalidArgument, "field x must be positive")) {
            try await connection.call("test/Invalid", [])
        }
        await #expect { try await connection.call("test/Crash", []) } throws: { error in
            (error as? Status)?.code == .internal && "\(error)".contains("test/Crash")
        }
        #expect(try await connection.call("test/Echo", bytes("still here")) == bytes("still here"))
        #expect(server.stats.callsFailed == 2)
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func deadlineExceededOnBothSides() async throws {
        let cancelled = Counter()
        let (server, port) = try startServer { server in
            server.unary("test/Sleep") { _, context in
                #expect(context.deadline != nil)
                do {
                    try await Task.sleep(for: .seconds(30))
                } catch {
                    cancelled.increment()
                    throw error
                }
                return []
            }
        }
        // Client side: the call fails at its deadline, not when the handler ends.
        let connection = Connection(host: "127.0.0.1", port: port)
        let started = ContinuousClock.now
        await #expect { try await connection.call("test/Sleep", [], deadline: .milliseconds(150)) } throws: { error in
            (error as? Status)?.code == .deadlineExceeded
        }
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(await eventually { cancelled.current == 1 }, "the handler's Task was cancelled")

        // Server side: a raw client that never cancels still gets DEADLINE_EXCEEDED from the server.
        let raw = try RawSocket(port: port)
        defer { raw.close() }
        try await raw.sendEnvelope(Envelope(callID: 7, method: "test/Sleep", deadlineMs: 100))
        let answer = try await raw.readEnvelope()
        #expect(answer?.callID == 7)
        #expect(answer?.status?.code == .deadlineExceeded)
        #expect(await eventually { cancelled.current == 2 })
        #expect(await eventually { server.stats.callsInFlight == 0 })
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func clientCancelReachesTheHandler() async throws {
        let started = Counter()
        let cancelled = Counter()
        let (server, port) = try startServer { server in
            server.unary("test/Wait") { _, _ in
                started.increment()
                do { try await Task.sleep(for: .seconds(30)) } catch { cancelled.increment(); throw error }
                return []
            }
            server.stream("test/Forever") { _, _, writer in
                started.increment()
                do {
                    while true {
                        try await writer.send(bytes("tick"))
                        try await Task.sleep(for: .milliseconds(1))
                    }
                } catch {
                    cancelled.increment()
                    throw error
                }
            }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        let call = Task { try await connection.call("test/Wait", []) }
        #expect(await eventually { started.current == 1 })
        call.cancel()
        await #expect { try await call.value } throws: { ($0 as? Status)?.code == .cancelled }
        #expect(await eventually { cancelled.current == 1 }, "CANCEL reached the unary handler")

        // Leaving a stream early (break) cancels it on the server too.
        var seen = 0
        for try await _ in connection.stream("test/Forever", []) {
            seen += 1
            if seen == 5 { break }
        }
        #expect(await eventually { cancelled.current == 2 }, "CANCEL reached the stream handler")
        #expect(await eventually { server.stats.callsInFlight == 0 })
        #expect(try await connection.call("test/Echo", bytes("ok")) == bytes("ok"))
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func unknownMethodIsUnimplemented() async throws {
        let (server, port) = try startServer()
        let connection = Connection(host: "127.0.0.1", port: port)
        await #expect { try await connection.call("test/Nope", []) } throws: { error in
            guard let status = error as? Status else { return false }
            return status.code == .unimplemented && status.message.contains("test/Nope") && status.message.contains("test/Echo")
        }
        // The connection was closed for the protocol error; the client reconnects for the next call.
        #expect(try await connection.call("test/Echo", bytes("again")) == bytes("again"))
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func droppedConnectionClosesAfterItsLastCall() async throws {
        let (server, port) = try startServer { server in
            server.stream("test/Three") { _, _, writer in
                for i in 0..<3 {
                    try await Task.sleep(for: .milliseconds(20))
                    try await writer.send([UInt8(i)])
                }
            }
        }
        func streamFromATemporaryConnection() -> CallStream {
            Connection(host: "127.0.0.1", port: port).stream("test/Three", [])
        }
        var items: [[UInt8]] = []
        for try await item in streamFromATemporaryConnection() { items.append(item) }
        #expect(items == [[0], [1], [2]], "the stream outlives its Connection object")
        #expect(await eventually { server.stats.connectionsOpen == 0 }, "and the socket closes after it")
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func oversizeRequestIsRefusedBeforeSending() async throws {
        var config = TransportConfig()
        config.maxFrameBytes = 1024
        let (server, port) = try startServer(config: config)
        let connection = Connection(host: "127.0.0.1", port: port, config: config)
        await #expect { try await connection.call("test/Echo", Array(repeating: 1, count: 2000)) } throws: {
            ($0 as? Status)?.code == .resourceExhausted
        }
        #expect(try await connection.call("test/Echo", Array(repeating: 1, count: 900)).count == 900)
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }
}
