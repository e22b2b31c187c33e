// libFuzzer target: the cluster parsers, Helix .ini and our JSON (first byte picks which).
import Foundation
@testable import PlacementCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let body = Data(bytes: data + 1, count: size - 1)
    if data[0] % 2 == 0 {
        if let ini = try? IniFile(text: String(decoding: body, as: UTF8.self), path: "fuzz.ini") {
            _ = try? HelixClusterImport.parse(ini, name: "fuzz", machineTypes: MachineType.builtin)
        }
    } else {
        _ = try? ClusterJSON.parse(body, path: "fuzz.json", defaultName: "fuzz")
    }
    return 0
}
