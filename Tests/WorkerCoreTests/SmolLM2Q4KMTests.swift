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
            let result = try #require(try engine.runToCompletion()[UInt64(i)])
            try #require(reference.steps.count == 32 && result.tokens.count == 32 && result.logits.count == 32)
            let agreed = zip(result.tokens, reference.steps).prefix { $0 == $1.token }.count
            #expect(agreed == 32, "prompt \(reference.prompt.debugDescription): \(agreed) of 32 tokens agree")
            for step in 0..<min(32, agreed + 1) {
                for pair in reference.steps[step].top {
                    let ours = Double(result.logits[step][Int(pair[0])])
                    #expect(abs(ours - pair[1]) <= SmolLM2Tests.logitTolerance,
                            "prompt \(i) step \(step) token \(Int(pair[0])): ours \(ours), llama.cpp \(pair[1])")
                }
            }
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
