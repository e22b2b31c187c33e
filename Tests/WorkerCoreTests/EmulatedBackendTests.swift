import Foundation
import Testing
import WorkerCore

/// Records the time an emulated stage would sleep.
final class SleepRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var seconds: [Double] = []
    var recorded: [Double] { lock.withLock { seconds } }
    var sleep: @Sendable (Double) -> Void { { [self] s in lock.withLock { seconds.append(s) } } }
}

@Suite struct EmulatedBackendTests {
    /// A profiles folder with hand-made curves: prompt 0→0, 100→10 ms; decode 0→0, 2→4, 10→6 ms.
    func handMadeProfiles() throws -> String {
        let root = TestModels.temporaryDirectory("profiles")
        let dir = root + "/llama2_70b/fake"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "0,0\n100,10\n".write(toFile: dir + "/prompt_bs2time.csv", atomically: true, encoding: .utf8)
        try "0,0\n2,4\n10,6".write(toFile: dir + "/decode_bs2time.csv", atomically: true, encoding: .utf8)
        return root
    }

    @Test func curveInterpolatesByHand() throws {
        let curve = try LayerTimeCurve(points: [(0, 0), (2, 1.4), (4, 1.4), (100, 2.5)])
        #expect(abs(curve.milliseconds(tokens: 1) - 0.7) < 1e-12)
        #expect(abs(curve.milliseconds(tokens: 3) - 1.4) < 1e-12)
        #expect(abs(curve.milliseconds(tokens: 52) - 1.95) < 1e-12)
        #expect(abs(curve.milliseconds(tokens: 196) - 3.6) < 1e-12)   // extrapolated along the last segment
        #expect(curve.milliseconds(tokens: 0) == 0)
        #expect(throws: WorkerError.self) { try LayerTimeCurve(csv: "0,0\n5,x\n", source: "t.csv") }
    }

    @Test func stagesTakeProfileTimeAndSendRealSizedPayloads() throws {
        let profile = try GPUProfile.load(profilesDirectory: try handMadeProfiles(), model: EmulatedModel.named("llama2-70b"), gpu: "FAKE")
        let recorder = SleepRecorder()
        let first = try EmulatedStage(profile: profile, layers: 0..<30, kvTokens: 64, blockSize: 16, payloads: .real, sleep: recorder.sleep)
        let last = try EmulatedStage(profile: profile, layers: 30..<80, kvTokens: 64, blockSize: 16, payloads: .real, sleep: recorder.sleep)
        // Prefill of 50 tokens: 30 layers × 5 ms = 0.15 s on the first stage.
        let prefill = [BatchEntry(requestID: 1, position: 0, tokenCount: 50, wantsToken: true, sampling: SamplingParameters(seed: 3))]
        let out = try first.step(StepBatch(entries: prefill, input: .tokens(Array(repeating: 7, count: 50))))
        let hidden = try #require(out.hidden)
        #expect(hidden.bytes.count == 50 * 8192 * 2)
        #expect(abs(out.seconds - 0.15) < 1e-12)
        let tokens = try last.step(StepBatch(entries: prefill, input: .hidden(hidden))).tokens
        #expect(tokens.count == 1 && tokens[0].position == 50 && tokens[0].token >= 0 && tokens[0].token < 32000)
        // One decode token, alone: 50 layers × 2 × 2 ms (twice the curve, as the simulators charge a
        // lone decode) = 0.2 s on the last stage.
        let decode = [BatchEntry(requestID: 1, position: 50, tokenCount: 1, wantsToken: true)]
        let one = HiddenStates(rows: 1, width: 8192, encoding: .float16, bytes: Array(repeating: 0, count: 8192 * 2))
        #expect(abs(try last.step(StepBatch(entries: decode, input: .hidden(one))).seconds - 0.2) < 1e-12)
        #expect(recorder.recorded.count == 3)
        #expect(abs(recorder.recorded[1] - 0.25) < 1e-12)  // 50 layers × 5 ms for the 50-token prefill
        // KV: 64 tokens per layer; 51 used (4 blocks), a 14-token prompt needs one more block than is left.
        #expect(last.stats.kvCapacityEntries == 64 * 50)
        let big = [BatchEntry(requestID: 2, position: 0, tokenCount: 14, wantsToken: true)]
        let fourteen = HiddenStates(rows: 14, width: 8192, encoding: .float16, bytes: Array(repeating: 0, count: 14 * 8192 * 2))
        #expect(throws: WorkerError.kvCacheFull(needed: 1, free: 0)) { try last.step(StepBatch(entries: big, input: .hidden(fourteen))) }
        #expect(throws: WorkerError.self) { try last.step(StepBatch(entries: decode, input: .tokens([1]))) }
        last.release(1)
        #expect(last.stats.kvUsedEntries == 0)
        #expect(throws: WorkerError.self) { try EmulatedModel.named("gpt-5") }
        #expect(throws: WorkerError.self) { try GPUProfile.load(profilesDirectory: try handMadeProfiles(), model: EmulatedModel.named("llama2-70b"), gpu: "H100") }
    }

