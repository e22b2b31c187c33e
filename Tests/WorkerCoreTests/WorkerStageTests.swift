import Foundation
import Testing
import WorkerCore

/// The stage handle: loading, Forward admission against the ledger, steps and release.
@Suite struct WorkerStageTests {
    static func stage(_ dir: String, kvTokens: Int = 64, blockSize: Int = 4) -> WorkerStage {
        WorkerStage(settings: StageSettings(backend: .cpu, modelDir: dir, modelName: nil, gpu: "T4", profilesDirectory: "",
                                            kvTokens: kvTokens, blockSize: blockSize), workerID: "w1")
    }

    static func slice(_ id: String, at start: Int, tokens: [UInt32], layers: Range<Int> = 0..<4) -> ForwardSlice {
        ForwardSlice(requestID: id, positions: (0..<tokens.count).map { UInt32(start + $0) }, tokenIDs: tokens,
                     layers: (UInt32(layers.lowerBound), UInt32(layers.upperBound)), replyTo: "127.0.0.1:1")
    }

    /// A step's wall time runs from its launch, so a step that waited (here 50 ms, behind other
    /// work on the compute queue) counts the wait, beside the emulated GPU's far shorter profile time.
    @Test func stepsCountTheirWallTimeFromLaunch() async throws {
        let profiles = try #require(WorkerCore.GPUProfile.defaultProfilesDirectory())
        let stage = WorkerStage(settings: StageSettings(backend: .emulated, modelDir: nil, modelName: "llama2-70b", gpu: "T4", profilesDirectory: profiles,
                                                        kvTokens: 1024, blockSize: 16), workerID: "w1")
        _ = try await stage.load(start: 0, end: 1, model: nil, epoch: nil) { _, _ in }
        let batch = StepBatch(entries: [BatchEntry(requestID: 1, position: 0, tokenCount: 4, wantsToken: false)], input: .tokens([1, 2, 3, 4]),
                              launched: .now - .milliseconds(50))
        guard case .success(let output) = await stage.step(batch) else {
            Issue.record("an emulated prefill of four tokens must run")
            return
        }
        #expect(output.seconds < 0.01)   // a T4 layer on four prompt tokens: ~0.3 ms
        #expect(stage.ledger.stepWallSeconds >= 0.05, "\(stage.ledger.stepWallSeconds)")
        #expect(stage.ledger.batches == 1)
    }

