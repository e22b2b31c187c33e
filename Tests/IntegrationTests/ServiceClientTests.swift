import Client
import LatticeTesting
import Logging
import Testing

extension Integration {
    /// The typed client against an in-process server on loopback: encoding, decoding, statuses, streams.
    @Suite(.timeLimit(.minutes(TestTime.minutes(1))))
    struct ServiceClientTests {
        func withServer(_ register: (Server) -> Void, _ body: (ServiceClient) async throws -> Void) async throws {
            let server = Server(logger: Logger(label: "test"))
            register(server)
            let port = try server.start(host: "127.0.0.1", port: 0)
            let client = ServiceClient(host: "127.0.0.1", port: port, reconnect: .never)
            do {
                try await body(client)
            } catch {
                await client.close()
                await server.shutdown(timeout: .seconds(1))
                throw error
            }
            await client.close()
            await server.shutdown(timeout: .seconds(1))
        }

        @Test func typedUnaryRoundTrip() async throws {
            try await withServer({ server in
                server.unary("test/Double") { payload, _ in
                    let stat = try Stat(wire: payload)
                    return Stat(name: stat.name + "×2", value: stat.value * 2).encode()
                }
            }) { client in
                let answer = try await client.call("test/Double", Stat(name: "x", value: 21), as: Stat.self)
                #expect(answer == Stat(name: "x×2", value: 42))
            }
        }

        @Test func serverStatusReachesTheCaller() async throws {
            try await withServer({ server in
                server.unary("test/Missing") { _, _ in throw Status(.notFound, "no node 'gpu-7' in the cluster") }
            }) { client in
                do {
                    _ = try await client.call("test/Missing", HealthRequest(), as: HealthResponse.self)
                    Issue.record("expected NOT_FOUND")
                } catch let status as Status {
                    #expect(status == Status(.notFound, "no node 'gpu-7' in the cluster"))
                }
            }
        }

        @Test func answerThatDoesNotDecodeIsInternal() async throws {
            try await withServer({ server in
                server.unary("test/Broken") { _, _ in [0xFF, 0xFF] }
            }) { client in
                do {
                    _ = try await client.call("test/Broken", HealthRequest(), as: HealthResponse.self)
                    Issue.record("expected INTERNAL")
                } catch let status as Status {
                    #expect(status.code == .internal)
                    #expect(status.message.contains("HealthResponse"))
                }
            }
        }

        @Test func typedStreamDeliversEveryItemInOrder() async throws {
            try await withServer({ server in
                server.stream("test/Count") { payload, _, writer in
                    let upTo = Int(try Stat(wire: payload).value)
                    for index in 0..<upTo { try await writer.send(Stat(name: "i", value: Double(index)).encode()) }
                }
            }) { client in
                var values: [Double] = []
                for try await item in client.stream("test/Count", Stat(name: "n", value: 50), as: Stat.self) {
                    values.append(item.value)
                }
                #expect(values == (0..<50).map(Double.init))
            }
        }

        @Test func streamItemThatDoesNotDecodeEndsTheStreamWithInternal() async throws {
            try await withServer({ server in
                server.stream("test/Bad") { _, _, writer in
                    try await writer.send(Stat(name: "ok", value: 1).encode())
                    try await writer.send([0xFF])
                }
            }) { client in
                var received: [Stat] = []
                do {
                    for try await item in client.stream("test/Bad", HealthRequest(), as: Stat.self) { received.append(item) }
                    Issue.record("expected INTERNAL")
                } catch let status as Status {
                    #expect(status.code == .internal)
                }
                #expect(received == [Stat(name: "ok", value: 1)])
            }
        }

        @Test func badAddressIsAClearError() {
            #expect(throws: (any Error).self) { try ServiceClient(address: "nohost") }
            #expect(throws: (any Error).self) { try ServiceClient(address: "127.0.0.1:99999") }
        }
    }
}
