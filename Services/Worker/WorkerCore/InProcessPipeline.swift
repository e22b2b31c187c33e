/// Stages run one after another in one process, hidden states handed from each to the next in
/// their wire encoding — the same hand-off the service does over TCP.
public final class InProcessPipeline {
    public let stages: [any StageExecutor]

    /// Checks that the stages cover the model's layers contiguously from 0 to the end.
    public init(stages: [any StageExecutor]) throws {
        guard let first = stages.first, let last = stages.last else { throw WorkerError.invalidArgument("a pipeline needs at least one stage") }
        guard first.isFirst, last.isLast else {
            throw WorkerError.invalidArgument("stages must start at layer 0 and end at the model's last layer")
        }
        for (a, b) in zip(stages, stages.dropFirst()) where a.layers.upperBound != b.layers.lowerBound {
            throw WorkerError.invalidArgument("stage [\(a.layers.lowerBound), \(a.layers.upperBound)) is not followed by one starting at \(a.layers.upperBound)")
        }
        self.stages = stages
    }

    /// Splits a model's layers into `count` nearly equal contiguous ranges.
    public static func evenSplit(layers: Int, count: Int) throws -> [Range<Int>] {
        guard count >= 1, count <= layers else { throw WorkerError.invalidArgument("cannot split \(layers) layers into \(count) stages") }
        return (0..<count).map { i in (i * layers / count)..<((i + 1) * layers / count) }
    }

    /// Tokens a new request can still take in every stage.
    public var freeTokens: Int { stages.map(\.stats.freeTokens).min() ?? 0 }

    /// Runs token ids through all stages; the last stage's output carries the sampled tokens.
    public func step(entries: [BatchEntry], tokens: [Int32]) throws -> StepOutput {
        var input = StageInput.tokens(tokens)
        var seconds = 0.0
        for (index, stage) in stages.enumerated() {
            let output: StepOutput
            do { output = try stage.step(StepBatch(entries: entries, input: input)) } catch {
                // Earlier stages already cached these tokens: drop the requests everywhere so a retry starts clean.
                if index > 0 { for entry in entries { release(entry.requestID) } }
                throw error
            }
            seconds += output.seconds
            if let hidden = output.hidden { input = .hidden(hidden) } else {
                var result = output
                result.seconds = seconds
                return result
            }
        }
        throw WorkerError.invalidArgument("the last stage returned hidden states instead of tokens")
    }

    public func release(_ requestID: UInt64) {
        for stage in stages { stage.release(requestID) }
    }
}
