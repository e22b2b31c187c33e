// libFuzzer target: the Envelope, through the transport's own decoder and protobuf-c's; what
// either accepts must re-encode and decode to the same value.
@testable import Transport
import Wire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let envelope = try? EnvelopeCodec.decode(bytes) {
        let again = try? EnvelopeCodec.decode(Array(EnvelopeCodec.frame(envelope).array.dropFirst(4)))
        precondition(again == envelope, "an Envelope did not survive re-encoding")
    }
    _ = try? Envelope(wire: bytes)
    return 0
}
