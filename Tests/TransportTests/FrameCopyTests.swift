import LatticeTesting
import Testing
@testable import Transport
import Wire

/// How often the framing copies a frame's bytes: whole frames are handed out from the read
/// buffer itself, and the rest of a large frame is read straight into the decoder.
@Suite("Frame copies")
struct FrameCopyTests {
    @Test func wholeFramesAreHandedOutFromTheReadBufferItself() throws {
        let bodies: [[UInt8]] = [Array(repeating: 1, count: 10), [], Array(repeating: 3, count: 300)]
        let stream = bodies.flatMap { frame($0) } + frame(Array(repeating: 9, count: 50)).prefix(20)
        var decoder = FrameDecoder(maxFrameBytes: 4096)
        var seen: [[UInt8]] = []
        var inPlace = 0
        try stream.withUnsafeBytes { chunk in
            let range = UInt(bitPattern: chunk.baseAddress!)..<UInt(bitPattern: chunk.baseAddress! + chunk.count)
            try decoder.takeFrames(from: chunk, limit: { 4096 }) { body in
                seen.append(Array(body))
                if body.isEmpty || range.contains(UInt(bitPattern: body.baseAddress!)) { inPlace += 1 }
            }
        }
        #expect(seen == bodies)
        #expect(inPlace == 3, "every whole frame came straight from the chunk")
        #expect(decoder.bufferedBytes == 20 && decoder.copiedBytes == 20, "only the partial frame was copied")
    }

    @Test func aReaderThatPushesBackKeepsTheRestForLater() throws {
        let stream = [[1], [2], [3]].flatMap { frame($0) }
        var decoder = FrameDecoder(maxFrameBytes: 64)
        var seen: [[UInt8]] = []
        try stream.withUnsafeBytes { chunk in
            try decoder.takeFrames(from: chunk, limit: { seen.isEmpty ? 64 : nil }) { seen.append(Array($0)) }
        }
        #expect(seen == [[1]])
        while let body = try decoder.next() { seen.append(body) }
        #expect(seen == [[1], [2], [3]])
        #expect(throws: FrameError.tooLarge(length: 65, max: 64)) {
            try frame(Array(repeating: 0, count: 65)).withUnsafeBytes { chunk in
                var fresh = FrameDecoder(maxFrameBytes: 64)
                try fresh.takeFrames(from: chunk, limit: { 64 }) { _ in Issue.record("no frame expected") }
            }
        }
    }

    /// A 1 MiB frame as a socket delivers it: a first read into the shared buffer, the rest read
    /// straight into the decoder. Bytes copied: the first read's share only.
    @Test func aLargeFrameIsReadStraightIntoTheDecoder() throws {
        let body = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let stream = frame(body)
        var decoder = FrameDecoder(maxFrameBytes: 4 << 20)
        let firstRead = 64 << 10
        try stream.withUnsafeBytes { all in
            try decoder.takeFrames(from: UnsafeRawBufferPointer(rebasing: all[0..<firstRead]), limit: { 4 << 20 }) { _ in
                Issue.record("the frame is not complete yet")
            }
            var offset = firstRead
            var reads = 0
            while let space = decoder.readSpace() {
                let count = min(space.count, all.count - offset)
                space.copyMemory(from: UnsafeRawBufferPointer(rebasing: all[offset..<(offset + count)]))   // the kernel's copy
                decoder.didRead(count)
                offset += count
                reads += 1
            }
            #expect(offset == all.count, "readSpace asked for exactly the rest of the frame")
            #expect(reads <= 5, "\(reads) reads")
        }
        #expect(try decoder.next() == body)
        #expect(decoder.copiedBytes == firstRead, "copied \(decoder.copiedBytes) bytes of a \(stream.count)-byte frame")
    }

    @Test func directReadsGrowWithWhatArrivedNotWithTheAnnouncedLength() {
        var decoder = FrameDecoder(maxFrameBytes: 64 << 20)
        decoder.append([0x03, 0xC0, 0, 0] + Array(repeating: 1, count: 10))
        let space = decoder.readSpace()
        #expect((space?.count ?? .max) <= 256 << 10, "space: \(String(describing: space?.count))")
        #expect(decoder.bufferedCapacity <= 512 << 10, "capacity \(decoder.bufferedCapacity)")
        var small = FrameDecoder(maxFrameBytes: 64 << 20)
        small.append([0, 0, 0x10, 0])   // 4 KiB pending: cheaper through the shared buffer
        #expect(small.readSpace() == nil)
    }
}

/// A message packed straight into its request frame arrives intact, and the frame is the one
/// `encode()` plus the envelope would have made.
@Suite("Messages packed into frames", .serialized, .timeLimit(.minutes(TestTime.minutes(1))))
struct PackedMessageTests {
    @Test func aPackedMessageFrameEqualsTheEncodedOne() {
        let message = ForwardResponse(accepted: 3, kvUsedEntries: 70_000)
        let envelope = Envelope(callID: 42, method: "x/Health", deadlineMs: 900)
        var withPayload = envelope
        withPayload.payload = message.encode()
        let packed = message.withPacker { size, pack in
            EnvelopeCodec.frame(envelope, payloadCount: size) { pack($0.baseAddress!) }
        }
        #expect(packed.array == EnvelopeCodec.frame(withPayload).array)
    }

