// libFuzzer target: the frame decoder, fed the input in two chunks (split at its first byte).
@testable import Transport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var decoder = FrameDecoder(maxFrameBytes: 4096)
    let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    for chunk in [bytes[..<cut], bytes[cut...]] {
        decoder.append(Array(chunk))
        while let frame = try? decoder.next() {
            precondition(frame.count <= 4096, "a frame over the maximum came out")
        }
    }
    return 0
}