    /// By default emulated stages pass the shape alone: no bytes, the float16 size declared for
    /// links to charge, and the same time and KV accounting as with real-size payloads.
    @Test func declaredPayloadsCarryNoBytesButTheirSize() throws {
        let profile = try GPUProfile.load(profilesDirectory: try handMadeProfiles(), model: EmulatedModel.named("llama2-70b"), gpu: "fake")
        let first = try EmulatedStage(profile: profile, layers: 0..<30, kvTokens: 64, sleep: { _ in })
        let last = try EmulatedStage(profile: profile, layers: 30..<80, kvTokens: 64, sleep: { _ in })
        let prefill = [BatchEntry(requestID: 1, position: 0, tokenCount: 50, wantsToken: true)]
        let out = try first.step(StepBatch(entries: prefill, input: .tokens(Array(repeating: 7, count: 50))))
        let hidden = try #require(out.hidden)
        #expect(hidden.encoding == .declared && hidden.bytes.isEmpty && hidden.rows == 50 && hidden.width == 8192)
        #expect(hidden.chargedBytes == 50 * 8192 * 2)
        #expect(abs(out.seconds - 0.15) < 1e-12)
        #expect(try last.step(StepBatch(entries: prefill, input: .hidden(hidden))).tokens.count == 1)
        #expect(last.stats.kvUsedEntries == 64 * 50)
        // A computing stage cannot run on them, and says why.
        #expect(throws: WorkerError.self) { try hidden.tensor() }
        // A declared tensor that claims bytes is malformed.
        let lying = HiddenStates(rows: 1, width: 8192, encoding: .declared, bytes: [1, 2])
        #expect(throws: WorkerError.self) {
            try last.step(StepBatch(entries: [BatchEntry(requestID: 1, position: 50, tokenCount: 1, wantsToken: true)], input: .hidden(lying)))
        }
    }

    @Test func emulatedPipelineRunsTheBatchingEngine() throws {
        let profile = try GPUProfile.load(profilesDirectory: try handMadeProfiles(), model: EmulatedModel.named("llama2-70b"), gpu: "fake")
        let recorder = SleepRecorder()
        let stages = try [0..<40, 40..<80].map { try EmulatedStage(profile: profile, layers: $0, kvTokens: 256, sleep: recorder.sleep) }
        let engine = try BatchingEngine(pipeline: InProcessPipeline(stages: stages))
        try engine.submit(GenerationRequest(id: 1, prompt: [1, 2, 3], maxNewTokens: 4, sampling: SamplingParameters(seed: 1)))
        try engine.submit(GenerationRequest(id: 2, prompt: [4, 5], maxNewTokens: 2))
        let results = try engine.runToCompletion()
        #expect(results[1]?.tokens.count == 4 && results[2]?.tokens.count == 2)
        #expect(stages.allSatisfy { $0.stats.kvUsedEntries == 0 })
    }

    /// The published profiles the repository ships (Shared/Data/helix/profiles): they must be present.
    @Test
    func publishedProfilesLoad() throws {
        let dir = try #require(GPUProfile.defaultProfilesDirectory(), "the repository's Shared/Data/helix/profiles is missing")
        let a100 = try GPUProfile.load(profilesDirectory: dir, model: EmulatedModel.named("llama2-70b"), gpu: "A100")
        #expect(a100.decode.milliseconds(tokens: 2) == 1.4)
        #expect(a100.prompt.milliseconds(tokens: 250) == 2)
        #expect(a100.kvCapacityByLayers[1] == 7_973_216)
        let stage = try EmulatedStage(profile: a100, layers: 0..<1, sleep: { _ in })
        #expect(stage.stats.kvCapacityEntries <= 7_973_216 && stage.stats.kvCapacityEntries > 7_973_216 - 16)
        let t4 = try GPUProfile.load(profilesDirectory: dir, model: EmulatedModel.named("llama1_30b"), gpu: "t4")
        #expect(t4.batchSeconds(layers: 2, promptTokens: 0, decodeTokens: 0) == 0)
    }

    /// A lone decode costs what our simulator and Helix's charge: twice the profile's time at one
    /// sequence (its smallest measured batch is 2; below it the curve runs to its 0,0 row, so
    /// interpolated alone one sequence would take half the time of two).
    @Test
    func aLoneDecodeTakesTheSimulatorsTime() throws {
        let dir = try #require(GPUProfile.defaultProfilesDirectory(), "the repository's Shared/Data/helix/profiles is missing")
        let a100 = try GPUProfile.load(profilesDirectory: dir, model: EmulatedModel.named("llama2-70b"), gpu: "A100")
        #expect(a100.decode.milliseconds(tokens: 1) == 0.7)
        #expect(abs(a100.batchSeconds(layers: 3, promptTokens: 0, decodeTokens: 1) - 3 * 1.4e-3) < 1e-12)
        #expect(abs(a100.batchSeconds(layers: 3, promptTokens: 0, decodeTokens: 2) - 3 * 1.4e-3) < 1e-12)
        #expect(abs(a100.batchSeconds(layers: 1, promptTokens: 250, decodeTokens: 1) - (2 + 1.4) * 1e-3) < 1e-12)
    }
}
