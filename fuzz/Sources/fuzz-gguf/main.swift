// libFuzzer target: the GGUF reader (header, metadata, tensor infos), the llama hyperparameters,
// the tokenizer in the metadata (encoding a fixed text) and every tensor's dequantization,
// through a file as in use.
import Foundation
@testable import WorkerCore

let path = "/dev/shm/lattice-fuzz-\(getpid()).gguf"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size)) else { return 0 }
    guard let file = try? GGUFFile(path: path) else { return 0 }
    _ = try? GGUFModel.config(of: file)
    if let tokenizer = try? Tokenizers.load(gguf: file), let ids = try? tokenizer.encodePrompt("Hé <s> 日本 🙂 \n  x") {
        _ = tokenizer.decode(ids)
    }
    for info in file.tensors.values {
        var out = [Float](repeating: 0, count: info.elementCount)
        file.withBytes(of: info) { raw in
            out.withUnsafeMutableBufferPointer { info.type.dequantize(raw.baseAddress!, count: info.elementCount, into: $0.baseAddress!) }
        }
    }
    return 0
}
