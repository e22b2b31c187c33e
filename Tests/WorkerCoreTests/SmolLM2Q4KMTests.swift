import Foundation
import Testing
import WorkerCore

/// The same model quantized to Q4_K_M (Q5_0, Q8_0, Q4_K and Q6_K tensors) against llama.cpp.
/// CI cannot make the file (llama-quantize is not on PyPI or Debian), so this suite runs where
/// scripts/gen-model-fixtures left it in the model cache and says why it is skipped elsewhere;
/// KQuantTests hold every K-quant product to llama.cpp's bits in CI.
@Suite(.enabled(if: SmolLM2Reference.quantizedKPath != nil,
                "no SmolLM2 Q4_K_M in the model cache: scripts/gen-model-fixtures makes it (needs a llama.cpp build)"))
struct SmolLM2Q4KMTests {
    /// Greedy tokens equal llama.cpp's for all 32 steps of all five prompts and the top-5 logits
    /// agree within SmolLM2Tests.logitTolerance. Each prompt runs alone, as llama.cpp ran it: its
    /// K-quant kernels round differently by batch size, and so do ours, to match.
    @Test func greedyTokensAndLogitsMatchLlamaCpp() throws {
        let model = try LocalModel(path: try #require(SmolLM2Reference.quantizedKPath))
        let cases = try SmolLM2Reference.cases("smollm2-q4_k_m-greedy.jsonl")
        #expect(cases.count == 5)
        let engine = try model.makeEngine(kvTokens: 1024, keepsLogits: true)
        for (i, reference) in cases.enumerated() {
            try engine.submit(GenerationRequest(id: UInt64(i), prompt: reference.prompt_ids, maxNewTokens: reference.steps.count))
            try SmolLM2Reference.expectAgrees(try engine.runToCompletion()[UInt64(i)], with: reference, index: i,
                                              tolerance: SmolLM2Tests.logitTolerance)
        }
    }
}

extension SmolLM2Reference {
    /// The Q4_K_M file scripts/gen-model-fixtures leaves beside the shipped model, if it is there.
    static var quantizedKPath: String? {
        let path = ((DefaultModel.path as NSString).deletingLastPathComponent as NSString)
            .deletingLastPathComponent + "/SmolLM2-135M-Instruct.Q4_K_M.gguf"
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }
}
