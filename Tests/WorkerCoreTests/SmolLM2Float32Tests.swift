import Testing
import WorkerCore

/// The Float32 reference path (the Q4_1 file's weights dequantized at load) against llama.cpp on
/// an F32 GGUF of the same weights (`llama-quantize --allow-requantize … F32`, with a Float32 KV
/// cache); fixtures from scripts/gen-model-fixtures. Both compute in Float32, so only summation
/// order differs: the greedy tokens must be identical on every prompt.
@Suite struct SmolLM2Float32Tests {
    /// Largest difference allowed between our logits (about ±30) and llama.cpp's: summation order
    /// alone moves them by up to 0.034 over 30 layers on these prompts.
    static let logitTolerance = 0.05

    @Test func float32GreedyTokensEqualLlamaCppOnF32Weights() throws {
        let model = try LocalModel(path: SmolLM2Reference.modelPath(), dequantize: true)
        let cases = try SmolLM2Reference.cases("smollm2-f32-greedy.jsonl")
        #expect(cases.count == 5)
        let engine = try model.makeEngine(kvTokens: 1024, keepsLogits: true)
        for (i, reference) in cases.enumerated() {
            try engine.submit(GenerationRequest(id: UInt64(i), prompt: reference.prompt_ids, maxNewTokens: reference.steps.count))
        }
        let results = try engine.runToCompletion()
        for (i, reference) in cases.enumerated() {
            let result = try #require(results[UInt64(i)])
            try #require(reference.steps.count == 64 && result.tokens.count == 64 && result.logits.count == 64)
            #expect(result.tokens == reference.steps.map(\.token), "prompt \(reference.prompt.debugDescription)")
            for (step, expected) in reference.steps.enumerated() {
                for pair in expected.top {
                    let ours = Double(result.logits[step][Int(pair[0])])
                    #expect(abs(ours - pair[1]) <= Self.logitTolerance,
                            "prompt \(i) step \(step) token \(Int(pair[0])): ours \(ours), llama.cpp \(pair[1])")
                }
            }
        }
    }
}