    @Test func refusesBeforeLoadAndCountsTheRefusal() async throws {
        let stage = Self.stage(try TestModels.write())
        #expect(throws: ForwardRefusal(.failedPrecondition, "worker/Forward: worker w1 has no layers loaded yet; wait for its plan assignment or call worker/LoadLayers")) {
            try stage.admit([Self.slice("a", at: 0, tokens: [1])])
        }
        #expect(stage.ledger.forwardCalls == 1 && stage.ledger.forwardRejected == 1)
        guard case .failure = await stage.step(StepBatch(entries: [BatchEntry(requestID: 1, position: 0, tokenCount: 1, wantsToken: true)],
                                                          input: .tokens([1]))) else {
            Issue.record("a step before LoadLayers must fail")
            return
        }
    }

    @Test func loadReportsShapeAndBadRangesAreWorkerErrors() async throws {
        let dir = try TestModels.write()
        let stage = Self.stage(dir)
        await #expect(throws: WorkerError.self) { try await stage.load(start: 2, end: 2, model: nil, epoch: nil) { _, _ in } }
        await #expect(throws: WorkerError.self) { try await stage.load(start: 0, end: 9, model: nil, epoch: nil) { _, _ in } }
        let loaded = try await stage.load(start: 0, end: 4, model: nil, epoch: 3) { _, _ in }
        #expect(loaded.shape == StageShape(layers: 0..<4, totalLayers: 4, hiddenSize: 32, vocabSize: 64, blockSize: 4, totalBlocks: 16))
        #expect(loaded.model.layerCount == 4 && loaded.model.modelDir == dir && loaded.model.name == (dir as NSString).lastPathComponent)
        #expect(stage.epoch == 3 && stage.shape?.isFirst == true && stage.shape?.isLast == true)
    }

    @Test func admissionChecksEachItemAndChangesNothingOnRefusal() async throws {
        let stage = Self.stage(try TestModels.write(), kvTokens: 16, blockSize: 4)   // 4 blocks
        _ = try await stage.load(start: 0, end: 4, model: nil, epoch: nil) { _, _ in }
        func refusal(_ slices: [ForwardSlice]) -> ForwardRefusal? {
            do { _ = try stage.admit(slices); return nil } catch { return error }
        }
        #expect(refusal([])?.kind == .invalidArgument)
        #expect(refusal([Self.slice("a", at: 0, tokens: [1], layers: 0..<2)])?.kind == .failedPrecondition)
        #expect(refusal([Self.slice("a", at: 0, tokens: [1]), Self.slice("a", at: 0, tokens: [2])])?.message.contains("twice") == true)
        #expect(refusal([Self.slice("a", at: 0, tokens: [64])])?.message.contains("outside the vocabulary [0, 64)") == true)
        var gap = Self.slice("a", at: 0, tokens: [1, 2])
        gap.positions = [0, 2]
        #expect(refusal([gap])?.message.contains("consecutive") == true)
        var noReply = Self.slice("a", at: 0, tokens: [1])
        noReply.replyTo = ""
        #expect(refusal([noReply])?.message.contains("reply_to is empty") == true)
        #expect(refusal([Self.slice("a", at: 3, tokens: [1])])?.kind == .failedPrecondition)
        #expect(refusal([Self.slice("a", at: 0, tokens: Array(repeating: 1, count: 17))])?.kind == .resourceExhausted)
        #expect(stage.ledger.lengths.isEmpty && stage.ledger.queued == 0 && stage.ledger.forwardRejected == 8)

        // 12 tokens take 3 of the 4 blocks; the next request's 8 need 2, and only 1 is free.
        let ids = try stage.admit([Self.slice("a", at: 0, tokens: Array(repeating: 1, count: 12))])
        #expect(ids == [1] && stage.ledger.lengths == ["a": 12] && stage.ledger.queued == 1)
        #expect(refusal([Self.slice("b", at: 0, tokens: Array(repeating: 2, count: 8))])?.kind == .resourceExhausted)
        // A continuation must start where the cache ends.
        #expect(try stage.admit([Self.slice("a", at: 12, tokens: [3])]) == [1])
        let (released, _) = await stage.release(["a", "unknown"])
        #expect(released == 1 && stage.ledger.lengths.isEmpty)
        #expect(try stage.admit([Self.slice("b", at: 0, tokens: Array(repeating: 2, count: 8))]) == [2])
    }

    @Test func laterStagesTakeHiddenStatesOfTheDeclaredShapeAndNeedANextHop() async throws {
        let stage = Self.stage(try TestModels.write())
        _ = try await stage.load(start: 1, end: 3, model: nil, epoch: nil) { _, _ in }
        var item = ForwardSlice(requestID: "a", positions: [0, 1], layers: (1, 3), nextHop: (3, 4))
        func refusal() -> String? {
            do { _ = try stage.admit([item]); return nil } catch { return error.message }
        }
        #expect(refusal()?.contains("takes hidden states, not token ids") == true)
        item.hidden = ForwardSlice.Hidden(shape: [2, 32], encoding: .float16, bytes: Array(repeating: 0, count: 2 * 32 * 4))
        #expect(refusal()?.contains("must have shape [2, 32] and 128 bytes") == true)
        item.hidden?.bytes = Array(repeating: 0, count: 128)
        item.nextHop = nil
        #expect(refusal()?.contains("route is empty") == true)
        item.nextHop = (2, 4)
        #expect(refusal()?.contains("the next hop runs [2, 4)") == true)
        item.nextHop = (3, 4)
        #expect(refusal() == nil)
    }

    @Test func stepsMatchALoneRunnerAndFeedTheLedger() async throws {
        let dir = try TestModels.write()
        let stage = Self.stage(dir)
        _ = try await stage.load(start: 0, end: 4, model: nil, epoch: nil) { _, _ in }
        let alone = try LayerRangeRunner(directory: ModelDirectory(path: dir), layers: 0..<4, kvBlocks: 16, blockSize: 4)
        let prompt = StepBatch(entries: [BatchEntry(requestID: 1, position: 0, tokenCount: 3, wantsToken: true)], input: .tokens([5, 6, 7]))
        let expected = try alone.step(prompt).tokens
        let output = try await stage.step(prompt).get()
        #expect(output.tokens == expected)
        let next = try await stage.step(StepBatch(entries: [BatchEntry(requestID: 1, position: 3, tokenCount: 1, wantsToken: true)],
                                                  input: .tokens([expected[0].token]))).get()
        #expect(next.tokens.count == 1)
        let ledger = stage.ledger
        #expect(ledger.batches == 2 && ledger.batchTokens == 4 && ledger.prefill.tokens == 3 && ledger.decode.tokens == 1)
        #expect(ledger.meanBatchTokens == 2 && ledger.stats?.activeRequests == 1)
    }

    @Test func followsOnlyNewAssignmentsOneLoadAtATime() async throws {
        let stage = Self.stage(try TestModels.write())
        #expect(stage.follow(0..<0, epoch: 1) == nil && stage.epoch == 1)
        #expect(stage.follow(0..<2, epoch: 2) == 0..<2)
        #expect(stage.follow(2..<4, epoch: 3) == nil)   // the first load is still running
        _ = try await stage.load(start: 0, end: 2, model: nil, epoch: 2) { _, _ in }
        stage.assignmentLoadEnded()
        #expect(stage.follow(0..<2, epoch: 5) == nil && stage.epoch == 5)   // already loaded: only the epoch moves
        #expect(stage.follow(2..<4, epoch: 6) == 2..<4)
    }
}
