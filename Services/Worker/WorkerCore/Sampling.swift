import Foundation
import Tensor

/// How the last stage picks a token from the logits of one request.
public struct SamplingParameters: Equatable, Sendable {
    /// 0 (or `greedy`) means argmax.
    public var temperature: Float
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches `topP`.
    public var topP: Float
    public var seed: UInt64

    public init(temperature: Float = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topP = topP
        self.seed = seed
    }

    public static let greedy = SamplingParameters()
    /// Temperatures this low make exp overflow; they mean argmax anyway.
    public var isGreedy: Bool { temperature < 1e-4 }

    public func validate() throws {
        guard temperature.isFinite, temperature >= 0 else { throw WorkerError.invalidArgument("temperature must be ≥ 0 (got \(temperature))") }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw WorkerError.invalidArgument("top-p must be in (0, 1] (got \(topP))") }
    }
}

/// A request's sampler: its parameters and a random stream seeded once, so that its tokens
/// do not depend on which other requests share a batch.
struct RequestSampler {
    let parameters: SamplingParameters
    private var rng: SeededGenerator

    init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        rng = SeededGenerator(seed: parameters.seed)
    }

    mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int {
        if parameters.isGreedy { return Self.argmax(logits) }
        let inverseTemperature = 1 / parameters.temperature
        var maximum = -Float.infinity
        for v in logits where v > maximum { maximum = v }
        var probabilities = logits.map { expf(($0 - maximum) * inverseTemperature) }
        let total = probabilities.reduce(0, +)
        for i in probabilities.indices { probabilities[i] /= total }
        var order = Array(probabilities.indices)
        var kept = order.count
        if parameters.topP < 1 {
            order.sort { probabilities[$0] > probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1) }
            var cumulative: Float = 0
            kept = 0
            while kept < order.count {
                cumulative += probabilities[order[kept]]
                kept += 1
                if cumulative >= parameters.topP { break }
            }
        }
        let mass = order[0..<kept].reduce(Float(0)) { $0 + probabilities[$1] }
        var target = rng.unit() * mass
        for index in order[0..<kept] {
            target -= probabilities[index]
            if target < 0 { return index }
        }
        return order[kept - 1]
    }

    static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for i in 1..<logits.count where logits[i] > logits[best] { best = i }
        return best
    }
}


/// log softmax(logits)[token], computed stably; -inf for a token outside the logits.
public func logProbability(of token: Int, in logits: [Float]) -> Float {
    guard logits.indices.contains(token), let maximum = logits.max() else { return -.infinity }
    var sum: Double = 0
    for value in logits { sum += exp(Double(value - maximum)) }
    return Float(Double(logits[token] - maximum) - log(sum))
}
