import Client
import Foundation
import LatticeTesting
import Testing

extension Integration {
    /// Issue 2's bad-input list against a real service process. Each case also checks that a
    /// well-behaved client on another connection keeps getting answers throughout.
    @Suite(.timeLimit(.minutes(TestTime.minutes(1))))
    struct BadInputTests {
        /// Starts placement, runs `misbehave` while a well-behaved client calls Health, then checks
        /// that client was served and the server's connections went back to what they were.
        func againstPlacement(
            arguments: [String] = [], _ misbehave: @escaping @Sendable (TestService) async throws -> Void
        ) async throws {
            try await LatticeTesting.withService(.placement, arguments: arguments) { running in
                let good = WellBehavedClient(running)
                let observer = running.client()
                try await Task.sleep(for: .milliseconds(50))
                let before = try await observer.stats(.placement)

                try await misbehave(running)

                let outcome = await good.finish()
                #expect(outcome.failures.isEmpty, "the well-behaved client was not served: \(outcome.failures.prefix(3))")
                #expect(outcome.answered > 0)
                // Abandoned connections must not linger on the server.
                var after = try await observer.stats(.placement)
                let deadline = ContinuousClock.now + TestTime.scaled(.seconds(5))
                while after.connectionsOpen > before.connectionsOpen && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                    after = try await observer.stats(.placement)
                }
                #expect(after.connectionsOpen <= before.connectionsOpen, "connections before \(before.connectionsOpen), after \(after.connectionsOpen)")
                await observer.close()
            }
        }

        @Test func garbageBytesGetAStatusAndAClosedConnection() async throws {
            try await againstPlacement { running in
                let port = running.port
                // A frame whose body is not an Envelope (0xFF is no valid protobuf tag).
                let notAnEnvelope = try await blocking {
                    let socket = try RawSocket(port: port)
                    socket.send(frame([UInt8](repeating: 0xFF, count: 60)))
                    return try socket.readUntilClosed()
                }
                #expect(notAnEnvelope.closed && !notAnEnvelope.timedOut)
                #expect(notAnEnvelope.envelopes.first?.status?.code == .invalidArgument)
                #expect(notAnEnvelope.envelopes.first?.status?.message.contains("not a lattice.v1.Envelope") == true)

                // An HTTP request: "GET " read as a length is over a gigabyte.
                let http = try await blocking {
                    let socket = try RawSocket(port: port)
                    socket.send(Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
                    return try socket.readUntilClosed()
                }
                #expect(http.closed && !http.timedOut)
                #expect(http.envelopes.first?.status?.code == .resourceExhausted)

                let stats = try await running.client().stats(.placement)
                #expect((stats[extra: "protocol_errors"] ?? 0) >= 2)
            }
        }

        @Test func lengthPrefixOverTheMaximumIsRefusedBeforeReading() async throws {
            try await againstPlacement(arguments: ["--max-frame-bytes", "4096"]) { running in
                let port = running.port
                for length in [UInt32(4097), UInt32.max] {
                    let reply = try await blocking {
                        let socket = try RawSocket(port: port)
                        // Only the prefix: the server must refuse without waiting for the body.
                        socket.send(withUnsafeBytes(of: length.bigEndian) { Array($0) })
                        return try socket.readUntilClosed()
                    }
                    #expect(reply.closed && !reply.timedOut, "length \(length)")
                    #expect(reply.envelopes.first?.status?.code == .resourceExhausted, "length \(length)")
                    #expect(reply.envelopes.first?.status?.message.contains("4096") == true, "\(String(describing: reply.envelopes.first?.status))")
                }
                // A frame just under the limit is still served on a fresh connection, and Stats
                // counts the two refused frames as such.
                let client = running.client()
                #expect(try await client.health(.placement).status == .serving)
                let stats = try await client.stats(.placement)
                #expect(stats[extra: "frames_too_large"] == 2)
                await client.close()
            }
        }

        @Test func frameCutOffMidwayThenClosed() async throws {
            try await againstPlacement { running in
                let port = running.port
                let request = frame(Envelope(callID: 1, method: "placement/Health", payload: HealthRequest().encode()).encode())
                try await blocking {
                    for cut in [1, 3, 4, request.count / 2, request.count - 1] {
                        let socket = try RawSocket(port: port)
                        socket.send(Array(request[..<cut]))
                        if cut % 2 == 1 { socket.abort() }  // half of them reset, half close politely
                    }
                }
            }
        }

        @Test func unknownMethodAnswersUnimplemented() async throws {
            try await againstPlacement { running in
                let port = running.port
                let reply = try await blocking {
                    let socket = try RawSocket(port: port)
                    socket.send(Envelope(callID: 77, method: "placement/NoSuchMethod"))
                    return try socket.readUntilClosed()
                }
                let answer = try #require(reply.envelopes.first)
                #expect(answer.callID == 77)
                #expect(answer.status?.code == .unimplemented)
                #expect(answer.status?.message.contains("placement/NoSuchMethod") == true)
                #expect(reply.closed)

                let client = running.client()
                await #expect(throws: Status.self) { _ = try await client.connection.call("scheduler/Generate", []) }
                do {
                    _ = try await client.connection.call("placement/Plan", [])
                } catch let status as Status {
                    // placement/Plan is served now: an empty request has no cluster.
                    #expect(status.code == .invalidArgument || status.code == .unavailable, "\(status)")
                }
                await client.close()
            }
        }

        @Test func payloadThatDoesNotDecodeAnswersInvalidArgumentAndCloses() async throws {
            try await againstPlacement { running in
                let port = running.port
                // A varint field cut off: no HealthRequest decodes from it. The answer names the
                // message, then the connection closes (the peer speaks another protocol).
                let reply = try await blocking {
                    let socket = try RawSocket(port: port)
                    socket.send(Envelope(callID: 5, method: "placement/Health", payload: [0x08]))
                    return try socket.readUntilClosed()
                }
                let bad = reply.envelopes.first
                #expect(bad?.callID == 5)
                #expect(bad?.status?.code == .invalidArgument)
                #expect(bad?.status?.message.contains("HealthRequest") == true)
                #expect(reply.closed)

                let client = running.client()
                do {
                    _ = try await client.connection.call("placement/Stats", [0xFF, 0xFF, 0xFF])
                    Issue.record("an undecodable Stats request was answered")
                } catch let status as Status {
                    #expect(status.code == .invalidArgument)
                }
                await client.close()
            }
        }

        @Test func fiveHundredConnectionsOpenedAndAbandoned() async throws {
            try await againstPlacement { running in
                let port = running.port
                let opened = try await blocking {
                    var sockets: [RawSocket] = []
                    for index in 0..<500 {
                        let socket = try RawSocket(port: port)
                        if index % 3 == 1 { socket.send([0, 0]) }       // half a length prefix
                        if index % 3 == 2 { socket.abort() }            // will reset on close
                        sockets.append(socket)
                    }
                    let count = sockets.count
                    sockets.removeAll()  // every socket closes here, without a word
                    return count
                }
                #expect(opened == 500)
            }
        }
    }
}
