import Foundation

/// A worker's measurement of the model it serves, taken once at startup: per-layer seconds for
/// prefills and decode steps at a few batch sizes (placement's T_i(k) inputs). It runs the whole
/// model in one stage and divides by the layer count, so embedding and head are spread over the
/// layers — the same for every worker, so unlike workers still compare truly. Each batch size
/// runs `repeats` times and the fastest run counts: workers start together and the machine may be
/// busy, and a burst of someone else's work must not make a worker look slow for good (placement
/// would then route around it for the life of the plan).
public struct LayerTimings: Sendable, Equatable {
    /// (prompt tokens in the batch, seconds per layer)
    public var prompt: [(tokens: Int, seconds: Double)]
    /// (sequences in the step, seconds per layer)
    public var decode: [(tokens: Int, seconds: Double)]

    public static func == (a: LayerTimings, b: LayerTimings) -> Bool {
        a.prompt.map(\.tokens) == b.prompt.map(\.tokens) && a.prompt.map(\.seconds) == b.prompt.map(\.seconds)
            && a.decode.map(\.tokens) == b.decode.map(\.tokens) && a.decode.map(\.seconds) == b.decode.map(\.seconds)
    }

    /// Times the model at `batches` sequences of `promptTokens`-token prompts, `decodeSteps` steps each,
    /// the fastest of `repeats` runs (at least two batch sizes: placement interpolates between them).
    public static func measure(path: String, batches: [Int] = [1, 4, 16], promptTokens: Int = 8, decodeSteps: Int = 4,
                               repeats: Int = 3) throws -> LayerTimings {
        guard Set(batches).count >= 2, batches.allSatisfy({ $0 >= 1 }), promptTokens >= 1, decodeSteps >= 1, repeats >= 1 else {
            throw WorkerError.invalidArgument("layer timing needs two or more distinct positive batch sizes and positive token and repeat counts")
        }
        let source = try WeightSources.open(path)
        let config = source.config
        let perRequest = promptTokens + decodeSteps + 1
        guard perRequest <= config.maxPositions else {
            throw WorkerError.invalidArgument("layer timing: \(perRequest) positions exceed max_position_embeddings (\(config.maxPositions))")
        }
        let blockSize = 16
        let largest = batches.max() ?? 1
        let blocks = largest * ((perRequest + blockSize - 1) / blockSize + 1)
        let runner = try LayerRangeRunner(directory: source, layers: 0..<config.layerCount, kvBlocks: blocks, blockSize: blockSize, progress: { _, _ in })
        let engine = try BatchingEngine(pipeline: InProcessPipeline(stages: [runner]), maxBatchTokens: max(512, largest * promptTokens),
                                        prefillChunk: promptTokens, keepsLogits: false)
        let layers = Double(config.layerCount)
        var next: UInt64 = 0
        func run(batch: Int) throws -> (prefill: Double, decode: Double) {
            for i in 0..<batch {
                let prompt = (0..<promptTokens).map { Int32((i * 31 + $0 * 7 + 1) % config.vocabSize) }
                try engine.submit(GenerationRequest(id: next, prompt: prompt, maxNewTokens: decodeSteps + 1))
                next += 1
            }
            var started = 0
            var clock = DispatchTime.now().uptimeNanoseconds
            while started < batch { started += try engine.step().count }
            let prefill = Double(DispatchTime.now().uptimeNanoseconds - clock) / 1e9
            clock = DispatchTime.now().uptimeNanoseconds
            var steps = 0
            while !engine.isIdle { _ = try engine.step(); steps += 1 }
            let decode = Double(DispatchTime.now().uptimeNanoseconds - clock) / 1e9 / Double(max(1, steps))
            return (prefill, decode)
        }
        _ = try run(batch: 1)   // warm-up: page in the weights
        var timings = LayerTimings(prompt: [], decode: [])
        for batch in Set(batches).sorted() {
            var (prefill, decode) = try run(batch: batch)
            for _ in 1..<repeats {
                let again = try run(batch: batch)
                (prefill, decode) = (min(prefill, again.prefill), min(decode, again.decode))
            }
            timings.prompt.append((batch * promptTokens, max(prefill, 1e-9) / layers))
            timings.decode.append((batch, max(decode, 1e-9) / layers))
        }
        return timings
    }
}
