import Foundation

/// The served model as placement sees it: layers, their size, and bytes per token on the wire.
public struct ModelSpec: Sendable, Equatable {
    public var name: String
    /// Directory name of this model's GPU profiles (e.g. `llama2_70b`).
    public var profileName: String
    public var numLayers: Int
    public var hiddenSize: Int
    public var layerParamBytes: Double
    public var dtypeBytes: Int = 2
    /// A token id on the wire (source and sink links).
    public var tokenSize: Double = 2

    /// A hidden-state vector on the wire (node-to-node links).
    public var activationSize: Double { Double(hiddenSize * dtypeBytes) }

    public init(name: String, profileName: String, numLayers: Int, hiddenSize: Int, layerParamBytes: Double) {
        self.name = name
        self.profileName = profileName
        self.numLayers = numLayers
        self.hiddenSize = hiddenSize
        self.layerParamBytes = layerParamBytes
    }

    public static let llama2_70b = ModelSpec(name: "llama2-70b", profileName: "llama2_70b", numLayers: 80, hiddenSize: 8192, layerParamBytes: 1.53e9)
    public static let llama1_30b = ModelSpec(name: "llama1-30b", profileName: "llama1_30b", numLayers: 60, hiddenSize: 6656, layerParamBytes: 1.0e9)

    static let known: [String: ModelSpec] = [
        "llama2-70b": .llama2_70b, "llama2_70b": .llama2_70b, "llama-2-70b": .llama2_70b, "70b": .llama2_70b,
        "llama1-30b": .llama1_30b, "llama1_30b": .llama1_30b, "llama-30b": .llama1_30b, "30b": .llama1_30b,
    ]

    /// A model by name (`llama2-70b`, `llama1-30b`) or by a Hugging Face `config.json` path.
    public static func resolve(_ nameOrPath: String) throws -> ModelSpec {
        if let model = known[nameOrPath.lowercased()] { return model }
        if nameOrPath.hasSuffix(".json") { return try fromConfig(path: nameOrPath) }
        throw PlacementError(field: "model", "unknown model '\(nameOrPath)'; use llama2-70b, llama1-30b or a config.json path")
    }

    /// Reads `num_hidden_layers`, `hidden_size`, `intermediate_size`, attention heads and vocab size
    /// and estimates bytes per layer (fp16). Profiles are looked up under the directory name
    /// `profile_name` if the file has one, else the file's parent directory name.
    public static func fromConfig(path: String) throws -> ModelSpec {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PlacementError(file: path, "cannot read the file (does it exist?)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let config = object as? [String: Any] else {
            throw PlacementError(file: path, "not a JSON object")
        }
        func int(_ key: String) throws -> Int {
            guard let value = config[key] as? Int, value > 0 else {
                throw PlacementError(file: path, field: key, "missing or not a positive integer")
            }
            return value
        }
        let layers = try int("num_hidden_layers")
        let hidden = try int("hidden_size")
        let intermediate = try int("intermediate_size")
        let heads = try int("num_attention_heads")
        let kvHeads = (config["num_key_value_heads"] as? Int) ?? heads
        let headDim = hidden / heads
        let attention = hidden * hidden * 2 + hidden * kvHeads * headDim * 2
        let mlp = 3 * hidden * intermediate
        let profile = (config["profile_name"] as? String) ?? URL(fileURLWithPath: path).deletingLastPathComponent().lastPathComponent
        let name = (config["_name_or_path"] as? String) ?? profile
        return ModelSpec(name: name, profileName: profile, numLayers: layers, hiddenSize: hidden,
                         layerParamBytes: Double((attention + mlp) * 2))
    }
}
