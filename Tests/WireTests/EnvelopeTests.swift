import Testing
@testable import Wire
import DeterministicRandom

@Suite struct EnvelopeTests {
    @Test func roundTripsEveryField() throws {
        let original = Envelope(
            callID: 42, method: "placement/Plan", payload: [1, 2, 3, 0, 255],
            status: Status(.invalidArgument, "bad cluster: node 3 has unknown GPU type 'X100'"),
            deadlineMs: 1500, endOfStream: true, kind: .response)
        let decoded = try Envelope(wire: original.encode())
        #expect(decoded == original)
    }

    /// Found by scripts/fuzz (fuzz-envelope): a status code over Int32.max trapped converting it.
    @Test func aStatusCodeOutOfRangeReadsAsUnknown() throws {
        let cases: [([UInt8], StatusCode)] = [([0xff, 0xff, 0xff, 0xff, 0x0f], .unknown), ([0x80, 0x80, 0x80, 0x80, 0x08], .unknown), ([0x10], .unauthenticated)]
        for (varint, expected) in cases {
            let status: [UInt8] = [0x08] + varint
            #expect(try Envelope(wire: [0x22, UInt8(status.count)] + status).status?.code == expected, "\(varint)")
        }
    }

    @Test func roundTripsWithoutStatus() throws {
        let original = Envelope(callID: UInt64.max, method: "", payload: [])
        #expect(try Envelope(wire: original.encode()) == original)
    }

    @Test func garbageDoesNotCrash() {
        var generator = SplitMix64(seed: 0xE4E1)   // seeded: reproducible, and TSan-safe (see EnvelopeCodecTests)
        for length in 0..<300 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? Envelope(wire: bytes)
        }
        let good = Envelope(callID: 7, method: "worker/Forward", payload: Array(repeating: 9, count: 100)).encode()
        for cut in 0..<good.count {
            _ = try? Envelope(wire: Array(good[..<cut]))
        }
    }
}
