import Foundation
import Tensor

/// Writes a deterministic random-weight Llama model in the Hugging Face layout, so that
/// everything runs without a download.
public enum RandomModel {
    /// Writes `config.json` and `model.safetensors` (or `shards` files plus the index) into `directory`.
    public static func write(config: LlamaConfig, seed: UInt64, to directory: String,
                             dtype: SafeTensorsDType = .f32, shards: Int = 1) throws {
        try config.validate()
        guard shards >= 1 else { throw WorkerError.invalidArgument("--shards must be at least 1") }
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw WorkerError.invalidArgument("cannot create \(directory): \(error.localizedDescription)")
        }
        let configData = try JSONSerialization.data(withJSONObject: config.jsonObject(), options: [.prettyPrinted, .sortedKeys])
        try write(configData, to: (directory as NSString).appendingPathComponent("config.json"))

        var rng = SeededGenerator(seed: seed)
        var tensors: [(name: String, tensor: Tensor)] = []
        for (name, shape) in LlamaTensorNames.all(for: config) {
            tensors.append((name, randomTensor(name: name, shape: shape, rng: &rng)))
        }
        if shards == 1 {
            try SafeTensorsFile.write(tensors, dtype: dtype, to: (directory as NSString).appendingPathComponent("model.safetensors"))
            return
        }
        var weightMap: [String: String] = [:]
        let perShard = (tensors.count + shards - 1) / shards
        for s in 0..<shards {
            let part = Array(tensors[min(s * perShard, tensors.count)..<min((s + 1) * perShard, tensors.count)])
            let name = String(format: "model-%05d-of-%05d.safetensors", s + 1, shards)
            try SafeTensorsFile.write(part, dtype: dtype, to: (directory as NSString).appendingPathComponent(name))
            for (tensorName, _) in part { weightMap[tensorName] = name }
        }
        let total = tensors.reduce(0) { $0 + $1.tensor.count * dtype.byteWidth }
        let index: [String: Any] = ["metadata": ["total_size": total], "weight_map": weightMap]
        try write(try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys]),
                  to: (directory as NSString).appendingPathComponent("model.safetensors.index.json"))
    }

    /// Norm weights near 1; matrices uniform with variance 1/fan-in so activations keep their scale
    /// and logits are spread enough that greedy choices are not near-ties.
    static func randomTensor(name: String, shape: [Int], rng: inout SeededGenerator) -> Tensor {
        let count = shape.reduce(1, *)
        let isNorm = name.hasSuffix("norm.weight")
        let isEmbedding = name == LlamaTensorNames.embedding
        let bound: Float = isNorm ? 0.1 : isEmbedding ? 1 : (3 / Float(shape.last ?? 1)).squareRoot()
        let center: Float = isNorm ? 1 : 0
        return Tensor(shape: shape) { out in
            for i in 0..<count { out[i] = center + bound * (2 * rng.unit() - 1) }
        }
    }

    private static func write(_ data: Data, to path: String) throws {
        do { try data.write(to: URL(fileURLWithPath: path)) } catch {
            throw WorkerError.invalidArgument("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
