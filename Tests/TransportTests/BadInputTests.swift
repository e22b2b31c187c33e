import LatticeTesting
import Testing
@testable import Transport
import Wire

/// Keeps a well-behaved client calling while something else misbehaves; counts what it saw.
final class GoodClient: Sendable {
    let connection: Connection
    private let loop: Task<(ok: Int, failed: [String]), Never>
    private let succeeded = Counter()

    init(port: Int) {
        let connection = Connection(host: "127.0.0.1", port: port)
        self.connection = connection
        let succeeded = succeeded
        loop = Task {
            var ok = 0
            var failed: [String] = []
            var i = 0
            while !Task.isCancelled {
                i += 1
                do {
                    let answer = try await connection.call("test/Echo", bytes("good \(i)"), deadline: .seconds(5))
                    if answer == bytes("good \(i)") { ok += 1; succeeded.increment() } else { failed.append("wrong answer \(text(answer))") }
                } catch {
                    if !Task.isCancelled { failed.append("\(error)") }
                }
                try? await Task.sleep(for: .milliseconds(1))
            }
            return (ok, failed)
        }
    }

    /// Stops calling; expects that every call succeeded and that there were some.
    func finish() async {
        _ = await eventually { succeeded.current >= 20 }
        loop.cancel()
        let (ok, failed) = await loop.value
        #expect(failed.isEmpty, "good client failures: \(failed.prefix(3))")
        #expect(ok > 0, "good client made no calls")
        await connection.close()
    }
}

