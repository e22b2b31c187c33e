import Foundation
import WorkerCore

/// Tiny models written to temporary directories for tests.
enum TestModels {
    static let tinyConfig = LlamaConfig(hiddenSize: 32, intermediateSize: 48, layerCount: 4, headCount: 4, kvHeadCount: 2,
                                        vocabSize: 64, rmsNormEpsilon: 1e-5, ropeTheta: 10_000)

    static func temporaryDirectory(_ name: String) -> String {
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("lattice-worker-tests-\(name)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func write(_ config: LlamaConfig = tinyConfig, seed: UInt64 = 7, dtype: SafeTensorsDType = .f32, shards: Int = 1, name: String = "model") throws -> String {
        let path = temporaryDirectory(name)
        try RandomModel.write(config: config, seed: seed, to: path, dtype: dtype, shards: shards)
        return path
    }

    /// Generates with the model split into `stages` even stages.
    static func generate(directory: String, stages: Int, requests: [GenerationRequest], prefillChunk: Int = 256,
                         maxBatchTokens: Int = 512, kvBlocks: Int = 64, blockSize: Int = 4) throws -> [UInt64: GenerationResult] {
        let model = try ModelDirectory(path: directory)
        let ranges = try InProcessPipeline.evenSplit(layers: model.config.layerCount, count: stages)
        let runners = try ranges.map { try LayerRangeRunner(directory: model, layers: $0, kvBlocks: kvBlocks, blockSize: blockSize) }
        let engine = try BatchingEngine(pipeline: InProcessPipeline(stages: runners), maxBatchTokens: maxBatchTokens,
                                        prefillChunk: prefillChunk, keepsLogits: true)
        for request in requests { try engine.submit(request) }
        return try engine.runToCompletion()
    }

    static func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        let scale = max(b.map(abs).max() ?? 0, 1e-12)
        return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
    }
}
