import Foundation
import Tensor
import WorkerCore

/// Writes small GGUF files for tests: metadata of the kinds models use and Float32 tensors.
struct GGUFTestFile {
    enum Value {
        case u32(UInt32), u64(UInt64), f32(Float), bool(Bool), string(String), strings([String])
    }
    var version: UInt32 = 3
    var metadata: [(String, Value)] = []
    var tensors: [(name: String, dims: [Int], type: UInt32, data: Data)] = []

    mutating func addF32(_ name: String, _ tensor: Tensor) {
        tensors.append((name, tensor.shape.reversed(), 0, tensor.scalars.withUnsafeBytes { Data($0) }))
    }

    func bytes() -> Data {
        var out = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); out.append(contentsOf: Array(s.utf8)) }
        out.append(contentsOf: Array("GGUF".utf8))
        u32(version)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (key, value) in metadata {
            string(key)
            switch value {
            case .u32(let v): u32(4); u32(v)
            case .u64(let v): u32(10); u64(v)
            case .f32(let v): u32(6); u32(v.bitPattern)
            case .bool(let v): u32(7); out.append(v ? 1 : 0)
            case .string(let s): u32(8); string(s)
            case .strings(let list): u32(9); u32(8); u64(UInt64(list.count)); list.forEach(string)
            }
        }
        var offset = 0
        for tensor in tensors {
            string(tensor.name)
            u32(UInt32(tensor.dims.count))
            tensor.dims.forEach { u64(UInt64($0)) }
            u32(tensor.type)
            u64(UInt64(offset))
            offset += (tensor.data.count + 31) / 32 * 32
        }
        while out.count % 32 != 0 { out.append(0) }
        for tensor in tensors {
            out.append(tensor.data)
            while out.count % 32 != 0 { out.append(0) }
        }
        return out
    }

    /// A GGUF holding the same weights as the Hugging Face model in `directory`, with Q and K rows
    /// in GGUF's order (each head's rotary halves interleaved), as llama.cpp's converter writes them.
    static func converting(directory: String) throws -> GGUFTestFile {
        let model = try ModelDirectory(path: directory)
        let c = model.config
        var file = GGUFTestFile()
        file.metadata = [
            ("general.architecture", .string("llama")), ("llama.block_count", .u32(UInt32(c.layerCount))),
            ("llama.embedding_length", .u32(UInt32(c.hiddenSize))), ("llama.feed_forward_length", .u32(UInt32(c.intermediateSize))),
            ("llama.attention.head_count", .u32(UInt32(c.headCount))), ("llama.attention.head_count_kv", .u32(UInt32(c.kvHeadCount))),
            ("llama.rope.freq_base", .f32(Float(c.ropeTheta))), ("llama.attention.layer_norm_rms_epsilon", .f32(c.rmsNormEpsilon)),
            ("llama.vocab_size", .u32(UInt32(c.vocabSize))), ("general.alignment", .u32(32)),
        ]
        let names = ["input_layernorm.weight": "attn_norm", "self_attn.q_proj.weight": "attn_q", "self_attn.k_proj.weight": "attn_k",
                     "self_attn.v_proj.weight": "attn_v", "self_attn.o_proj.weight": "attn_output",
                     "post_attention_layernorm.weight": "ffn_norm", "mlp.gate_proj.weight": "ffn_gate",
                     "mlp.up_proj.weight": "ffn_up", "mlp.down_proj.weight": "ffn_down"]
        for (name, shape) in LlamaTensorNames.all(for: c) {
            var tensor = try model.tensor(name, shape: shape)
            var ggufName: String
            switch name {
            case LlamaTensorNames.embedding: ggufName = "token_embd.weight"
            case LlamaTensorNames.finalNorm: ggufName = "output_norm.weight"
            case LlamaTensorNames.lmHead: ggufName = "output.weight"
            default:
                let parts = name.split(separator: ".")
                ggufName = "blk.\(parts[2]).\(names[parts[3...].joined(separator: ".")]!).weight"
                if name.hasSuffix("q_proj.weight") { tensor = interleave(tensor, heads: c.headCount) }
                if name.hasSuffix("k_proj.weight") { tensor = interleave(tensor, heads: c.kvHeadCount) }
            }
            file.addF32(ggufName, tensor)
        }
        return file
    }

    /// Hugging Face row (head, side·d/2 + i) goes to GGUF row (head, 2i + side).
    static func interleave(_ w: Tensor, heads: Int) -> Tensor {
        let rows = w.shape[0], width = w.shape[1], d = rows / heads, half = d / 2
        var out = w
        for head in 0..<heads {
            for side in 0..<2 {
                for i in 0..<half {
                    let from = head * d + side * half + i, to = head * d + 2 * i + side
                    for col in 0..<width { out.scalars[to * width + col] = w.scalars[from * width + col] }
                }
            }
        }
        return out
    }

    func write(name: String) throws -> String {
        let path = (TestModels.temporaryDirectory(name) as NSString).appendingPathComponent("model.gguf")
        try bytes().write(to: URL(fileURLWithPath: path))
        return path
    }
}
