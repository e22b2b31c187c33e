import Foundation
import Testing
import WorkerCore

@Suite struct StageSplitTests {
    let requests = [
        GenerationRequest(id: 1, prompt: [1, 2, 3, 4, 5, 6, 7], maxNewTokens: 6),
        GenerationRequest(id: 2, prompt: [9, 8], maxNewTokens: 5),
        GenerationRequest(id: 3, prompt: Array(10..<30).map(Int32.init), maxNewTokens: 4),
    ]

    @Test func splitIntoOneTwoAndFourStagesMatches() throws {
        let dir = try TestModels.write()
        let reference = try TestModels.generate(directory: dir, stages: 1, requests: requests)
        for stages in [2, 4] {
            let split = try TestModels.generate(directory: dir, stages: stages, requests: requests)
            for request in requests {
                let a = try #require(split[request.id]), b = try #require(reference[request.id])
                #expect(a.tokens == b.tokens, "stages \(stages), request \(request.id)")
                #expect(a.tokens.count == request.maxNewTokens)
                for (x, y) in zip(a.logits, b.logits) { #expect(TestModels.relativeError(x, y) <= 1e-4) }
            }
        }
    }

    @Test func chunkedPrefillAndSmallBatchesMatchOneShot() throws {
        let dir = try TestModels.write()
        let reference = try TestModels.generate(directory: dir, stages: 1, requests: requests)
        let chunked = try TestModels.generate(directory: dir, stages: 2, requests: requests, prefillChunk: 3, maxBatchTokens: 5)
        for request in requests {
            let a = try #require(chunked[request.id]), b = try #require(reference[request.id])
            #expect(a.tokens == b.tokens)
            // Chunks of 3 and batches of 5 give OpenBLAS other matrix shapes than the one-shot prefill, so other
            // summation orders: with its FMA kernels (Haswell, Zen; AMD EPYC, session 18) the logits differ by up
            // to 2.6e-4 of the largest, with its SSE kernels (Prescott) under 1e-4. A wrong position or cache
            // entry moves them by the order of the logits themselves.
            for (x, y) in zip(a.logits, b.logits) { #expect(TestModels.relativeError(x, y) <= 1e-3) }
        }
    }

    @Test func requestsAloneMatchRequestsBatched() throws {
        // Continuous batching must not let requests influence each other.
        let dir = try TestModels.write()
        let together = try TestModels.generate(directory: dir, stages: 1, requests: requests)
        for request in requests {
            let alone = try TestModels.generate(directory: dir, stages: 1, requests: [request])
            #expect(alone[request.id]?.tokens == together[request.id]?.tokens)
        }
    }

    @Test func shardedAndHalfPrecisionFilesLoad() throws {
        let single = try TestModels.write(seed: 3)
        let sharded = try TestModels.write(seed: 3, shards: 3)
        #expect(FileManager.default.fileExists(atPath: sharded + "/model.safetensors.index.json"))
        let prompt = [GenerationRequest(id: 1, prompt: [5, 6, 7], maxNewTokens: 3)]
        let a = try TestModels.generate(directory: single, stages: 1, requests: prompt)
        let b = try TestModels.generate(directory: sharded, stages: 2, requests: prompt)
        #expect(a[1]?.tokens == b[1]?.tokens)
        #expect(a[1]?.logits == b[1]?.logits)

        // F16 and BF16 files hold the F32 weights rounded; loading converts them back exactly.
        let name = "model.layers.0.self_attn.q_proj.weight"
        let shape = [TestModels.tinyConfig.queryWidth, TestModels.tinyConfig.hiddenSize]
        let f32 = try ModelDirectory(path: single).tensor(name, shape: shape)
        let f16 = try ModelDirectory(path: try TestModels.write(seed: 3, dtype: .f16)).tensor(name, shape: shape)
        let bf16 = try ModelDirectory(path: try TestModels.write(seed: 3, dtype: .bf16)).tensor(name, shape: shape)
        #expect(f16.scalars == f32.scalars.map { HalfPrecisionRound.f16($0) })
        #expect(bf16.scalars == f32.scalars.map { HalfPrecisionRound.bf16($0) })
        #expect(f16.scalars != f32.scalars)
    }

    @Test func tiedEmbeddingsAndRopeScaling() throws {
        var config = TestModels.tinyConfig
        config.tieWordEmbeddings = true
        config.ropeScaling = .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 64)
        let dir = try TestModels.write(config)
        let parsed = try ModelDirectory(path: dir).config
        #expect(parsed == config)
        let prompt = [GenerationRequest(id: 1, prompt: [1, 2, 3, 4], maxNewTokens: 4)]
        let one = try TestModels.generate(directory: dir, stages: 1, requests: prompt)
        let four = try TestModels.generate(directory: dir, stages: 4, requests: prompt)
        #expect(one[1]?.tokens == four[1]?.tokens)
        #expect(one[1]?.tokens.count == 4)
    }
}
