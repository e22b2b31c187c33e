import Testing
@testable import Transport
import Wire

/// The transport's direct Envelope codec must agree with protobuf-c (the .proto is the contract).
@Suite("Envelope codec against protobuf-c")
struct EnvelopeCodecTests {
    static func randomEnvelope<G: RandomNumberGenerator>(_ rng: inout G) -> Envelope {
        let methods = ["", "a/B", "placement/Plan", "ü/√", String(repeating: "m", count: 300), "a/B\0hidden", "\0"]
        let status: Status? = Bool.random(using: &rng)
            ? Status(StatusCode.allCases.randomElement(using: &rng) ?? .ok, ["", "why: ✓ \(UInt32.random(in: 0...9999, using: &rng))", "cut\0here"].randomElement(using: &rng) ?? "")
            : nil
        let payloadSize = [0, 1, 127, 128, 300, 20_000].randomElement(using: &rng) ?? 0
        let fill = UInt8.random(in: 0...255, using: &rng)
        return Envelope(
            callID: [0, 1, 127, 128, UInt64.max, UInt64.random(in: 0...UInt64.max, using: &rng)].randomElement(using: &rng) ?? 0,
            method: methods.randomElement(using: &rng) ?? "",
            payload: (0..<payloadSize).map { UInt8(truncatingIfNeeded: $0) &+ fill },
            status: status,
            deadlineMs: Bool.random(using: &rng) ? 0 : UInt64.random(in: 0...1 << 40, using: &rng),
            endOfStream: Bool.random(using: &rng),
            version: [0, 1, 7].randomElement(using: &rng) ?? 1,
            kind: [.request, .response, .cancel, .windowUpdate].randomElement(using: &rng) ?? .request,
            window: [0, 1, 1 << 20, .max].randomElement(using: &rng) ?? 0)
    }

    @Test func agreesWithProtobufCBothWays() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let envelope = Self.randomEnvelope(&rng)
            let framed = EnvelopeCodec.frame(envelope).array
            var decoder = FrameDecoder(maxFrameBytes: 1 << 20)
            var bodies: [[UInt8]] = []
            try decoder.feed(framed) { bodies.append($0) }
            #expect(bodies.count == 1)
            let body = bodies.first ?? []
            // A NUL ends a string in both codecs (protobuf-c's `char *`), in both directions.
            var expected = envelope
            expected.method = String(envelope.method.prefix { $0 != "\0" })
            expected.status?.message = String((envelope.status?.message ?? "").prefix { $0 != "\0" })
            #expect(body == envelope.encode(), "same bytes as protobuf-c")
            #expect(try Envelope(wire: body) == expected, "protobuf-c reads what the codec wrote")
            #expect(try EnvelopeCodec.decode(envelope.encode()) == expected, "the codec reads what protobuf-c wrote")
            #expect(try EnvelopeCodec.decode(body) == expected, "the codec reads what it wrote")
        }
    }

    @Test func badBytesThrowAndNeverCrash() throws {
        var rng = SystemRandomNumberGenerator()
        let good = EnvelopeCodec.frame(Envelope(callID: 9, method: "x/Y", payload: [1, 2, 3], status: Status(.notFound, "no"))).array
        let body = Array(good.dropFirst(4))
        for cut in 0..<body.count {
            let prefix = Array(body.prefix(cut))
            let ours = try? EnvelopeCodec.decode(prefix)
            let theirs = try? Envelope(wire: prefix)
            #expect((ours == nil) == (theirs == nil), "truncated at \(cut): codec and protobuf-c disagree")
        }
        for _ in 0..<2000 {
            let junk = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try? EnvelopeCodec.decode(junk)   // must not crash or hang
        }
        #expect(throws: WireError.self) { try EnvelopeCodec.decode([0x40, 9]) }          // kind 9 does not exist
        #expect(throws: WireError.self) { try EnvelopeCodec.decode([0x12, 5, 0x61]) }    // string runs past the end
        #expect(throws: WireError.self) { try EnvelopeCodec.decode([0x0B]) }             // group wire type
        // A NUL inside a string on the wire (another language's client) ends it, as protobuf-c reads it.
        let withNul: [UInt8] = [0x12, 5, 0x61, 0x2F, 0x42, 0x00, 0x7A]
        #expect(try EnvelopeCodec.decode(withNul).method == "a/B")
        #expect(try Envelope(wire: withNul).method == "a/B")
    }
}
