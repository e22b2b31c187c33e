import Foundation

/// Adam with a linear warm-up, per-parameter learning rates chosen by name prefix, and clipping of
/// the global gradient norm.
public struct Adam: Sendable {
    public var learningRate: Float
    /// Parameters whose name starts with a prefix here use its rate instead (first match wins).
    public var rates: [(prefix: String, rate: Float)]
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    /// Steps over which the rate ramps up linearly from rate/warmup to rate.
    public var warmup: Int
    /// Largest global L2 norm of a gradient step (nil: no clipping).
    public var clipNorm: Float?
    public private(set) var step = 0
    private var first: [String: [Float]] = [:]
    private var second: [String: [Float]] = [:]

    public init(learningRate: Float, rates: [(prefix: String, rate: Float)] = [], warmup: Int = 0, clipNorm: Float? = nil) {
        self.learningRate = learningRate
        self.rates = rates
        self.warmup = warmup
        self.clipNorm = clipNorm
    }

    public func rate(for name: String) -> Float {
        let base = rates.first { name.hasPrefix($0.prefix) }?.rate ?? learningRate
        return warmup > 0 ? base * min(1, Float(step + 1) / Float(warmup)) : base
    }

    /// The global L2 norm of `gradients`.
    public static func norm(_ gradients: [String: Tensor]) -> Float {
        gradients.values.reduce(0) { s, g in g.scalars.reduce(s) { $0 + $1 * $1 } }.squareRoot()
    }

    /// Applies one step to the parameters that have gradients; returns the gradient norm before clipping.
    @discardableResult
    public mutating func update(_ store: inout ParameterStore, gradients: [String: Tensor]) -> Float {
        let norm = Adam.norm(gradients)
        let scale: Float = (clipNorm.map { norm > $0 && norm > 0 ? $0 / norm : 1 }) ?? 1
        let t = Float(step + 1)
        let c1 = 1 - powf(beta1, t), c2 = 1 - powf(beta2, t)
        for name in store.names {
            guard let g = gradients[name], var p = store[name] else { continue }
            var m = first[name] ?? [Float](repeating: 0, count: p.count)
            var v = second[name] ?? [Float](repeating: 0, count: p.count)
            let lr = rate(for: name)
            for i in 0..<p.count {
                let gi = g.scalars[i] * scale
                m[i] = beta1 * m[i] + (1 - beta1) * gi
                v[i] = beta2 * v[i] + (1 - beta2) * gi * gi
                p.scalars[i] -= lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + epsilon)
            }
            first[name] = m
            second[name] = v
            store.set(name, p)
        }
        step += 1
        return norm
    }
}
