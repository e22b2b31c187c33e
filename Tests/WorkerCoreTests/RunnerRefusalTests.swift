import Foundation
import Testing
import WorkerCore

@Suite struct RunnerRefusalTests {
    func runner(layers: Range<Int>, kvBlocks: Int = 2, blockSize: Int = 4) throws -> LayerRangeRunner {
        try LayerRangeRunner(directory: ModelDirectory(path: TestModels.write()), layers: layers, kvBlocks: kvBlocks, blockSize: blockSize)
    }

    @Test func reportsCapacityInTokenLayerEntries() throws {
        let r = try runner(layers: 0..<2, kvBlocks: 3, blockSize: 4)
        #expect(r.stats.kvCapacityEntries == 3 * 4 * 2)
        #expect(r.stats.kvUsedEntries == 0)
        #expect(r.stats.kvBytes == 2 * 2 * 3 * 4 * 2 * TestModels.tinyConfig.kvWidth)   // K and V, binary16, 3 blocks × 4 slots × 2 layers
        #expect(LayerRangeRunner.kvBlocks(fittingBytes: r.stats.kvBytes, config: TestModels.tinyConfig, layerCount: 2, blockSize: 4) == 3)
        _ = try r.step(StepBatch(entries: [BatchEntry(requestID: 1, position: 0, tokenCount: 5, wantsToken: false)], input: .tokens([1, 2, 3, 4, 5])))
        #expect(r.stats.kvUsedEntries == 2 * 4 * 2)   // 5 tokens take 2 blocks, on 2 layers
        #expect(r.stats.activeRequests == 1)
        r.release(1)
        #expect(r.stats.kvUsedEntries == 0)
    }

    @Test func refusesWhenFullAndIsUnharmed() throws {
        let r = try runner(layers: 0..<4, kvBlocks: 2, blockSize: 4)
        let tooMany = StepBatch(entries: [BatchEntry(requestID: 1, position: 0, tokenCount: 9, wantsToken: true)], input: .tokens(Array(repeating: 3, count: 9)))
        #expect(throws: WorkerError.kvCacheFull(needed: 3, free: 2)) { try r.step(tooMany) }
        #expect(r.stats.kvUsedEntries == 0 && r.stats.activeRequests == 0)
        // A batch that fits still works afterwards, with the same answer as on a fresh runner.
        let fits = StepBatch(entries: [BatchEntry(requestID: 1, position: 0, tokenCount: 8, wantsToken: true)], input: .tokens(Array(repeating: 3, count: 8)))
        let token = try r.step(fits).tokens
        #expect(token == (try runner(layers: 0..<4).step(fits).tokens))
        #expect(token.count == 1 && token[0].position == 8)
        // Now full: one more decode token needs a third block.
        let next = StepBatch(entries: [BatchEntry(requestID: 1, position: 8, tokenCount: 1, wantsToken: true)], input: .tokens([token[0].token]))
        #expect(throws: WorkerError.kvCacheFull(needed: 1, free: 0)) { try r.step(next) }
    }

