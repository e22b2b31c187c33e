import Foundation
import Testing
import WorkerCore

/// Our logits against an independent float64 NumPy implementation of the Llama forward.
@Suite(.enabled(if: PythonReference.available, "needs python3 with NumPy (installed into ~/.cache/lattice/numpy-venv when missing)"))
struct NumPyReferenceTests {
    func compare(_ dir: String, stages: Int, prompt: [Int32], tokens: Int = 5, prefillChunk: Int = 3, maxBatchTokens: Int = 512,
                 kvBlocks: Int = 128, tolerance: Float = 1e-3) throws {
        let reference = try PythonReference.generate(model: dir, prompt: prompt, maxTokens: tokens)
        let ours = try #require(try TestModels.generate(directory: dir, stages: stages,
                                                        requests: [GenerationRequest(id: 1, prompt: prompt, maxNewTokens: tokens)],
                                                        prefillChunk: prefillChunk, maxBatchTokens: maxBatchTokens,
                                                        kvBlocks: kvBlocks)[1])
        #expect(ours.tokens == reference.tokens)
        #expect(ours.logits.count == reference.logits.count)
        // The worker keeps keys and values in binary16, as llama.cpp's default KV cache does
        // (about 5e-4 relative per value; the float64 reference keeps them exact), so logits
        // differ by ~1e-4 … 1e-3 on short prompts and more over long ones.
        for (a, b) in zip(ours.logits, reference.logits) {
            #expect(TestModels.relativeError(a, b) <= tolerance, "relative error \(TestModels.relativeError(a, b))")
        }
    }

    @Test func untiedGQAModelMatches() throws {
        try compare(try TestModels.write(seed: 21), stages: 2, prompt: [1, 2, 3, 4, 5, 6, 7, 8, 9])
    }

    @Test func longPromptInOneChunkSpansAttentionTiles() throws {
        // 1100 prompt tokens in one step: past the row-by-row limit, nine 128-row BLAS query tiles.
        let prompt = (0..<1100).map { Int32(($0 * 37 + 11) % 64) }
        try compare(try TestModels.write(seed: 8), stages: 1, prompt: prompt, tokens: 2, prefillChunk: 2048, maxBatchTokens: 2048,
                    kvBlocks: 300, tolerance: 1e-2)
    }

    @Test func tiedLlama3ScaledShardedBF16ModelMatches() throws {
        var config = TestModels.tinyConfig
        config.tieWordEmbeddings = true
        config.kvHeadCount = 1
        config.ropeTheta = 500_000
        config.ropeScaling = .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 16)
        try compare(try TestModels.write(config, seed: 5, dtype: .bf16, shards: 2), stages: 4, prompt: [9, 3, 60, 1, 2, 44])
    }
}
