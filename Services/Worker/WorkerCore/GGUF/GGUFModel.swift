import Foundation
import Tensor

/// A Llama-architecture GGUF file as a weight source: hyperparameters from the `llama.*`
/// metadata, tensors under llama.cpp's names mapped to Hugging Face's.
///
/// GGUF stores the rows of Q and K in the order llama.cpp's RoPE wants (the two halves of each
/// head interleaved); the worker's RoPE rotates halves as Hugging Face does, so those rows are
/// put back in Hugging Face order on load. The permutation moves whole rows, so quantized
/// weights stay quantized.
public final class GGUFModel: WeightSource {
    public let file: GGUFFile
    public let config: LlamaConfig
    public let dequantize: Bool
    public var path: String { file.path }

    public init(path: String, dequantize: Bool = false) throws {
        file = try GGUFFile(path: path)
        self.dequantize = dequantize
        config = try Self.config(of: file)
    }

    /// Reads the `llama` hyperparameters, naming the missing or wrong key.
    static func config(of file: GGUFFile) throws -> LlamaConfig {
        let path = file.path, meta = file.metadata
        guard let architecture = meta["general.architecture"]?.string else {
            throw WorkerError.badModel("\(path): metadata key 'general.architecture' is missing")
        }
        guard architecture == "llama" else {
            throw WorkerError.badModel("\(path): architecture '\(architecture)' is not supported; only 'llama' is")
        }
        func int(_ key: String) throws -> Int {
            guard let value = meta[key] else { throw WorkerError.badModel("\(path): metadata key '\(key)' is missing") }
            guard let number = value.int, number > 0 else { throw WorkerError.badModel("\(path): metadata key '\(key)' must be a positive integer, got \(value)") }
            return number
        }
        func number(_ key: String, default fallback: Double) throws -> Double {
            guard let value = meta[key] else { return fallback }
            guard let number = value.double else { throw WorkerError.badModel("\(path): metadata key '\(key)' must be a number, got \(value)") }
            return number
        }
        if file.tensors["rope_freqs.weight"] != nil {
            throw WorkerError.badModel("\(path): per-frequency RoPE factors (rope_freqs.weight, Llama 3.1 scaling) are not supported")
        }
        let hidden = try int("llama.embedding_length"), heads = try int("llama.attention.head_count")
        let headDim = meta["llama.attention.key_length"] != nil ? try int("llama.attention.key_length") : hidden / heads
        if meta["llama.rope.dimension_count"] != nil, try int("llama.rope.dimension_count") != headDim {
            throw WorkerError.badModel("\(path): llama.rope.dimension_count differs from the head size \(headDim); partial rotary embeddings are not supported")
        }
        let vocab: Int
        if meta["llama.vocab_size"] != nil { vocab = try int("llama.vocab_size") }
        else if let tokens = meta["tokenizer.ggml.tokens"]?.array { vocab = tokens.count }
        else if let embedding = file.tensors["token_embd.weight"], embedding.dimensions.count == 2 { vocab = embedding.dimensions[1] }
        else { throw WorkerError.badModel("\(path): cannot tell the vocabulary size (no llama.vocab_size, tokenizer.ggml.tokens or token_embd.weight)") }
        var scaling = RopeScaling.none
        switch meta["llama.rope.scaling.type"]?.string {
        case nil, "none": break
        case "linear": scaling = .linear(factor: try number("llama.rope.scaling.factor", default: 1))
        case let other?: throw WorkerError.badModel("\(path): llama.rope.scaling.type '\(other)' is not supported (none, linear)")
        }
        let config = LlamaConfig(
            hiddenSize: hidden, intermediateSize: try int("llama.feed_forward_length"), layerCount: try int("llama.block_count"),
            headCount: heads, kvHeadCount: meta["llama.attention.head_count_kv"] != nil ? try int("llama.attention.head_count_kv") : heads,
            vocabSize: vocab, headDim: headDim,
            rmsNormEpsilon: Float(try number("llama.attention.layer_norm_rms_epsilon", default: 1e-5)),
            ropeTheta: try number("llama.rope.freq_base", default: 10_000), ropeScaling: scaling,
            tieWordEmbeddings: file.tensors["output.weight"] == nil,
            maxPositions: meta["llama.context_length"] != nil ? try int("llama.context_length") : 2048)
        do { try config.validate() } catch WorkerError.badModel(let message) {
            throw WorkerError.badModel("\(path): \(message.replacingOccurrences(of: "config.json: ", with: ""))")
        }
        return config
    }