    @Test func refusesMalformedBatches() throws {
        let first = try runner(layers: 0..<2, kvBlocks: 8)
        let last = try runner(layers: 2..<4, kvBlocks: 8)
        func batch(_ entries: [BatchEntry], _ input: StageInput) -> StepBatch { StepBatch(entries: entries, input: input) }
        let one = BatchEntry(requestID: 1, position: 0, tokenCount: 1, wantsToken: false)
        #expect(throws: WorkerError.self) { try first.step(batch([one], .tokens([64]))) }        // id out of vocab
        #expect(throws: WorkerError.self) { try first.step(batch([one], .tokens([1, 2]))) }      // rows ≠ entries
        #expect(throws: WorkerError.self) { try first.step(batch([], .tokens([]))) }            // empty
        #expect(throws: WorkerError.self) { try first.step(batch([BatchEntry(requestID: 1, position: 3, tokenCount: 1, wantsToken: false)], .tokens([1]))) } // gap
        #expect(throws: WorkerError.self) { try first.step(batch([one, one], .tokens([1, 1]))) } // duplicate request
        #expect(throws: WorkerError.self) { try last.step(batch([one], .tokens([1]))) }         // later stage wants hidden states
        let wrongWidth = HiddenStates(rows: 1, width: 31, encoding: .float32, bytes: Array(repeating: 0, count: 31 * 4))
        #expect(throws: WorkerError.self) { try last.step(batch([one], .hidden(wrongWidth))) }
        let short = HiddenStates(rows: 1, width: 32, encoding: .float32, bytes: Array(repeating: 0, count: 10))
        #expect(throws: WorkerError.self) { try last.step(batch([one], .hidden(short))) }
        let badSampling = BatchEntry(requestID: 1, position: 0, tokenCount: 1, wantsToken: true, sampling: SamplingParameters(temperature: 1, topP: 0))
        let fine = HiddenStates(rows: 1, width: 32, encoding: .float32, bytes: Array(repeating: 0, count: 32 * 4))
        #expect(throws: WorkerError.self) { try last.step(batch([badSampling], .hidden(fine))) }
        // Sizes chosen to overflow arithmetic are refused, not trapped on.
        #expect(throws: WorkerError.self) { try first.step(batch([BatchEntry(requestID: 1, position: 0, tokenCount: Int.max, wantsToken: false)], .tokens([1]))) }
        #expect(throws: WorkerError.self) { try first.step(batch([BatchEntry(requestID: 1, position: Int.max, tokenCount: 1, wantsToken: false)], .tokens([1]))) }
        #expect(throws: WorkerError.self) { try first.step(batch([BatchEntry(requestID: 1, position: 0, tokenCount: -1, wantsToken: false)], .tokens([]))) }
        let huge = HiddenStates(rows: Int.max / 2, width: Int.max / 2, encoding: .float32, bytes: [])
        #expect(throws: WorkerError.self) { try last.step(batch([BatchEntry(requestID: 1, position: 0, tokenCount: 1 << 20, wantsToken: false)], .hidden(huge))) }
        #expect(throws: WorkerError.self) { try huge.tensor() }
        first.maxBatchTokens = 2
        #expect(throws: WorkerError.self) { try first.step(batch([BatchEntry(requestID: 1, position: 0, tokenCount: 3, wantsToken: false)], .tokens([1, 2, 3]))) }
        first.maxBatchTokens = 8192
        #expect(first.stats.activeRequests == 0 && last.stats.activeRequests == 0)
        // Still serves a good batch.
        let hidden = try #require(try first.step(batch([one], .tokens([1]))).hidden)
        #expect(hidden.rows == 1 && hidden.width == 32 && hidden.bytes.count == 32 * 4)
        #expect(try last.step(batch([BatchEntry(requestID: 1, position: 0, tokenCount: 1, wantsToken: true)], .hidden(hidden))).tokens.count == 1)
    }

    @Test func float16HiddenStatesStayClose() throws {
        let dir = try TestModels.write()
        let model = try ModelDirectory(path: dir)
        let stage0 = try LayerRangeRunner(directory: model, layers: 0..<2, kvBlocks: 8, blockSize: 4, hiddenEncoding: .float16)
        let stage1 = try LayerRangeRunner(directory: model, layers: 2..<4, kvBlocks: 8, blockSize: 4)
        let full = try LayerRangeRunner(directory: model, layers: 0..<4, kvBlocks: 8, blockSize: 4)
        stage1.returnsLogits = true
        full.returnsLogits = true
        let entry = BatchEntry(requestID: 9, position: 0, tokenCount: 3, wantsToken: true)
        let hidden = try #require(try stage0.step(StepBatch(entries: [entry], input: .tokens([4, 5, 6]))).hidden)
        #expect(hidden.bytes.count == 3 * 32 * 2)   // hidden × 2 bytes per token
        let split = try stage1.step(StepBatch(entries: [entry], input: .hidden(hidden)))
        let whole = try full.step(StepBatch(entries: [entry], input: .tokens([4, 5, 6])))
        #expect(TestModels.relativeError(try #require(split.logits[9]), try #require(whole.logits[9])) < 1e-2)
    }

    @Test func kvCacheFullRejectsRequestThatCanNeverFit() throws {
        let dir = try TestModels.write()
        let results = try TestModels.generate(directory: dir, stages: 2, requests: [
            GenerationRequest(id: 1, prompt: Array(repeating: 1, count: 30), maxNewTokens: 20),
            GenerationRequest(id: 2, prompt: [1, 2], maxNewTokens: 3),
        ], kvBlocks: 8, blockSize: 4)
        guard case .rejected = results[1]?.finish else { Issue.record("expected a rejection"); return }
        #expect(results[2]?.tokens.count == 3)
    }

    @Test func engineQueuesWhenCacheIsBusy() throws {
        // Room for one request at a time: the second waits, then runs, with the same tokens as alone.
        let dir = try TestModels.write()
        let requests = [GenerationRequest(id: 1, prompt: [1, 2, 3, 4, 5], maxNewTokens: 6), GenerationRequest(id: 2, prompt: [7, 8, 9, 10], maxNewTokens: 7)]
        let tight = try TestModels.generate(directory: dir, stages: 2, requests: requests, kvBlocks: 3, blockSize: 4)
        let roomy = try TestModels.generate(directory: dir, stages: 2, requests: requests)
        #expect(tight[1]?.tokens == roomy[1]?.tokens)
        #expect(tight[2]?.tokens == roomy[2]?.tokens)
    }
}
