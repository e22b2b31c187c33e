import CKernels
import Foundation
import Testing
import Tensor
@testable import WorkerCore
import DeterministicRandom

@Suite struct GGUFTests {
    /// A GGUF converted from a safetensors model (q/k rows interleaved as llama.cpp stores them)
    /// runs to exactly the same logits: names, shapes, hyperparameters and the row order all map back.
    @Test func convertedModelRunsLikeItsSafetensorsOriginal() throws {
        let directory = try TestModels.write(name: "gguf-source")
        let gguf = try GGUFTestFile.converting(directory: directory).write(name: "gguf")
        let request = GenerationRequest(id: 1, prompt: [3, 1, 4, 1, 5, 9, 2, 6], maxNewTokens: 6)
        let original = try TestModels.generate(directory: directory, stages: 1, requests: [request])
        let model = try LocalModel(path: gguf)
        #expect(model.config == (try ModelDirectory(path: directory)).config)
        let engine = try model.makeEngine(kvTokens: 64, keepsLogits: true)
        try engine.submit(request)
        let converted = try engine.runToCompletion()
        #expect(converted[1]?.tokens == original[1]?.tokens)
        for (a, b) in zip(converted[1]?.logits ?? [], original[1]?.logits ?? []) { #expect(TestModels.relativeError(a, b) < 1e-5) }
        #expect(converted[1]?.logits.count == 6)
    }

    @Test func malformedFilesGetErrorsNamingWhatIsWrong() throws {
        let good = try GGUFTestFile.converting(directory: TestModels.write(name: "gguf-bad")).bytes()
        func error(_ data: Data) -> String {
            let path = (TestModels.temporaryDirectory("gguf-bad") as NSString).appendingPathComponent("bad.gguf")
            try? data.write(to: URL(fileURLWithPath: path))
            do { _ = try GGUFModel(path: path); return "no error" } catch let e as WorkerError { return e.description } catch { return "other error \(error)" }
        }
        #expect(error(Data("GGML".utf8) + good.dropFirst(4)).contains("not a GGUF file"))
        var v1 = good; v1[4] = 1
        #expect(error(v1).contains("GGUF version 1 is not supported"))
        // Cut inside the metadata: the error names the key being read.
        #expect(error(good.prefix(60)).contains("while reading the length of the value of 'general.architecture'"))
        // Cut inside the tensor data: the error names the last tensor, which no longer fits.
        let cut = error(good.dropLast(40))
        #expect(cut.contains("blk.3.ffn_down.weight") || cut.contains("output.weight") || cut.contains("output_norm.weight"), "\(cut)")
        #expect(cut.contains("truncated"))
        // Every prefix of the header is refused with a model error, none crashes.
        for length in stride(from: 0, to: 3000, by: 7) { #expect(error(good.prefix(length)).hasPrefix("model: "), "prefix \(length)") }
        // An unsupported tensor type and a missing hyperparameter are named.
        var file = try GGUFTestFile.converting(directory: TestModels.write(name: "gguf-bad"))
        file.tensors[0].type = 13   // Q5_K
        #expect(error(file.bytes()).contains("token_embd.weight' has ggml type 13"))
        // Dimensions whose product overflows, or outgrows the file, are refused by name.
        file = try GGUFTestFile.converting(directory: TestModels.write(name: "gguf-bad"))
        file.tensors[1].dims = [1 << 31 - 1, 1 << 31 - 1, 1 << 31 - 1, 8]
        #expect(error(file.bytes()).contains("'\(file.tensors[1].name)' has dimensions"))
        file = try GGUFTestFile.converting(directory: TestModels.write(name: "gguf-bad"))
        file.metadata.removeAll { $0.0 == "llama.embedding_length" }
        #expect(error(file.bytes()).contains("'llama.embedding_length' is missing"))
        file = try GGUFTestFile.converting(directory: TestModels.write(name: "gguf-bad"))
        file.metadata[0].1 = .string("gpt2")
        #expect(error(file.bytes()).contains("architecture 'gpt2' is not supported"))
        // Sizes whose arithmetic would overflow (found by reading for fuzz-gguf) are refused, not a crash.
        file = try GGUFTestFile.converting(directory: TestModels.write(name: "gguf-bad"))
        file.tensors[0].dims = [Int(Int32.max), Int(Int32.max), Int(Int32.max), Int(Int32.max)]
        #expect(error(file.bytes()).contains("token_embd.weight' has dimensions"), "\(error(file.bytes()))")
        file = try GGUFTestFile.converting(directory: TestModels.write(name: "gguf-bad"))
        file.metadata.removeAll { $0.0 == "general.alignment" }
        file.metadata.append(("general.alignment", .u64(1 << 62)))
        #expect(error(file.bytes()).contains("general.alignment 4611686018427387904 is not a power of two up to 1 MiB"))
    }

    /// The shipped Q4_1 and Q8_0 matrices: the kernels' product equals the dequantized weights
    /// times the 8-bit-rounded activations, and the AVX512, AVX2 and scalar kernels agree exactly.
    @Test func quantizedProductsMatchDequantizedWeights() throws {
        let path = try SmolLM2Reference.modelPath()
        let quantized = try GGUFModel(path: path), dense = try GGUFModel(path: path, dequantize: true)
        let h = quantized.config.hiddenSize, inter = quantized.config.intermediateSize
        var rng = SplitMix64(seed: 0x66F0)   // seeded: reproducible, and TSan-safe (see EnvelopeCodecTests)
        for (name, shape) in [(LlamaTensorNames.layer(0, "mlp.down_proj.weight"), [h, inter]),
                              (LlamaTensorNames.layer(5, "self_attn.q_proj.weight"), [h, h]),
                              (LlamaTensorNames.embedding, [quantized.config.vocabSize, h])] {
            let x = Tensor(shape: [6, shape[1]]) { out in for i in 0..<out.count { out[i] = Float.random(in: -2...2, using: &rng) } }
            guard case .quantized(let matrix) = try quantized.linear(name, shape: shape) else { Issue.record("\(name) is not quantized"); continue }
            let reference = try dense.linear(name, shape: shape).apply(x)
            let fast = matrix.product(x)
            #expect(TestModels.relativeError(fast.scalars, reference.scalars) < 0.02, "\(name)")
            // Every SIMD path this CPU has gives the scalar path's floats exactly (same steps, same order).
            let best = lk_simd_level()
            let previous = lk_limit_simd(0)
            let scalar = matrix.product(x)
            for level in 1...max(1, best) {
                _ = lk_limit_simd(level)
                #expect(matrix.product(x).scalars == scalar.scalars, "\(name) at SIMD level \(level)")
            }
            _ = lk_limit_simd(previous)
            #if arch(x86_64)
            #expect(best >= 1, "an x86-64 CPU with AVX2 runs the SIMD kernels (level \(best))")
            #endif
        }
    }
}
