import CProtobufC
import Testing
import Wire

/// Encoding copies a `bytes` field once: from its array straight into the packed output.
@Suite("Packing without intermediate copies")
struct PackingTests {
    @Test func bytesFieldsPointAtTheArraysOwnStorage() {
        let data = (0..<4096).map { UInt8(truncatingIfNeeded: $0) }
        let arena = WireArena()
        let field = arena.bytes(data)
        let base = data.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
        #expect(field.len == data.count)
        #expect(UnsafeRawPointer(field.data) == base, "the arena copied the bytes instead of pointing at them")
        #expect(arena.bytes([]).len == 0)
    }

    @Test func packingInPlaceWritesWhatEncodeWrites() throws {
        let hidden = (0..<(256 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let request = ForwardRequest(items: [ForwardItem(
            requestID: "r1", positions: [0, 1, 2], hidden: HiddenStates(data: hidden, dtype: .float32, shape: [32, 2048]),
            start: 4, end: 8, replyTo: "127.0.0.1:1")])
        let encoded = request.encode()
        let packed = request.withPacker { size, pack -> [UInt8] in
            var out = [UInt8](repeating: 0xEE, count: size + 2)   // a guard byte each side
            out.withUnsafeMutableBytes { pack($0.baseAddress! + 1) }
            #expect(out.first == 0xEE && out.last == 0xEE, "wrote outside the \(size) bytes it announced")
            return Array(out[1...size])
        }
        #expect(packed == encoded)
        #expect(try ForwardRequest(wire: packed) == request)
    }
}
