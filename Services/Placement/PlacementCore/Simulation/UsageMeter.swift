import Foundation

/// What each node did during the measured window: the share of time it computed, and how full
/// its KV cache was (time-sampled mean and peak of the entries held / capacity; a query holds its
/// prompt and one more token per decode step on every layer it runs).
public struct NodeUsage: Sendable, Equatable {
    public var node: Int
    public var type: String
    public var layers: Int
    public var utilisation: Double
    public var kvMean: Double
    public var kvPeak: Double
    /// Tokens (prompt and decode) per batch started in the window, and decode steps per batch: the
    /// live workers' `mean_batch_tokens` (worker/Stats) by the same definition.
    public var meanBatchTokens: Double = 0
    public var meanBatchDecodes: Double = 0
    /// Batches started per second of the window.
    public var batchesPerSecond: Double = 0
    /// Mean seconds a decode step spent at the node, from arriving to its batch's end: the per-hop
    /// time the serving model's decode step sums (session 12: on cluster42 plans 2–7× the node's
    /// own decode pass, the rest waiting behind batches in progress).
    public var meanDecodeSeconds: Double = 0
}

/// Accumulates busy time and KV samples for the simulation engine.
struct UsageMeter {
    /// KV is sampled on this simulated-time grid (cheap next to per-event accounting).
    static let sampleInterval = 1.0
    var busySeconds: [Double] = []
    var kvSum: [Double] = []
    var kvPeak: [Double] = []
    var samples = 0
    var nextSample = 0.0
    var batches: [Int] = []
    var batchTokens: [Int] = []
    var batchDecodes: [Int] = []
    var decodeSeconds: [Double] = []
    var decodesDone: [Int] = []

    /// A batch computed on node j over [from, to); only the part inside [start, end) counts.
    mutating func busy(_ j: Int, from: Double, to: Double, window: ClosedRange<Double>, nodes: Int) {
        if busySeconds.count < nodes { busySeconds = Array(repeating: 0, count: nodes) }
        busySeconds[j] += max(0, min(to, window.upperBound) - max(from, window.lowerBound))
    }

    /// Node j started a batch of `tokens` tokens, `decodes` of them decode steps, at `time`.
    mutating func batch(_ j: Int, tokens: Int, decodes: Int, at time: Double, window: ClosedRange<Double>, nodes: Int) {
        if batches.count < nodes { batches = Array(repeating: 0, count: nodes); batchTokens = batches; batchDecodes = batches }
        guard window.contains(time) else { return }
        batches[j] += 1
        batchTokens[j] += tokens
        batchDecodes[j] += decodes
    }

    /// A decode step finished node j's batch at `time`, `seconds` after arriving there.
    mutating func decodeDone(_ j: Int, seconds: Double, at time: Double, window: ClosedRange<Double>, nodes: Int) {
        if decodeSeconds.count < nodes { decodeSeconds = Array(repeating: 0, count: nodes); decodesDone = Array(repeating: 0, count: nodes) }
        guard window.contains(time) else { return }
        decodeSeconds[j] += seconds
        decodesDone[j] += 1
    }

    /// Samples every node's KV fill for each grid point up to `time` inside the window.
    mutating func sampleKV(upTo time: Double, used: [Double], capacity: [Double], window: ClosedRange<Double>) {
        if kvSum.count < used.count { kvSum = Array(repeating: 0, count: used.count); kvPeak = kvSum; nextSample = window.lowerBound }
        while nextSample <= time && nextSample <= window.upperBound {
            for j in used.indices where capacity[j] > 0 {
                let fill = used[j] / capacity[j]
                kvSum[j] += fill
                kvPeak[j] = max(kvPeak[j], fill)
            }
            samples += 1
            nextSample += Self.sampleInterval
        }
    }

    func report(problem: PlacementProblem, placement: Placement, window: Double) -> [NodeUsage] {
        problem.nodes.indices.compactMap { j in
            guard let range = placement.ranges[j] else { return nil }
            let ran = j < batches.count ? batches[j] : 0
            return NodeUsage(node: j, type: problem.nodes[j].type, layers: range.count,
                             utilisation: window > 0 && j < busySeconds.count ? busySeconds[j] / window : 0,
                             kvMean: samples > 0 && j < kvSum.count ? kvSum[j] / Double(samples) : 0,
                             kvPeak: j < kvPeak.count ? kvPeak[j] : 0,
                             meanBatchTokens: ran > 0 ? Double(batchTokens[j]) / Double(ran) : 0,
                             meanBatchDecodes: ran > 0 ? Double(batchDecodes[j]) / Double(ran) : 0,
                             batchesPerSecond: window > 0 ? Double(ran) / window : 0,
                             meanDecodeSeconds: j < decodesDone.count && decodesDone[j] > 0 ? decodeSeconds[j] / Double(decodesDone[j]) : 0)
        }
    }
}
