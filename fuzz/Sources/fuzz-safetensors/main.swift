// libFuzzer target: the safetensors reader (header, offsets, dtypes), through a file as in use,
// reading every tensor it lists. (The GGUF reader has fuzz-gguf.)
import Foundation
@testable import WorkerCore

let path = "/dev/shm/lattice-fuzz-\(getpid()).safetensors"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size)) else { return 0 }
    if let file = try? SafeTensorsFile(path: path) {
        for name in file.entries.keys { _ = try? file.tensor(name) }
    }
    return 0
}
