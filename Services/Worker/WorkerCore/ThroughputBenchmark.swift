import Foundation
import Tensor

/// Prefill and decode throughput of a model in one process, and the decode floor that memory
/// bandwidth sets (every weight byte is read once per decode step).
public struct ThroughputBenchmark {
    public struct Row: Sendable {
        public var batch: Int
        public var prefillTokensPerSecond: Double
        public var decodeTokensPerSecond: Double
    }

    public var parameters: Int
    public var weightBytes: Int
    public var copyBandwidth: Double   // bytes/s, read + write counted
    public var rows: [Row]
    public var blasCore: String = BLASThreads.coreName

    /// Decode tokens/s at batch 1 if reading the weights were the only cost.
    public var bandwidthFloorTokensPerSecond: Double { copyBandwidth / Double(weightBytes) }

    public static func run(path: String, batchSizes: [Int], promptTokens: Int, decodeSteps: Int) throws -> ThroughputBenchmark {
        guard promptTokens >= 1, decodeSteps >= 1 else { throw WorkerError.invalidArgument("prompt and decode token counts must be positive") }
        let model = try LocalModel(path: path)
        let config = model.config
        guard promptTokens + decodeSteps + 1 <= config.maxPositions, batchSizes.allSatisfy({ $0 >= 1 && $0 <= 4096 }) else {
            throw WorkerError.invalidArgument("prompt + decode tokens must fit max_position_embeddings (\(config.maxPositions)) and batch sizes must be 1…4096")
        }
        var rows: [Row] = []
        var weightBytes = 0
        for batch in batchSizes {
            let perRequest = promptTokens + decodeSteps + 1
            let engine = try model.makeEngine(stages: 1, kvTokens: batch * (perRequest + 16), prefillChunk: promptTokens,
                                              maxBatchTokens: min(8192, max(512, batch * promptTokens)))
            weightBytes = engine.pipeline.stages.reduce(0) { $0 + $1.stats.weightBytes }
            var rng = SeededGenerator(seed: 42)
            for id in 0..<batch {
                let prompt = (0..<promptTokens).map { _ in Int32(rng.next() % UInt64(config.vocabSize)) }
                try engine.submit(GenerationRequest(id: UInt64(id), prompt: prompt, maxNewTokens: decodeSteps + 1))
            }
            // Prefill: steps until every request has its first token (one step when the prompts fit a batch).
            var started = Set<UInt64>()
            var start = DispatchTime.now().uptimeNanoseconds
            while started.count < batch { for token in try engine.step() { started.insert(token.requestID) } }
            let prefillSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            start = DispatchTime.now().uptimeNanoseconds
            var decoded = 0
            while !engine.isIdle { decoded += try engine.step().count }
            let decodeSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            rows.append(Row(batch: batch, prefillTokensPerSecond: Double(batch * promptTokens) / prefillSeconds,
                            decodeTokensPerSecond: Double(decoded) / decodeSeconds))
        }
        let parameters = LlamaTensorNames.all(for: config).reduce(0) { $0 + $1.shape.reduce(1, *) }
        return ThroughputBenchmark(parameters: parameters, weightBytes: weightBytes, copyBandwidth: measureCopyBandwidth(), rows: rows)
    }

    /// memcpy of a buffer much larger than the caches; bytes read plus bytes written per second, best of 5.
    public static func measureCopyBandwidth(bytes: Int = 256 << 20) -> Double {
        let source = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        let target = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { source.deallocate(); target.deallocate() }
        memset(source, 1, bytes)
        memset(target, 0, bytes)
        var best = 0.0
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            memcpy(target, source, bytes)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, 2 * Double(bytes) / seconds)
        }
        return best
    }

    public func jsonObject(threads: Int) -> [String: Any] {
        [
            "parameters": parameters, "weight_bytes": weightBytes, "copy_bandwidth_bytes_per_s": copyBandwidth,
            "bandwidth_floor_decode_tokens_per_s": bandwidthFloorTokensPerSecond, "threads": threads, "blas_core": blasCore,
            "rows": rows.map { ["batch": $0.batch, "prefill_tokens_per_s": $0.prefillTokensPerSecond, "decode_tokens_per_s": $0.decodeTokensPerSecond] },
        ]
    }

    public var text: String {
        var lines = [String(format: "parameters %d, weights %.1f MB, copy bandwidth %.2f GB/s (read+write), decode floor at batch 1: %.1f tokens/s",
                            parameters, Double(weightBytes) / 1e6, copyBandwidth / 1e9, bandwidthFloorTokensPerSecond) + ", OpenBLAS kernels: " + blasCore]
        lines.append("batch  prefill tok/s  decode tok/s")
        for row in rows { lines.append(String(format: "%5d  %13.1f  %12.1f", row.batch, row.prefillTokensPerSecond, row.decodeTokensPerSecond)) }
        return lines.joined(separator: "\n")
    }
}