    @Test func aForwardSentAsAMessageArrivesIntact() async throws {
        let hidden = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let request = ForwardRequest(items: [ForwardItem(
            requestID: "r", positions: Array(0..<128), hidden: HiddenStates(data: hidden, dtype: .float32, shape: [128, 2048]),
            start: 1, end: 2)])
        let (server, port) = try startServer { server in
            server.unary("test/Forward") { payload, _ in
                let got = try ForwardRequest(wire: payload)
                return bytes(got == request ? "same" : "different")
            }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        let answer = try await within(20, "1 MiB Forward") { try await connection.call("test/Forward", message: request) }
        #expect(text(answer) == "same")
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }
}

/// Issue 13: a worker-to-worker Forward carries its hidden state with one user-space copy on
/// each side besides the kernel's: packed straight into the request frame on the way out, and
/// decoded straight from the frame into the handler's message on the way in.
@Suite("Payload copies end to end", .serialized, .timeLimit(.minutes(TestTime.minutes(1))))
struct PayloadCopyTests {
    @Test func aOneMiBHiddenStateForwardIsCopiedOnceEachWay() async throws {
        let hidden = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let request = ForwardRequest(items: [ForwardItem(
            requestID: "r", positions: Array(0..<128), hidden: HiddenStates(data: hidden, dtype: .float32, shape: [128, 2048]),
            start: 1, end: 2)])
        let (server, port) = try startServer { server in
            server.unary("test/Forward", decoding: ForwardRequest.self) { got, _ in
                bytes(got == request ? "same" : "different")
            }
        }
        let connection = Connection(host: "127.0.0.1", port: port)
        _ = try await within(20, "warm-up call") { try await connection.call("test/Echo", [1]) }
        let bound = 2 * hidden.count + largeFrameReadSlack + 4096
        let copied = try await leastPayloadCopies(enough: bound) {
            let answer = try await within(20, "1 MiB Forward") { try await connection.call("test/Forward", message: request) }
            #expect(text(answer) == "same")
        }
        // One copy out (the packing) and one in (protobuf-c's, into the message's own array),
        // besides what reads into the loop's shared buffer moved to the connection's decoder
        // (`largeFrameReadSlack`); the envelope and message headers are a few hundred bytes.
        #expect(copied <= bound, "copied \(copied) bytes for a \(hidden.count)-byte hidden state (\(Double(copied) / Double(hidden.count)) copies)")
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    /// A large payload given as an array (a raw call's request, a handler's answer) is not
    /// copied into its frame: the frame keeps the array and writes it in place, same bytes.
    @Test func aLargePayloadStaysInItsArrayAndTheFrameBytesAreTheSame() async throws {
        let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 11) }
        let envelope = Envelope(callID: 300, method: "test/Echo", payload: payload, status: Status(.notFound, "after the payload"),
                                deadlineMs: 1234, endOfStream: true, kind: .response)
        var frame = EnvelopeCodec.frame(envelope)
        let copied = try await leastPayloadCopies { frame = EnvelopeCodec.frame(envelope) }
        #expect(copied == 0, "the payload was copied into the frame")
        let tailAddress = frame.tail?.withUnsafeBytes { $0.baseAddress }
        #expect(tailAddress != nil && tailAddress == payload.withUnsafeBytes { $0.baseAddress }, "the frame holds the payload's own array")
        let body = Array(frame.array.dropFirst(4))
        #expect(body == envelope.encode(), "same bytes as protobuf-c, the fields after the payload included")
        #expect(try EnvelopeCodec.decode(body) == envelope)
        var pieces: [[UInt8]] = []
        frame.forEachPiece(skipping: 10) { pieces.append(Array(UnsafeRawBufferPointer(start: $0, count: $1))) }
        #expect(pieces.flatMap { $0 } == Array(frame.array.dropFirst(10)), "pieces after a partial send")
        #expect(pieces.count == 3 && pieces[1].count == payload.count)
    }

    /// A 1 MiB raw echo: the payload goes out from the caller's array and from the handler's
    /// answer in place; copied only into the handler's request and the caller's answer (arrays
    /// of their own), besides what reads put into the loop's shared buffer (`largeFrameReadSlack` a frame).
    @Test func aOneMiBEchoIsCopiedOnlyIntoTheArraysHandedOver() async throws {
        let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 17) }
        let (server, port) = try startServer()
        let connection = Connection(host: "127.0.0.1", port: port)
        _ = try await within(20, "warm-up call") { try await connection.call("test/Echo", [1]) }
        let bound = 2 * payload.count + 2 * largeFrameReadSlack + 4096
        let copied = try await leastPayloadCopies(enough: bound) {
            let answer = try await within(20, "1 MiB echo") { try await connection.call("test/Echo", payload) }
            #expect(answer == payload)
        }
        #expect(copied <= bound, "copied \(copied) bytes for a \(payload.count)-byte echo (\(Double(copied) / Double(payload.count)) copies)")
        await connection.close()
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func aLargeBytesFieldIsDecodedIntoItsOwnArrayOnce() async throws {
        let states = HiddenStates(data: (0..<(256 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 5) }, dtype: .float32, shape: [64, 1024])
        let wire = states.encode()
        let copied = try await leastPayloadCopies(enough: states.data.count) {
            let decoded = try wire.withUnsafeBytes { try HiddenStates(borrowing: $0) }
            #expect(decoded == states)
        }
        #expect(copied == states.data.count, "one copy of the field, none of the frame")
    }
}
