import Foundation

/// How rotary frequencies are stretched for long contexts (`rope_scaling` in config.json).
public enum RopeScaling: Equatable, Sendable {
    case none
    /// Positions divided by `factor`.
    case linear(factor: Double)
    /// Llama 3.x: low frequencies divided by `factor`, high ones kept, a smooth ramp between.
    case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContext: Double)
}

/// The fields of a Hugging Face Llama-family `config.json` that the forward needs.
public struct LlamaConfig: Equatable, Sendable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var vocabSize: Int
    public var rmsNormEpsilon: Float
    public var ropeTheta: Double
    public var ropeScaling: RopeScaling
    public var tieWordEmbeddings: Bool
    public var maxPositions: Int

    public init(hiddenSize: Int, intermediateSize: Int, layerCount: Int, headCount: Int, kvHeadCount: Int,
                vocabSize: Int, headDim: Int? = nil, rmsNormEpsilon: Float = 1e-5, ropeTheta: Double = 10_000,
                ropeScaling: RopeScaling = .none, tieWordEmbeddings: Bool = false, maxPositions: Int = 2048) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim ?? (headCount > 0 ? hiddenSize / headCount : 0)
        self.vocabSize = vocabSize
        self.rmsNormEpsilon = rmsNormEpsilon
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.tieWordEmbeddings = tieWordEmbeddings
        self.maxPositions = maxPositions
    }

    public var queryWidth: Int { headCount * headDim }
    public var kvWidth: Int { kvHeadCount * headDim }

    /// Checks the shape relations the forward relies on.
    public func validate() throws {
        func require(_ ok: Bool, _ message: String) throws { if !ok { throw WorkerError.badModel("config.json: \(message)") } }
        try require(hiddenSize > 0 && intermediateSize > 0 && layerCount > 0 && vocabSize > 0, "hidden_size, intermediate_size, num_hidden_layers and vocab_size must be positive")
        try require(headCount > 0 && kvHeadCount > 0, "num_attention_heads and num_key_value_heads must be positive")
        try require(headCount % kvHeadCount == 0, "num_attention_heads (\(headCount)) must be a multiple of num_key_value_heads (\(kvHeadCount))")
        try require(headDim > 0 && headDim % 2 == 0, "head_dim (\(headDim)) must be a positive even number for RoPE")
        try require(ropeTheta > 0, "rope_theta must be positive")
    }

    /// Parses `config.json` text.
    public static func parse(_ data: Data, source: String = "config.json") throws -> LlamaConfig {
        guard let object = try? JSONSerialization.jsonObject(with: data), let json = object as? [String: Any] else {
            throw WorkerError.badModel("\(source) is not a JSON object")
        }
        func int(_ key: String) throws -> Int {
            guard let value = json[key] as? NSNumber else { throw WorkerError.badModel("\(source): missing integer field '\(key)'") }
            return value.intValue
        }
        func optionalNumber(_ key: String) -> NSNumber? { json[key] as? NSNumber }
        if let type = json["model_type"] as? String, !["llama", "mistral"].contains(type) {
            throw WorkerError.badModel("\(source): model_type '\(type)' is not supported; only the Llama family (llama, mistral) is")
        }
        for key in ["attention_bias", "mlp_bias"] where (json[key] as? Bool) == true {
            throw WorkerError.badModel("\(source): '\(key)': true is not supported (Llama projections have no bias)")
        }
        if let act = json["hidden_act"] as? String, act != "silu" {
            throw WorkerError.badModel("\(source): hidden_act '\(act)' is not supported; only silu (SwiGLU)")
        }
        let heads = try int("num_attention_heads")
        let config = LlamaConfig(
            hiddenSize: try int("hidden_size"),
            intermediateSize: try int("intermediate_size"),
            layerCount: try int("num_hidden_layers"),
            headCount: heads,
            kvHeadCount: optionalNumber("num_key_value_heads")?.intValue ?? heads,
            vocabSize: try int("vocab_size"),
            headDim: optionalNumber("head_dim")?.intValue,
            rmsNormEpsilon: optionalNumber("rms_norm_eps")?.floatValue ?? 1e-6,
            ropeTheta: optionalNumber("rope_theta")?.doubleValue ?? 10_000,
            ropeScaling: try parseScaling(json["rope_scaling"], source: source),
            tieWordEmbeddings: (json["tie_word_embeddings"] as? Bool) ?? false,
            maxPositions: optionalNumber("max_position_embeddings")?.intValue ?? 2048)
        try config.validate()
        return config
    }

    private static func parseScaling(_ value: Any?, source: String) throws -> RopeScaling {
        guard let value, !(value is NSNull) else { return .none }
        guard let dict = value as? [String: Any] else { throw WorkerError.badModel("\(source): rope_scaling must be an object or null") }
        let type = (dict["rope_type"] as? String) ?? (dict["type"] as? String) ?? "default"
        let factor = (dict["factor"] as? NSNumber)?.doubleValue ?? 1
        switch type {
        case "default": return .none
        case "linear":
            guard factor > 0 else { throw WorkerError.badModel("\(source): rope_scaling.factor must be positive") }
            return .linear(factor: factor)
        case "llama3":
            guard let low = (dict["low_freq_factor"] as? NSNumber)?.doubleValue,
                  let high = (dict["high_freq_factor"] as? NSNumber)?.doubleValue,
                  let original = (dict["original_max_position_embeddings"] as? NSNumber)?.doubleValue,
                  factor > 0, high > low else {
                throw WorkerError.badModel("\(source): llama3 rope_scaling needs factor, low_freq_factor < high_freq_factor and original_max_position_embeddings")
            }
            return .llama3(factor: factor, lowFrequencyFactor: low, highFrequencyFactor: high, originalContext: original)
        default:
            throw WorkerError.badModel("\(source): rope_scaling type '\(type)' is not supported (supported: default, linear, llama3)")
        }
    }

    /// Rotary inverse frequencies `1/θ^(2i/d)`, with the configured scaling applied.
    public func ropeInverseFrequencies() -> [Float] {
        let half = headDim / 2
        return (0..<half).map { i in
            let base = 1 / pow(ropeTheta, Double(2 * i) / Double(headDim))
            switch ropeScaling {
            case .none: return Float(base)
            case .linear(let factor): return Float(base / factor)
            case .llama3(let factor, let low, let high, let original):
                let wavelength = 2 * Double.pi / base
                let lowWavelength = original / low, highWavelength = original / high
                if wavelength < highWavelength { return Float(base) }
                if wavelength > lowWavelength { return Float(base / factor) }
                let smooth = (original / wavelength - low) / (high - low)
                return Float((1 - smooth) * base / factor + smooth * base)
            }
        }
    }

    /// The `config.json` a Hugging Face loader would accept for this model.
    public func jsonObject() -> [String: Any] {
        var object: [String: Any] = [
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
            "hidden_size": hiddenSize, "intermediate_size": intermediateSize,
            "num_hidden_layers": layerCount, "num_attention_heads": headCount,
            "num_key_value_heads": kvHeadCount, "head_dim": headDim, "vocab_size": vocabSize,
            "rms_norm_eps": Double(rmsNormEpsilon), "rope_theta": ropeTheta,
            "tie_word_embeddings": tieWordEmbeddings, "max_position_embeddings": maxPositions,
            "attention_bias": false, "mlp_bias": false, "torch_dtype": "float32",
            "bos_token_id": 1, "eos_token_id": 2,
        ]
        switch ropeScaling {
        case .none: object["rope_scaling"] = NSNull()
        case .linear(let factor): object["rope_scaling"] = ["rope_type": "linear", "factor": factor]
        case .llama3(let factor, let low, let high, let original):
            object["rope_scaling"] = ["rope_type": "llama3", "factor": factor, "low_freq_factor": low,
                                      "high_freq_factor": high, "original_max_position_embeddings": original]
        }
        return object
    }
}
