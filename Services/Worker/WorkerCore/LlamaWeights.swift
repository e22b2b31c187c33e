import Tensor

/// Hugging Face tensor names of a Llama checkpoint.
public enum LlamaTensorNames {
    public static let embedding = "model.embed_tokens.weight"
    public static let finalNorm = "model.norm.weight"
    public static let lmHead = "lm_head.weight"
    public static func layer(_ i: Int, _ suffix: String) -> String { "model.layers.\(i).\(suffix)" }
    public static let layerSuffixes = [
        "input_layernorm.weight", "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
        "self_attn.o_proj.weight", "post_attention_layernorm.weight",
        "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight",
    ]

    /// Every tensor of a model with `config`, with its shape, in checkpoint order.
    public static func all(for config: LlamaConfig) -> [(name: String, shape: [Int])] {
        let h = config.hiddenSize, i = config.intermediateSize
        var list: [(String, [Int])] = [(embedding, [config.vocabSize, h])]
        for l in 0..<config.layerCount {
            list += [
                (layer(l, "input_layernorm.weight"), [h]),
                (layer(l, "self_attn.q_proj.weight"), [config.queryWidth, h]),
                (layer(l, "self_attn.k_proj.weight"), [config.kvWidth, h]),
                (layer(l, "self_attn.v_proj.weight"), [config.kvWidth, h]),
                (layer(l, "self_attn.o_proj.weight"), [h, config.queryWidth]),
                (layer(l, "post_attention_layernorm.weight"), [h]),
                (layer(l, "mlp.gate_proj.weight"), [i, h]),
                (layer(l, "mlp.up_proj.weight"), [i, h]),
                (layer(l, "mlp.down_proj.weight"), [h, i]),
            ]
        }
        list.append((finalNorm, [h]))
        if !config.tieWordEmbeddings { list.append((lmHead, [config.vocabSize, h])) }
        return list
    }
}

/// One decoder layer, with Q/K/V and gate/up fused into single matrices so that each is one
/// product (one pass over the activations, fewer calls at batch 1).
struct LayerWeights {
    var inputNorm: Tensor
    var qkv: LinearWeight        // [q + k + v, hidden]
    var output: LinearWeight     // [hidden, q]
    var postNorm: Tensor
    var gateUp: LinearWeight     // [2 · intermediate, hidden]: gate rows, then up rows
    var down: LinearWeight       // [hidden, intermediate]

    var byteCount: Int { (inputNorm.count + postNorm.count) * 4 + qkv.byteCount + output.byteCount + gateUp.byteCount + down.byteCount }
}

/// The weights one pipeline stage needs: layers [start, end), plus the embedding on the first
/// stage and the final norm and LM head on the last.
public struct StageWeights {
    public let config: LlamaConfig
    public let layers: Range<Int>
    var embedding: LinearWeight?
    var decoderLayers: [LayerWeights]
    var finalNorm: Tensor?
    var lmHead: LinearWeight?

    public var isFirst: Bool { layers.lowerBound == 0 }
    public var isLast: Bool { layers.upperBound == config.layerCount }

    /// Bytes of weights held (a tied LM head shares the embedding's).
    public var byteCount: Int {
        let tiedHead = isFirst && config.tieWordEmbeddings
        return decoderLayers.reduce(0) { $0 + $1.byteCount } + (embedding?.byteCount ?? 0) + 4 * (finalNorm?.count ?? 0)
            + (tiedHead ? 0 : lmHead?.byteCount ?? 0)
    }

    /// Loads `layers` from `directory`; `progress(done, total)` is called after each tensor group.
    public static func load(from directory: any WeightSource, layers: Range<Int>,
                            progress: (Int, Int) -> Void = { _, _ in }) throws -> StageWeights {
        let config = directory.config
        guard layers.lowerBound >= 0, layers.upperBound <= config.layerCount, !layers.isEmpty else {
            throw WorkerError.invalidArgument("layer range [\(layers.lowerBound), \(layers.upperBound)) is not inside the model's \(config.layerCount) layers (or is empty)")
        }
        let h = config.hiddenSize, inter = config.intermediateSize
        let total = layers.count + 2
        var done = 0
        let first = layers.lowerBound == 0, last = layers.upperBound == config.layerCount
        var embedding: LinearWeight?
        if first || (last && config.tieWordEmbeddings) {
            embedding = try directory.linear(LlamaTensorNames.embedding, shape: [config.vocabSize, h])
        }
        done += 1; progress(done, total)
        var decoder: [LayerWeights] = []
        for l in layers {
            func load(_ suffix: String, _ shape: [Int]) throws -> LinearWeight {
                try directory.linear(LlamaTensorNames.layer(l, suffix), shape: shape)
            }
            func norm(_ suffix: String) throws -> Tensor { try directory.tensor(LlamaTensorNames.layer(l, suffix), shape: [h]) }
            let q = try load("self_attn.q_proj.weight", [config.queryWidth, h])
            let k = try load("self_attn.k_proj.weight", [config.kvWidth, h])
            let v = try load("self_attn.v_proj.weight", [config.kvWidth, h])
            let gate = try load("mlp.gate_proj.weight", [inter, h])
            let up = try load("mlp.up_proj.weight", [inter, h])
            decoder.append(LayerWeights(
                inputNorm: try norm("input_layernorm.weight"),
                qkv: LinearWeight.stacked([q, k, v]),
                output: try load("self_attn.o_proj.weight", [h, config.queryWidth]),
                postNorm: try norm("post_attention_layernorm.weight"),
                gateUp: LinearWeight.stacked([gate, up]),
                down: try load("mlp.down_proj.weight", [h, inter])))
            done += 1; progress(done, total)
        }
        var finalNorm: Tensor?, lmHead: LinearWeight?
        if last {
            finalNorm = try directory.tensor(LlamaTensorNames.finalNorm, shape: [h])
            if config.tieWordEmbeddings || !directory.has(LlamaTensorNames.lmHead) {
                guard let embedding else { throw WorkerError.badModel("\(directory.path): no lm_head.weight and no embedding to tie it to") }
                lmHead = embedding
            } else {
                lmHead = try directory.linear(LlamaTensorNames.lmHead, shape: [config.vocabSize, h])
            }
        }
        done += 1; progress(done, total)
        return StageWeights(config: config, layers: layers, embedding: first ? embedding : nil,
                            decoderLayers: decoder, finalNorm: finalNorm, lmHead: lmHead)
    }
}
