/// A prompt to complete.
public struct GenerationRequest: Sendable {
    public var id: UInt64
    public var prompt: [Int32]
    public var maxNewTokens: Int
    public var sampling: SamplingParameters
    public var stopTokens: Set<Int32>

    public init(id: UInt64, prompt: [Int32], maxNewTokens: Int, sampling: SamplingParameters = .greedy, stopTokens: Set<Int32> = []) {
        self.id = id
        self.prompt = prompt
        self.maxNewTokens = maxNewTokens
        self.sampling = sampling
        self.stopTokens = stopTokens
    }
}

public enum FinishReason: Equatable, Sendable {
    case length, stop
    case rejected(String)
}

public struct GenerationResult: Sendable {
    public var id: UInt64
    public var tokens: [Int32]
    public var finish: FinishReason
    /// Logits that produced each token, when the engine keeps them.
    public var logits: [[Float]]
}

/// Continuous batching over an in-process pipeline: every step decodes one token for each
/// running request and fills the rest of the token budget with prompt chunks (chunked
/// prefill), admitting new requests only when every stage's KV cache has room for them.
public final class BatchingEngine {
    public let pipeline: InProcessPipeline
    public let maxBatchTokens: Int
    public let prefillChunk: Int
    public let keepsLogits: Bool

    private struct Running {
        var request: GenerationRequest
        var fed = 0                    // tokens of prompt + generated that the stages have cached
        var generated: [Int32] = []
        var logits: [[Float]] = []
        var need: Int { request.prompt.count + request.maxNewTokens - 1 }   // tokens it will cache
    }

    private var waiting: [Running] = []
    private var running: [Running] = []
    private var finished: [UInt64: GenerationResult] = [:]
    public private(set) var stepCount = 0
    public private(set) var stepSeconds = 0.0

    public init(pipeline: InProcessPipeline, maxBatchTokens: Int = 512, prefillChunk: Int = 256, keepsLogits: Bool = false) throws {
        guard maxBatchTokens >= 1, prefillChunk >= 1 else { throw WorkerError.invalidArgument("batch token budget and prefill chunk must be positive") }
        self.pipeline = pipeline
        self.maxBatchTokens = maxBatchTokens
        self.prefillChunk = prefillChunk
        self.keepsLogits = keepsLogits
        if keepsLogits, let last = pipeline.stages.last as? LayerRangeRunner { last.returnsLogits = true }
    }

    public func submit(_ request: GenerationRequest) throws {
        guard !request.prompt.isEmpty else { throw WorkerError.invalidArgument("request \(request.id): the prompt is empty") }
        guard request.maxNewTokens >= 1 else { throw WorkerError.invalidArgument("request \(request.id): max new tokens must be at least 1") }
        try request.sampling.validate()
        let known = waiting.contains { $0.request.id == request.id } || running.contains { $0.request.id == request.id } || finished[request.id] != nil
        guard !known else { throw WorkerError.invalidArgument("request id \(request.id) is already in use") }
        waiting.append(Running(request: request))
    }

    public var isIdle: Bool { waiting.isEmpty && running.isEmpty }

    /// Runs one step; returns the tokens it produced.
    @discardableResult
    public func step() throws -> [SampledToken] {
        admit()
        var entries: [BatchEntry] = [], tokens: [Int32] = []
        var budget = maxBatchTokens
        // Decode first: one token each for requests past their prompt.
        for r in running where r.fed >= r.request.prompt.count && budget > 0 {
            guard let last = r.generated.last else { continue }
            entries.append(BatchEntry(requestID: r.request.id, position: r.fed, tokenCount: 1, wantsToken: true, sampling: r.request.sampling))
            tokens.append(last)
            budget -= 1
        }
        // Then prompt chunks in arrival order.
        for r in running where r.fed < r.request.prompt.count && budget > 0 {
            let count = min(prefillChunk, r.request.prompt.count - r.fed, budget)
            entries.append(BatchEntry(requestID: r.request.id, position: r.fed, tokenCount: count,
                                      wantsToken: r.fed + count == r.request.prompt.count, sampling: r.request.sampling))
            tokens += r.request.prompt[r.fed..<(r.fed + count)]
            budget -= count
        }
        guard !entries.isEmpty else { return [] }
        let output = try pipeline.step(entries: entries, tokens: tokens)
        stepCount += 1
        stepSeconds += output.seconds
        for entry in entries {
            guard let index = running.firstIndex(where: { $0.request.id == entry.requestID }) else { continue }
            running[index].fed += entry.tokenCount
        }
        for sampled in output.tokens {
            guard let index = running.firstIndex(where: { $0.request.id == sampled.requestID }) else { continue }
            running[index].generated.append(sampled.token)
            if let logits = output.logits[sampled.requestID] { running[index].logits.append(logits) }
            let r = running[index]
            let stop = r.request.stopTokens.contains(sampled.token)
            if stop || r.generated.count >= r.request.maxNewTokens {
                finish(index, reason: stop ? .stop : .length)
            }
        }
        return output.tokens
    }

    /// Steps until every submitted request has finished.
    public func runToCompletion() throws -> [UInt64: GenerationResult] {
        while !isIdle { try step() }
        return finished
    }

    public var results: [UInt64: GenerationResult] { finished }

    /// Moves waiting requests to running while every stage can hold all running requests at full length.
    private func admit() {
        let block = pipeline.blockSize
        func rounded(_ tokens: Int) -> Int { (tokens + block - 1) / block * block }
        let capacity = pipeline.freeTokens + running.reduce(0) { $0 + pipeline.stagesHeldTokens($1.request.id) }
        var committed = running.reduce(0) { $0 + rounded($1.need) }
        while let next = waiting.first {
            if next.need > pipeline.totalTokenCapacity {
                waiting.removeFirst()
                finished[next.request.id] = GenerationResult(id: next.request.id, tokens: [], finish: .rejected(
                    "prompt + max tokens (\(next.need + 1)) exceed the KV cache (\(pipeline.totalTokenCapacity) tokens)"), logits: [])
                continue
            }
            guard committed + rounded(next.need) <= capacity else { break }
            committed += rounded(next.need)
            running.append(waiting.removeFirst())
        }
    }

    private func finish(_ index: Int, reason: FinishReason) {
        let r = running.remove(at: index)
        pipeline.release(r.request.id)
        finished[r.request.id] = GenerationResult(id: r.request.id, tokens: r.generated, finish: reason, logits: r.logits)
    }
}

extension InProcessPipeline {
    /// Token capacity of the smallest stage cache, with nothing held.
    var totalTokenCapacity: Int {
        stages.map { $0.stats.kvCapacityEntries / max(1, $0.layers.count) }.min() ?? 0
    }

    /// The largest KV block size among the stages (admission rounds up to it).
    var blockSize: Int { max(1, stages.map(\.stats.kvBlockSize).max() ?? 1) }

    /// Tokens' worth of blocks a request holds in the fullest stage (block-rounded).
    func stagesHeldTokens(_ request: UInt64) -> Int {
        stages.map { $0.heldTokens(request) }.max() ?? 0
    }
}

extension KVCache {
    /// Tokens' worth of blocks reserved for a request.
    public func heldTokens(_ request: UInt64) -> Int { (tables[request]?.blocks.count ?? 0) * blockSize }
}
