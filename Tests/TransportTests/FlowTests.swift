import Glibc
import LatticeTesting
import Testing
@testable import Transport
import Wire

/// Backpressure, reconnect and shutdown.
@Suite("Flow control, reconnect, shutdown", .serialized, .timeLimit(.minutes(TestTime.minutes(1))))
struct FlowTests {
    @Test func slowStreamReaderDoesNotGrowServerMemory() async throws {
        var config = TransportConfig()
        config.maxQueuedWriteBytes = 256 << 10
        let sent = Counter()
        let ended = Counter()
        let item = [UInt8](repeating: 0xAB, count: 64 << 10)
        let (server, port) = try startServer(config: config) { server in
            server.stream("test/Flood") { _, _, writer in
                defer { ended.increment() }
                for _ in 0..<10_000 {            // 640 MB if nothing pushed back
                    try await writer.send(item)
                    sent.increment()
                }
            }
        }
        let good = GoodClient(port: port)
        let raw = try RawSocket(port: port, receiveBuffer: 4096)
        try await raw.sendEnvelope(Envelope(callID: 1, method: "test/Flood"))
        try await Task.sleep(for: .seconds(1))
        let afterOneSecond = sent.current
        // Bounded by the queue limit plus the kernel's socket buffers, far below 10_000 items.
        #expect(afterOneSecond < 200, "sent \(afterOneSecond) items to a reader that reads nothing")
        #expect(server.stats.maxQueuedWriteBytes <= UInt64(config.maxQueuedWriteBytes + item.count + 64))
        #expect(ended.current == 0)
        raw.close()
        #expect(await eventually { ended.current == 1 }, "the parked writer is released when the reader goes away")
        #expect(await eventually { server.stats.callsInFlight == 0 })
        await good.finish()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func slowUnaryReaderStopsBeingRead() async throws {
        var config = TransportConfig()
        config.maxQueuedWriteBytes = 256 << 10
        config.maxConcurrentCallsPerConnection = 32
        let answered = Counter()
        let big = [UInt8](repeating: 1, count: 64 << 10)
        let (server, port) = try startServer(config: config) { server in
            server.unary("test/Big") { _, _ in answered.increment(); return big }
        }
        let raw = try RawSocket(port: port, receiveBuffer: 4096)
        defer { raw.close() }
        // 5000 pipelined requests whose 64 KiB answers are never read (320 MB if unbounded).
        var requests: [UInt8] = []
        for id in 1...5000 { requests += frame(Envelope(callID: UInt64(id), method: "test/Big").encode()) }
        let sender = Task { try? await raw.send(requests) }
        try await Task.sleep(for: .seconds(1))
        #expect(answered.current < 200, "answered \(answered.current) calls for a reader that reads nothing")
        #expect(server.stats.maxQueuedWriteBytes <= UInt64((32 + 8) * (big.count + 64)))
        #expect(server.stats.callsInFlight <= 32)
        sender.cancel()
        await server.shutdown(timeout: .milliseconds(100))
    }

    @Test func reconnectsAfterServerRestart() async throws {
        let (first, port) = try startServer()
        let connection = Connection(host: "127.0.0.1", port: port,
                                    reconnect: ReconnectPolicy(initialDelay: .milliseconds(20), maxDelay: .milliseconds(200)))
        #expect(try await connection.call("test/Echo", bytes("one")) == bytes("one"))
        await first.shutdown(timeout: .seconds(1))
        // Let the client see the close; a call written into a closing socket fails UNAVAILABLE
        // (the server never read it), as with any TCP RPC without a go-away message.
        try await Task.sleep(for: .milliseconds(50))

        // A call made while the server is down waits, retrying with backoff, and succeeds once it is back.
        let waiting = Task { try await connection.call("test/Echo", bytes("two"), deadline: .seconds(10)) }
        try await Task.sleep(for: .milliseconds(300))
        let (second, _) = try startServer(port: port)
        let answer = try await within(10, "call across a restart") { try await waiting.value }
        #expect(answer == bytes("two"))
        #expect(try await connection.call("test/Echo", bytes("three")) == bytes("three"))
        await connection.close()
        await second.shutdown(timeout: .seconds(1))
    }

    @Test func unreachableServerFailsUnavailable() async throws {
        // Find a port nobody listens on: bind, note it, shut down.
        let (server, port) = try startServer()
        await server.shutdown(timeout: .seconds(1))
        let never = Connection(host: "127.0.0.1", port: port, reconnect: .never)
        await #expect { try await never.call("test/Echo", []) } throws: { error in
            guard let status = error as? Status else { return false }
            return status.code == .unavailable && status.message.contains("127.0.0.1:\(port)")
        }
        let threeTries = Connection(host: "127.0.0.1", port: port,
                                    reconnect: ReconnectPolicy(initialDelay: .milliseconds(10), maxDelay: .milliseconds(40), maxAttempts: 3))
        await #expect { try await threeTries.call("test/Echo", []) } throws: {
            ($0 as? Status)?.message.contains("3 attempts") == true
        }
        let patient = Connection(host: "127.0.0.1", port: port)
        await #expect { try await patient.call("test/Echo", [], deadline: .milliseconds(200)) } throws: {
            ($0 as? Status)?.code == .deadlineExceeded
        }
        let badName = Connection(host: "no-such-host.invalid", port: 1, reconnect: .never)
        await #expect { try await badName.call("test/Echo", []) } throws: { ($0 as? Status)?.code == .unavailable }
    }

    @Test func shutdownDrainsInFlightCalls() async throws {
        let (server, port) = try startServer { server in
            server.unary("test/Work") { payload, _ in
                try await Task.sleep(for: .milliseconds(300))
                return payload
            }
        }
        let connection = Connection(host: "127.0.0.1", port: port, reconnect: .never)
        let calls = (0..<10).map { i in Task { try await connection.call("test/Work", bytes("\(i)")) } }
        #expect(await eventually { server.stats.callsInFlight == 10 })
        let started = ContinuousClock.now
        let shutdown = Task { await server.shutdown(timeout: .seconds(5)) }
        // The draining server told the client to go elsewhere: a new call does not land on the
        // draining connection but tries a new one, which the closed listener refuses.
        try await Task.sleep(for: .milliseconds(100))
        await #expect { try await connection.call("test/Work", bytes("late")) } throws: { error in
            guard let status = error as? Status else { return false }
            return status.code == .unavailable && status.message.contains("cannot connect")
        }
        await shutdown.value
        #expect(ContinuousClock.now - started < .seconds(3))
        for (i, call) in calls.enumerated() { #expect(try await call.value == bytes("\(i)")) }
        #expect(server.stats.callsTotal == 10 && server.stats.callsFailed == 0)
        // No longer listening.
        let again = Connection(host: "127.0.0.1", port: port, reconnect: .never)
        await #expect { try await again.call("test/Echo", []) } throws: { ($0 as? Status)?.code == .unavailable }
        await connection.close()
    }

    @Test func shutdownGivesUpOnCallsPastTheTimeout() async throws {
        let cancelled = Counter()
        let (server, port) = try startServer { server in
            server.unary("test/Stuck") { _, _ in
                do { try await Task.sleep(for: .seconds(30)) } catch { cancelled.increment(); throw error }
                return []
            }
        }
        let connection = Connection(host: "127.0.0.1", port: port, reconnect: .never)
        let call = Task { try await connection.call("test/Stuck", []) }
        #expect(await eventually { server.stats.callsInFlight == 1 })
        let started = ContinuousClock.now
        await server.shutdown(timeout: .milliseconds(200))
        #expect(ContinuousClock.now - started < .seconds(2))
        await #expect { try await call.value } throws: { ($0 as? Status)?.code == .unavailable }
        #expect(await eventually { cancelled.current == 1 })
        await connection.close()
    }
}