    /// llama.cpp's name for a Hugging Face tensor name.
    static func ggufName(_ name: String) -> String? {
        switch name {
        case LlamaTensorNames.embedding: return "token_embd.weight"
        case LlamaTensorNames.finalNorm: return "output_norm.weight"
        case LlamaTensorNames.lmHead: return "output.weight"
        default: break
        }
        let parts = name.split(separator: ".")
        guard parts.count >= 4, parts[0] == "model", parts[1] == "layers", let layer = Int(parts[2]) else { return nil }
        let suffixes = [
            "input_layernorm.weight": "attn_norm.weight", "self_attn.q_proj.weight": "attn_q.weight",
            "self_attn.k_proj.weight": "attn_k.weight", "self_attn.v_proj.weight": "attn_v.weight",
            "self_attn.o_proj.weight": "attn_output.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
            "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight",
        ]
        return suffixes[parts[3...].joined(separator: ".")].map { "blk.\(layer).\($0)" }
    }

    public func has(_ name: String) -> Bool { Self.ggufName(name).flatMap { file.tensors[$0] } != nil }

    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        let info = try lookup(name, shape: shape)
        let order = rowOrder(for: name)
        return file.withBytes(of: info) { raw in
            Tensor(shape: shape) { out in
                let rowLength = info.dimensions[0], rowBytes = info.type.byteCount(elements: rowLength)
                for (row, from) in (order ?? Array(0..<(info.elementCount / rowLength))).enumerated() {
                    info.type.dequantize(raw.baseAddress! + from * rowBytes, count: rowLength, into: out.baseAddress! + row * rowLength)
                }
            }
        }
    }

    public func linear(_ name: String, shape: [Int]) throws -> LinearWeight {
        let info = try lookup(name, shape: shape)
        guard info.type.isQuantized, !dequantize else { return .dense(try tensor(name, shape: shape)) }
        let order = rowOrder(for: name)
        defer { file.release(info) }   // the packed copy is what stays resident
        return file.withBytes(of: info) { raw in
            .quantized(QuantizedMatrix(type: info.type, rows: shape[0], columns: shape[1], source: raw.baseAddress!, rowOrder: order))
        }
    }

    private func lookup(_ name: String, shape: [Int]) throws -> GGUFTensorInfo {
        guard let ggufName = Self.ggufName(name), let info = file.tensors[ggufName] else {
            throw WorkerError.badModel("\(path): tensor '\(Self.ggufName(name) ?? name)' is missing")
        }
        guard info.shape == shape else {
            throw WorkerError.badModel("\(path): tensor '\(info.name)' has shape \(info.shape), the llama.* metadata implies \(shape)")
        }
        return info
    }

    /// For Q and K: the GGUF row that holds each Hugging Face row. Within a head GGUF stores
    /// pair i's two halves at rows 2i and 2i+1; Hugging Face keeps the halves apart (i, i+d/2).
    private func rowOrder(for name: String) -> [Int]? {
        let heads: Int
        if name.hasSuffix("self_attn.q_proj.weight") { heads = config.headCount }
        else if name.hasSuffix("self_attn.k_proj.weight") { heads = config.kvHeadCount }
        else { return nil }
        let d = config.headDim, half = d / 2
        var order: [Int] = []
        order.reserveCapacity(heads * d)
        for head in 0..<heads {
            for side in 0..<2 { for i in 0..<half { order.append(head * d + 2 * i + side) } }
        }
        return order
    }
}
