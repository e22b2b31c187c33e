import Foundation
import Tensor

/// A Hugging Face model directory: `config.json` plus one `model.safetensors` or shards listed in
/// `model.safetensors.index.json`. Files are memory-mapped; tensors are converted on request.
public final class ModelDirectory {
    public let path: String
    public let config: LlamaConfig
    private var files: [String: SafeTensorsFile] = [:]
    private let locations: [String: String]   // tensor name -> file name

    public init(path: String) throws {
        self.path = path
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw WorkerError.badModel("\(path) is not a directory; create a model with `lattice model init \(path)`")
        }
        let configPath = (path as NSString).appendingPathComponent("config.json")
        guard let configData = fm.contents(atPath: configPath) else {
            throw WorkerError.badModel("\(configPath) is missing")
        }
        config = try LlamaConfig.parse(configData, source: configPath)

        let indexPath = (path as NSString).appendingPathComponent("model.safetensors.index.json")
        var locations: [String: String] = [:]
        if let indexData = fm.contents(atPath: indexPath) {
            guard let object = try? JSONSerialization.jsonObject(with: indexData) as? [String: Any],
                  let map = object["weight_map"] as? [String: String] else {
                throw WorkerError.badModel("\(indexPath): expected an object with a 'weight_map' of tensor name to file name")
            }
            for file in Set(map.values) where file.contains("/") || file.hasPrefix(".") {
                throw WorkerError.badModel("\(indexPath): shard name '\(file)' must be a plain file name in the model directory")
            }
            locations = map
        } else {
            let single = "model.safetensors"
            guard fm.fileExists(atPath: (path as NSString).appendingPathComponent(single)) else {
                throw WorkerError.badModel("\(path) has neither model.safetensors nor model.safetensors.index.json")
            }
            let file = try SafeTensorsFile(path: (path as NSString).appendingPathComponent(single))
            files[single] = file
            for name in file.entries.keys { locations[name] = single }
        }
        self.locations = locations
    }

    public func has(_ name: String) -> Bool { locations[name] != nil }

    /// The named tensor as Float32, checked against the expected shape.
    public func tensor(_ name: String, shape expected: [Int]) throws -> Tensor {
        guard let fileName = locations[name] else { throw WorkerError.badModel("\(path): tensor '\(name)' is missing") }
        let file: SafeTensorsFile
        if let open = files[fileName] { file = open } else {
            file = try SafeTensorsFile(path: (path as NSString).appendingPathComponent(fileName))
            files[fileName] = file
        }
        let tensor = try file.tensor(name)
        guard tensor.shape == expected else {
            throw WorkerError.badModel("\(path): tensor '\(name)' has shape \(tensor.shape), config.json implies \(expected)")
        }
        return tensor
    }
}
