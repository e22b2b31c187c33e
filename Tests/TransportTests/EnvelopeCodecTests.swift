import DeterministicRandom
import Testing
@testable import Transport
import Wire

/// The transport's direct Envelope codec must agree with protobuf-c (the .proto is the contract).
@Suite("Envelope codec against protobuf-c")
struct EnvelopeCodecTests {
    /// Any string, often with NULs in it (which protobuf-c's `char *` cannot carry past).
    static func randomString<G: RandomNumberGenerator>(_ rng: inout G) -> String {
        let pieces = ["\0", "a", "/", "B", "ü", "√", "✓", "🚀", " ", "\n", "é"]
        let count = [0, 1, 2, 5, 40, 300].randomElement(using: &rng) ?? 0
        return (0..<count).map { _ in pieces.randomElement(using: &rng) ?? "" }.joined()
    }

    static func randomEnvelope<G: RandomNumberGenerator>(_ rng: inout G) -> Envelope {
        let status: Status? = Bool.random(using: &rng)
            ? Status(StatusCode.allCases.randomElement(using: &rng) ?? .ok, randomString(&rng))
            : nil
        let payloadSize = [0, 1, 127, 128, 300, 20_000].randomElement(using: &rng) ?? 0
        let fill = UInt8.random(in: 0...255, using: &rng)
        return Envelope(
            callID: [0, 1, 127, 128, UInt64.max, UInt64.random(in: 0...UInt64.max, using: &rng)].randomElement(using: &rng) ?? 0,
            method: randomString(&rng),
            payload: (0..<payloadSize).map { UInt8(truncatingIfNeeded: $0) &+ fill },
            status: status,
            deadlineMs: Bool.random(using: &rng) ? 0 : UInt64.random(in: 0...UInt64.max >> UInt64.random(in: 0...63, using: &rng), using: &rng),
            endOfStream: Bool.random(using: &rng),
            version: [0, 1, UInt32.max, UInt32.random(in: 0...UInt32.max, using: &rng)].randomElement(using: &rng) ?? 1,
            kind: [.request, .response, .cancel, .windowUpdate].randomElement(using: &rng) ?? .request,
            window: [0, 1, 1 << 20, .max, UInt32.random(in: 0...UInt32.max, using: &rng)].randomElement(using: &rng) ?? 0)
    }

    @Test func agreesWithProtobufCBothWays() throws {
        // A seeded generator, not SystemRandomNumberGenerator: an `inout` of that empty struct
        // crashes ThreadSanitizer's access check (a SEGV in __tsan::MemoryAccess on its bogus address).
        var rng = SplitMix64(seed: 0x1A77_1CE5)
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

    /// A peer in another language may send a NUL inside a string: both codecs read up to it.
    @Test func stringsWithNulOnTheWireReadTheSameInBoth() throws {
        var rng = SplitMix64(seed: 0x2A77_1CE5)
        for _ in 0..<300 {
            let method = Array(Self.randomString(&rng).utf8), message = Array(Self.randomString(&rng).utf8)
            var status: [UInt8] = [0x08, UInt8.random(in: 0...16, using: &rng)]
            if !message.isEmpty { status += [0x12] + varint(message.count) + message }
            var body: [UInt8] = [0x08, 7]
            if !method.isEmpty { body += [0x12] + varint(method.count) + method }
            body += [0x22] + varint(status.count) + status
            let ours = try? EnvelopeCodec.decode(body), theirs = try? Envelope(wire: body)
            #expect(ours == theirs, "method \(method), status message \(message)")
            #expect(ours?.method.utf8.elementsEqual(method.prefix { $0 != 0 }) == true)
            #expect(ours?.status?.message.utf8.elementsEqual(message.prefix { $0 != 0 }) == true)
        }
    }

    private func varint(_ value: Int) -> [UInt8] {
        var v = UInt64(value), out: [UInt8] = []
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        return out + [UInt8(v)]
    }

    @Test func badBytesThrowAndNeverCrash() throws {
        var rng = SplitMix64(seed: 0x3A77_1CE5)
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