/// Malformed input from raw sockets: each gets a Status where possible and a closed connection,
/// while a good client on another connection keeps being served.
@Suite("Bad input", .serialized, .timeLimit(.minutes(TestTime.minutes(1))))
struct BadInputTests {
    @Test func lengthOverTheMaximumIsAnsweredAndClosed() async throws {
        let (server, port) = try startServer()
        let good = GoodClient(port: port)
        let raw = try RawSocket(port: port)
        defer { raw.close() }
        try await raw.send([0xFF, 0xFF, 0xFF, 0xF0])   // announces ~4 GiB
        let answer = try await raw.readEnvelope()
        #expect(answer?.callID == 0)
        #expect(answer?.status?.code == .resourceExhausted)
        #expect(answer?.status?.message.contains("maximum") == true)
        #expect(await raw.waitForClose())
        #expect(server.stats.protocolErrors == 1)
        await good.finish()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func configuredMaximumIsEnforced() async throws {
        var config = TransportConfig()
        config.maxFrameBytes = 1000
        let (server, port) = try startServer(config: config)
        let raw = try RawSocket(port: port)
        defer { raw.close() }
        // 1001 announced: refused on the prefix alone, before any body byte is sent.
        try await raw.send([0, 0, 0x03, 0xE9])
        #expect(try await raw.readEnvelope()?.status?.code == .resourceExhausted)
        #expect(await raw.waitForClose())
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func garbageBytesAreAnsweredAndClosed() async throws {
        let (server, port) = try startServer()
        let good = GoodClient(port: port)

        let http = try RawSocket(port: port)
        defer { http.close() }
        try await http.send(bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))   // "GET " reads as a 1.2 GB length
        #expect(try await http.readEnvelope()?.status?.code == .resourceExhausted)
        #expect(await http.waitForClose())

        let junk = try RawSocket(port: port)
        defer { junk.close() }
        try await junk.send([0, 0, 0, 6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])   // a frame that is not an Envelope
        let answer = try await junk.readEnvelope()
        #expect(answer?.status?.code == .invalidArgument)
        #expect(answer?.status?.message.contains("Envelope") == true)
        #expect(await junk.waitForClose())

        #expect(server.stats.protocolErrors == 2)
        await good.finish()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func frameCutMidwayThenClosed() async throws {
        let (server, port) = try startServer()
        let good = GoodClient(port: port)
        #expect(await eventually { server.stats.connectionsOpen == 1 })
        let whole = frame(Envelope(callID: 1, method: "test/Echo", payload: Array(repeating: 9, count: 500)).encode())
        for cut in [2, 4, 100, whole.count - 1] {
            let raw = try RawSocket(port: port)
            try await raw.send(Array(whole.prefix(cut)))
            try await Task.sleep(for: .milliseconds(20))
            raw.close()
        }
        #expect(await eventually { server.stats.connectionsOpen == 1 }, "cut connections were cleaned up")
        await good.finish()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func unknownMethodFromARawClientIsUnimplementedAndClosed() async throws {
        let (server, port) = try startServer()
        let good = GoodClient(port: port)
        let raw = try RawSocket(port: port)
        defer { raw.close() }
        try await raw.sendEnvelope(Envelope(callID: 42, method: "nobody/Home", payload: [1, 2, 3]))
        let answer = try await raw.readEnvelope()
        #expect(answer?.callID == 42)
        #expect(answer?.status?.code == .unimplemented)
        #expect(await raw.waitForClose())
        await good.finish()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func payloadThatDoesNotDecodeIsAnsweredAndClosed() async throws {
        // A handler decodes its payload as a message (an Envelope stands in for a request type);
        // bytes that are not one are a protocol violation: INVALID_ARGUMENT, then the connection closes.
        let (server, port) = try startServer { server in
            server.unary("test/Typed") { payload, _ in
                do { return try Envelope(wire: payload).payload } catch {
                    throw ProtocolViolation(Status(.invalidArgument, "payload is not a test message: \(error)"))
                }
            }
        }
        let good = GoodClient(port: port)
        let raw = try RawSocket(port: port)
        defer { raw.close() }
        try await raw.sendEnvelope(Envelope(callID: 5, method: "test/Typed", payload: [0xFF, 0xFF, 0xFF]))
        let answer = try await raw.readEnvelope()
        #expect(answer?.callID == 5)
        #expect(answer?.status?.code == .invalidArgument)
        #expect(await raw.waitForClose())

        let connection = Connection(host: "127.0.0.1", port: port)
        let inner = Envelope(callID: 0, method: "", payload: bytes("inside")).encode()
        #expect(try await connection.call("test/Typed", inner) == bytes("inside"))
        await connection.close()
        await good.finish()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func protocolRulesFromARawClient() async throws {
        let (server, port) = try startServer { server in
            server.unary("test/Hold") { _, _ in
                try await Task.sleep(for: .seconds(30))
                return []
            }
        }
        // A newer protocol version is refused for that call only.
        let newer = try RawSocket(port: port)
        defer { newer.close() }
        try await newer.sendEnvelope(Envelope(callID: 1, method: "test/Echo", payload: [1], version: 2))
        #expect(try await newer.readEnvelope()?.status?.code == .failedPrecondition)
        try await newer.sendEnvelope(Envelope(callID: 2, method: "test/Echo", payload: [2]))
        let echoed = try await newer.readEnvelope()
        #expect(echoed?.callID == 2 && echoed?.payload == [2] && echoed?.endOfStream == true)

        // Reusing the id of a call still in flight breaks the protocol.
        let reuse = try RawSocket(port: port)
        defer { reuse.close() }
        try await reuse.sendEnvelope(Envelope(callID: 9, method: "test/Hold"))
        try await reuse.sendEnvelope(Envelope(callID: 9, method: "test/Hold"))
        let answer = try await reuse.readEnvelope()
        #expect(answer?.status?.code == .invalidArgument && answer?.status?.message.contains("already in flight") == true)
        #expect(await reuse.waitForClose())

        // Clients do not send RESPONSE frames.
        let backwards = try RawSocket(port: port)
        defer { backwards.close() }
        try await backwards.sendEnvelope(Envelope(callID: 3, method: "", kind: .response))
        #expect(try await backwards.readEnvelope()?.status?.code == .invalidArgument)
        #expect(await backwards.waitForClose())
        #expect(await eventually { server.stats.callsInFlight == 0 }, "the held call ended with its connection")
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func answersOverTheFrameLimitBecomeResourceExhausted() async throws {
        var config = TransportConfig()
        config.maxFrameBytes = 1000
        let (server, port) = try startServer(config: config) { server in
            server.unary("test/Huge") { _, _ in Array(repeating: 1, count: 5000) }
        }
        let connection = Connection(host: "127.0.0.1", port: port, config: config)
        await #expect { try await connection.call("test/Huge", []) } throws: { ($0 as? Status)?.code == .resourceExhausted }
        #expect(try await connection.call("test/Echo", [4]) == [4])
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func aPortInUseIsAClearError() async throws {
        let (server, port) = try startServer()
        #expect {
            _ = try startServer(port: port)
        } throws: { error in
            guard let status = error as? Status else { return false }
            return status.code == .unavailable && status.message.contains("address already in use")
        }
        #expect(throws: Status.self) { _ = try Server(logger: quietLogger).start(host: "no-such-host.invalid", port: 0) }
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func fiveHundredAbandonedConnections() async throws {
        let (server, port) = try startServer()
        let good = GoodClient(port: port)
        var sockets: [RawSocket] = []
        for i in 0..<500 {
            let raw = try RawSocket(port: port)
            switch i % 4 {
            case 0: break                                                 // says nothing
            case 1: try await raw.send([0, 0])                            // half a length prefix
            case 2: try await raw.send([0, 0, 1, 0, 1, 2, 3])             // half a frame
            default: try await raw.sendEnvelope(Envelope(callID: 1, method: "test/Echo", payload: [7]))   // a call, answer never read
            }
            sockets.append(raw)
        }
        #expect(await eventually(10) { server.stats.connectionsOpen == 501 }, "open: \(server.stats.connectionsOpen)")
        for raw in sockets { raw.close() }
        #expect(await eventually(10) { server.stats.connectionsOpen == 1 }, "open after abandon: \(server.stats.connectionsOpen)")
        await good.finish()
        #expect(await eventually { server.stats.callsInFlight == 0 }, "the unread calls ended with their connections")
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func idleConnectionsAreClosed() async throws {
        var config = TransportConfig()
        config.idleTimeout = .milliseconds(200)
        let (server, port) = try startServer(config: config)
        let raw = try RawSocket(port: port)
        defer { raw.close() }
        #expect(await raw.waitForClose(timeout: 3))
        #expect(await eventually { server.stats.connectionsOpen == 0 })
        await server.shutdown(timeout: .seconds(1))
    }
}
