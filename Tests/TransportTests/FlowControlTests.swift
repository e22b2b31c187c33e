import LatticeTesting
import Synchronization
import Testing
@testable import Transport
import Wire

/// Client-side limits (issue 12, item 3): bounded pending calls, and stream flow control back to
/// the server, so a slow consumer pauses the server's sends instead of buffering without bound.
@Suite("Client flow control", .serialized, .timeLimit(.minutes(TestTime.minutes(1))))
struct FlowControlTests {
    @Test func aSlowConsumerPausesTheServerAndOtherClientsAreServed() async throws {
        let item = [UInt8](repeating: 7, count: 4096)
        let sent = Atomic<Int>(0)
        let (server, port) = try startServer { server in
            server.stream("test/Flood") { _, _, writer in
                while true {
                    try await writer.send(item)
                    sent.add(1, ordering: .relaxed)
                }
            }
        }
        var config = TransportConfig()
        config.streamWindowBytes = 64 << 10
        let slow = Connection(host: "127.0.0.1", port: port, config: config)
        let other = Connection(host: "127.0.0.1", port: port)
        let consumed = try await within(30, "slow consumer") {
            var taken = 0
            for try await got in slow.stream("test/Flood", []) {
                #expect(got == item)
                taken += 1
                if taken == 8 { break }
                try await Task.sleep(for: .milliseconds(50))   // the consumer is slower than the server
            }
            return taken
        }
        // While the slow stream is open (and after), another client's calls are answered.
        for i in 0..<20 {
            let answer = try await within(5, "call \(i) of another client") { try await other.call("test/Echo", [UInt8(i)]) }
            #expect(answer == [UInt8(i)])
        }
        let stats = slow.stats
        // Buffered: at most the window plus one item (the server may start one while under half).
        #expect(stats.maxStreamBufferedBytes <= UInt64(config.streamWindowBytes + item.count), "buffered \(stats.maxStreamBufferedBytes) bytes")
        let ahead = sent.load(ordering: .relaxed) - consumed
        #expect(ahead <= (config.streamWindowBytes + item.count) / item.count + 1, "the server sent \(ahead) items ahead of the consumer")
        #expect(server.stats.streamWindowWaits > 0, "the server's sends waited for the window")
        #expect(stats.windowUpdatesSent > 0 && stats.streamOverruns == 0)
        // Leaving the loop dropped the stream: the server's handler is cancelled.
        #expect(await eventually(10) { server.stats.callsInFlight == 0 }, "the flood stopped when its stream was dropped")
        await slow.close()
        await other.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func cancellingTheConsumerEndsTheIterationAndTheCall() async throws {
        let (server, port) = try startServer { server in
            server.stream("test/Forever") { _, _, writer in
                while true {
                    try await writer.send([1])
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        let started = Atomic<Bool>(false)
        let consumer = Task {
            var taken = 0
            for try await _ in connection.stream("test/Forever", []) {
                taken += 1
                started.store(true, ordering: .relaxed)
            }
            return taken
        }
        #expect(await eventually(10) { started.load(ordering: .relaxed) })
        consumer.cancel()
        let taken = try await within(10, "the cancelled consumer") { try await consumer.value }   // ends, does not throw
        #expect(taken > 0)
        #expect(await eventually(10) { server.stats.callsInFlight == 0 }, "the server's handler was cancelled")
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func itemsLargerThanATinyWindowStillFlow() async throws {
        let (server, port) = try startServer { server in
            server.stream("test/Big") { _, _, writer in
                for i in 0..<5 { try await writer.send([UInt8](repeating: UInt8(i), count: 1000)) }
            }
        }
        var config = TransportConfig()
        config.streamWindowBytes = 1
        let connection = Connection(host: "127.0.0.1", port: port, config: config)
        let items = try await within(10, "a stream through a 1-byte window") {
            var items: [[UInt8]] = []
            for try await item in connection.stream("test/Big", []) { items.append(item) }
            return items
        }
        #expect(items == (0..<5).map { [UInt8](repeating: UInt8($0), count: 1000) })
        #expect(connection.stats.maxStreamBufferedBytes <= 1000 && connection.stats.streamOverruns == 0)
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    /// The window counts payload bytes on both sides: were the server to count its frames'
    /// envelopes too, each item would leak a few bytes of window until the stream stalled.
    @Test func aLongStreamOfSmallItemsNeverStalls() async throws {
        let (server, port) = try startServer { server in
            server.stream("test/Tokens") { _, _, writer in
                for i in 0..<5000 { try await writer.send(Array("token \(i % 10)".utf8)) }
            }
        }
        var config = TransportConfig()
        config.streamWindowBytes = 1024
        let connection = Connection(host: "127.0.0.1", port: port, config: config)
        let count = try await within(30, "5000 items through a 1 KiB window") {
            var count = 0
            for try await _ in connection.stream("test/Tokens", []) { count += 1 }
            return count
        }
        #expect(count == 5000)
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func aServerSendingPastTheWindowFailsTheStream() async throws {
        let buffer = StreamBuffer(window: 1000, method: "test/Overrun", counters: ClientCounters())
        let failed = Mutex<Status?>(nil)
        // Weak: the buffer keeps its `cancel`, so a strong capture would be a cycle (LeakSanitizer found it).
        buffer.cancel = { [weak buffer] status in failed.withLock { $0 = status }; buffer?.finish(status) }
        buffer.push([UInt8](repeating: 1, count: 600))   // under half the window before it: allowed
        buffer.push([UInt8](repeating: 2, count: 300))   // fits in what is left
        #expect(failed.withLock { $0 } == nil)
        buffer.push([UInt8](repeating: 3, count: 300))   // 1200 outstanding, 900 before it: past the window
        let status = try #require(failed.withLock { $0 })
        #expect(status.code == .resourceExhausted && status.message.contains("window of 1000 bytes"), "\(status)")
        #expect(try await buffer.next()?.count == 600)
        #expect(try await buffer.next()?.count == 300)
        await #expect(throws: Status.self) { _ = try await buffer.next() }
    }

    @Test func pendingCallsPastTheLimitAreRefusedAndCounted() async throws {
        let release = Atomic<Bool>(false)
        let (server, port) = try startServer { server in
            server.unary("test/Hold") { payload, _ in
                while !release.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(5)) }
                return payload
            }
        }
        var config = TransportConfig()
        config.maxPendingCalls = 2
        let connection = Connection(host: "127.0.0.1", port: port, config: config)
        async let first = connection.call("test/Hold", [1])
        async let second = connection.call("test/Hold", [2])
        #expect(await eventually(10) { server.stats.callsInFlight == 2 })
        await #expect {
            try await connection.call("test/Hold", [3])
        } throws: { ($0 as? Status)?.code == .resourceExhausted && "\($0)".contains("maxPendingCalls") }
        #expect(connection.stats.callsRefused == 1)
        release.store(true, ordering: .relaxed)
        #expect(try await [first, second] == [[1], [2]])
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }
}
