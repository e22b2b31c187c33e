import Client
import LatticeTesting
import Logging
import Synchronization
import Testing

extension Integration {
    /// Issue 12, client side: `ServiceClient.generate` (the retrying Generate every client uses)
    /// pulls events as its consumer asks, so a slow consumer pauses the server's sends through
    /// the transport's flow-control window instead of piling events up in the client.
    @Suite(.timeLimit(.minutes(TestTime.minutes(1))))
    struct GenerateFlowControlTests {
        @Test func aSlowGenerateConsumerPausesTheServer() async throws {
            let total = 5_000
            let sent = Atomic<Int>(0)
            let server = Server(logger: Logger(label: "test"))
            server.stream(Methods.Scheduler.generate.name) { _, _, writer in
                for index in 0..<total {
                    try await writer.send(GenerateEvent(requestID: "r", event: .token(GenerateToken(tokenID: 1, index: UInt32(index)))).encode())
                    sent.add(1, ordering: .relaxed)
                }
            }
            let port = try server.start(host: "127.0.0.1", port: 0)
            var config = TransportConfig()
            config.streamWindowBytes = 256   // a few dozen token events ahead, no more
            let client = ServiceClient(host: "127.0.0.1", port: port, config: config, reconnect: .never)
            var taken = 0, ahead = 0
            for try await _ in client.generate(GenerateRequest(promptTokenIDs: [1], maxTokens: 8, requestID: "r"), retry: .never) {
                taken += 1
                guard taken == 10 else { continue }
                // The consumer stops reading for a while, its stream still open: the server must stop too.
                try await Task.sleep(for: TestTime.scaled(.milliseconds(500)))
                ahead = sent.load(ordering: .relaxed) - taken
                break
            }
            // An event is ~10 bytes: the window lets a few dozen ahead; unbounded buffering lets all 5,000.
            #expect(ahead < 100, "the server sent \(ahead) events ahead of a consumer that took \(taken)")
            #expect(server.stats.streamWindowWaits > 0, "the server's sends waited for the client's window")
            #expect(client.connection.stats.maxStreamBufferedBytes <= UInt64(config.streamWindowBytes) + 64)
            await client.close()
            await server.shutdown(timeout: .seconds(1))
        }
    }
}
