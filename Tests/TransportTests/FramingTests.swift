import Testing
@testable import Transport
import Wire

@Suite("Framing and call logic without sockets")
struct FramingTests {
    @Test func framesSplitAnyWayDecodeTheSame() throws {
        let bodies: [[UInt8]] = [[], [1], Array(repeating: 7, count: 1000), bytes("hello")]
        let stream = bodies.flatMap { frame($0) }
        for chunkSize in [1, 2, 3, 5, 64, stream.count] {
            var decoder = FrameDecoder(maxFrameBytes: 4096)
            var out: [[UInt8]] = []
            var index = 0
            while index < stream.count {
                let end = min(index + chunkSize, stream.count)
                try decoder.feed(Array(stream[index..<end])) { out.append($0) }
                index = end
            }
            #expect(out == bodies, "chunk size \(chunkSize)")
            #expect(try decoder.next() == nil)
            #expect(decoder.bufferedBytes == 0)
        }
    }

    @Test func lengthOverMaximumFailsBeforeBuffering() {
        var decoder = FrameDecoder(maxFrameBytes: 1024)
        #expect(throws: FrameError.tooLarge(length: 1025, max: 1024)) {
            try decoder.feed([0, 0, 4, 1, 9, 9]) { _ in }
        }
        var split = FrameDecoder(maxFrameBytes: 1024)
        #expect(throws: FrameError.tooLarge(length: 0xFFFF_FFFF, max: 1024)) {
            try split.feed([0xFF, 0xFF]) { _ in }
            try split.feed([0xFF, 0xFF]) { _ in }
        }
        #expect(split.bufferedBytes == 4, "only the prefix was held")
    }

    @Test func aLyingLengthDoesNotAllocateItsSize() throws {
        var decoder = FrameDecoder(maxFrameBytes: 64 << 20)
        try decoder.feed([0x03, 0xC0, 0, 0] + Array(repeating: 1, count: 10)) { _ in Issue.record("no frame expected") }
        #expect(decoder.pendingFrameLength == 60 << 20)
        #expect(decoder.bufferedBytes == 14)
        #expect(decoder.bufferedCapacity < 1 << 16, "capacity \(decoder.bufferedCapacity) grew with the announced length")
    }

    @Test func endpointsParseWithClearErrors() throws {
        #expect(try Endpoint(parsing: "127.0.0.1:7000") == Endpoint(host: "127.0.0.1", port: 7000))
        #expect(try Endpoint(parsing: "[::1]:80") == Endpoint(host: "::1", port: 80))
        #expect(try Endpoint(parsing: "localhost:0").description == "localhost:0")
        #expect(try Endpoint(parsing: "[::1]:80").description == "[::1]:80")
        for bad in ["localhost", "host:http", ":80", "host:70000", "[::1", "::1:80", ""] {
            #expect(throws: EndpointError.self, "\(bad)") { try Endpoint(parsing: bad) }
        }
        #expect {
            try Endpoint(parsing: "host:99999")
        } throws: { error in
            "\(error)".contains("0...65535")
        }
    }

    @Test func backoffDoublesUpToTheCapWithJitter() {
        let policy = ReconnectPolicy(initialDelay: .milliseconds(50), maxDelay: .seconds(2))
        #expect(policy.delay(beforeRetry: 1, jitter: 1) == .milliseconds(50))
        #expect(policy.delay(beforeRetry: 2, jitter: 1) == .milliseconds(100))
        #expect(policy.delay(beforeRetry: 4, jitter: 1) == .milliseconds(400))
        #expect(policy.delay(beforeRetry: 10, jitter: 1) == .seconds(2))
        #expect(policy.delay(beforeRetry: 100, jitter: 1) == .seconds(2))
        #expect(policy.delay(beforeRetry: 3, jitter: 0.5) == .milliseconds(100))
        #expect(ReconnectPolicy.never.maxAttempts == 1)
    }

    @Test func callTableMatchesAnswersById() async throws {
        var table = CallTable()
        // Five waiting callers; answers arrive out of order and must reach the right one.
        let results = Locked<[UInt64: String]>([:])
        await withTaskGroup(of: Void.self) { group in
            var continuations: [UInt64: UnsafeContinuation<[UInt8], Error>] = [:]
            let ready = AsyncStream<(UInt64, UnsafeContinuation<[UInt8], Error>)>.makeStream()
            for id in UInt64(1)...5 {
                group.addTask {
                    let value = try? await withUnsafeThrowingContinuation { continuation in
                        ready.continuation.yield((id, continuation))
                    }
                    results.withLock { $0[id] = value.map(text) ?? "failed" }
                }
            }
            for await (id, continuation) in ready.stream {
                continuations[id] = continuation
                if continuations.count == 5 { break }
            }
            for id in UInt64(1)...5 {
                guard let continuation = continuations[id] else { Issue.record("no waiter \(id)"); continue }
                table.insert(id, .init(method: "m", waiter: .unary(continuation), request: nil, sentOn: 1))
            }
            #expect(table.count == 5)
            for id in [UInt64(4), 2, 5, 1] {
                let delivered = table.deliver(Envelope(callID: id, method: "", payload: bytes("answer \(id)"), endOfStream: true, kind: .response))
                #expect(delivered)
            }
            let unknown = table.deliver(Envelope(callID: 99, method: "", kind: .response))
            #expect(!unknown, "unknown ids are ignored")
            let failed = table.fail(3, Status(.cancelled))
            #expect(failed == (true, 1), "reports the socket to send CANCEL on")
            #expect(table.isEmpty)
        }
        let got = results.withLock { $0 }
        #expect(got == [1: "answer 1", 2: "answer 2", 3: "failed", 4: "answer 4", 5: "answer 5"])
    }
}
