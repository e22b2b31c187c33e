/// The latencies a plan must not exceed: by default a reference layout's predicted prompt and
/// decode latency (`SolveOptions.reference`), so that "more tokens/s, latencies no worse" is the
/// serving judge's rule rather than a hope.
public struct LatencyBounds: Sendable, Equatable {
    public var promptSeconds: Double
    public var decodeSeconds: Double

    public init(promptSeconds: Double, decodeSeconds: Double) {
        self.promptSeconds = promptSeconds
        self.decodeSeconds = decodeSeconds
    }

    /// The bounds a reference sets: its own predicted latencies.
    public init(reference prediction: ServingPrediction) {
        self.init(promptSeconds: prediction.promptLatencySeconds, decodeSeconds: prediction.decodeLatencySeconds)
    }

    /// The bounds of the quickest of the planner's own baselines (Petals, Swarm, separate
    /// pipelines), built from the cluster alone: for each latency, the least any baseline that
    /// serves is predicted to have. Nil when none serves.
    public init?(quickestOf baselines: [ServingPrediction]) {
        let serving = baselines.filter { $0.decodeTokensPerSecond > 0 }
        guard let prompt = serving.map(\.promptLatencySeconds).min(), let decode = serving.map(\.decodeLatencySeconds).min() else { return nil }
        self.init(promptSeconds: prompt, decodeSeconds: decode)
    }

    /// The larger relative excess of the prediction's latencies over the bounds; 0 within both.
    /// A prediction with nothing served (no latencies) is beyond every bound.
    public func excess(_ p: ServingPrediction) -> Double {
        guard p.decodeTokensPerSecond > 0 else { return .infinity }
        return max(0, p.promptLatencySeconds / promptSeconds - 1, p.decodeLatencySeconds / decodeSeconds - 1)
    }
}
