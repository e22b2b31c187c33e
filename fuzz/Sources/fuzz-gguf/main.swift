// libFuzzer target: the GGUF reader (header, metadata, tensor infos, sizes) and the llama
// hyperparameters read from it, through a file as in use, reading every tensor's bytes.
import Foundation
import WorkerCore

let path = "/dev/shm/lattice-fuzz-\(getpid()).gguf"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size)) else { return 0 }
    if let model = try? GGUFModel(path: path) {
        for info in model.file.tensors.values { model.file.withBytes(of: info) { _ = $0.count } }
    } else if let file = try? GGUFFile(path: path) {
        for info in file.tensors.values { file.withBytes(of: info) { _ = $0.count } }
    }
    return 0
}
