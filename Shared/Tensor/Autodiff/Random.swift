import Foundation

import DeterministicRandom

/// Training and sampling repeat exactly given a seed: they draw from the project's one SplitMix64.
public typealias SeededGenerator = SplitMix64

extension SplitMix64 {
    /// Uniform in [0, 1).
    public mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 24) }

    /// Another generator whose stream does not overlap this one in practice (for a worker thread).
    public mutating func split() -> SplitMix64 { SplitMix64(seed: next()) }
}

/// Weight initialisers.
public enum Initializer {
    /// Glorot/Xavier uniform for a `[out, in]` weight: U(±sqrt(6 / (in + out))).
    public static func xavier(_ shape: [Int], using rng: inout SeededGenerator) -> Tensor {
        let fanOut = shape.first ?? 1, fanIn = shape.count > 1 ? shape[1] : 1
        return uniform(shape, limit: (6 / Float(fanIn + fanOut)).squareRoot(), using: &rng)
    }

    /// He/Kaiming uniform for ReLU layers: U(±sqrt(6 / in)).
    public static func he(_ shape: [Int], using rng: inout SeededGenerator) -> Tensor {
        let fanIn = shape.count > 1 ? shape[1] : 1
        return uniform(shape, limit: (6 / Float(fanIn)).squareRoot(), using: &rng)
    }

    public static func uniform(_ shape: [Int], limit: Float, using rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape) { out in
            for i in 0..<out.count { out[i] = (rng.unit() * 2 - 1) * limit }
        }
    }
}

/// Sampling from a categorical distribution.
public enum Categorical {
    /// An index drawn with probability proportional to `exp(logits[i])` over indices where `mask` is true
    /// (all when `mask` is nil). Nil when nothing is allowed.
    public static func sample(logits: [Float], mask: [Bool]? = nil, using rng: inout SeededGenerator) -> Int? {
        let allowed = { (i: Int) in mask?[i] ?? true }
        var maximum = -Float.infinity
        for i in logits.indices where allowed(i) { maximum = max(maximum, logits[i]) }
        guard maximum > -Float.infinity else { return nil }
        var weights = [Float](repeating: 0, count: logits.count)
        var total: Float = 0
        for i in logits.indices where allowed(i) {
            weights[i] = expf(logits[i] - maximum)
            total += weights[i]
        }
        var u = rng.unit() * total
        var last = -1
        for i in logits.indices where weights[i] > 0 {
            last = i
            u -= weights[i]
            if u < 0 { return i }
        }
        return last
    }

    /// The most likely allowed index.
    public static func argmax(logits: [Float], mask: [Bool]? = nil) -> Int? {
        var best: Int?
        for i in logits.indices where mask?[i] ?? true {
            if best == nil || logits[i] > logits[best!] { best = i }
        }
        return best
    }
}
