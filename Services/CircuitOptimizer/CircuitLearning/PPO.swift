import Foundation
import Tensor

public struct PPOSettings: Sendable {
    public var clip: Float = 0.2
    public var entropy: Float = 0.02
    public var critic: Float = 0.5
    public var epochs = 4
    public var batchSize = 64
    public init() {}
}

/// Proximal policy optimisation on batches of k-hop states, each batch one sparse graph:
/// loss = −min(ρ·A, clip(ρ, 1±ε)·A) + 0.5·(V − target)² − 0.02·entropy, averaged over the batch.
public struct PPO: Sendable {
    public var settings: PPOSettings
    public var adam: Adam

    public init(settings: PPOSettings = PPOSettings()) {
        self.settings = settings
        adam = Adam(learningRate: 3e-4, rates: [(prefix: "critic.", rate: 5e-4)], warmup: 50, clipNorm: 1)
    }

    public struct Stats: Sendable {
        public var loss: Float = 0
        public var batches = 0
    }

    /// Runs the epochs over `transitions` and updates the model; the order of batches comes from `rng`.
    public mutating func update(_ model: inout QuarlModel, _ transitions: [Transition], rng: inout SeededGenerator,
                                deadline: (() -> Bool)? = nil) -> Stats {
        var stats = Stats()
        guard !transitions.isEmpty else { return stats }
        // Advantages normalised over the whole iteration (a shift keeps their order; the scale keeps steps even).
        let mean = transitions.reduce(0) { $0 + $1.advantage } / Float(transitions.count)
        let variance = transitions.reduce(0) { $0 + ($1.advantage - mean) * ($1.advantage - mean) } / Float(transitions.count)
        let scale = 1 / (variance.squareRoot() + 1e-6)
        var order = Array(transitions.indices)
        for _ in 0..<settings.epochs {
            order.shuffle(using: &rng)
            for start in stride(from: 0, to: order.count, by: settings.batchSize) {
                if deadline?() == true { return stats }
                let batch = order[start..<min(start + settings.batchSize, order.count)].map { transitions[$0] }
                let (loss, gradients) = lossAndGradients(model, batch, advantageMean: mean, advantageScale: scale)
                adam.update(&model.parameters, gradients: gradients)
                stats.loss += loss
                stats.batches += 1
            }
        }
        if stats.batches > 0 { stats.loss /= Float(stats.batches) }
        return stats
    }

    func lossAndGradients(_ model: QuarlModel, _ batch: [Transition], advantageMean: Float, advantageScale: Float) -> (Float, [String: Tensor]) {
        let (graph, offsets) = CircuitGraph.batch(batch.map(\.state))
        let tape = Tape()
        let h = tape.gather(model.embed(graph, on: tape), rows: zip(batch, offsets).map { $0.center + $1 })
        let n = batch.count, actions = model.config.actions
        var mask = [Bool](repeating: false, count: n * actions)
        for (i, t) in batch.enumerated() { for a in t.allowed { mask[i * actions + a] = true } }
        let logProbabilities = tape.maskedLogSoftmax(model.logits(h, on: tape), mask: mask)
        let taken = tape.pick(logProbabilities, columns: batch.map(\.action))
        let ratio = tape.exp(tape.subtract(taken, tape.constant(column(batch.map(\.logProbability)))))
        let advantages = tape.constant(column(batch.map { ($0.advantage - advantageMean) * advantageScale }))
        let surrogate = tape.minimum(tape.multiply(ratio, advantages),
                                     tape.multiply(tape.clamp(ratio, 1 - settings.clip, 1 + settings.clip), advantages))
        let error = tape.subtract(model.values(h, on: tape), tape.constant(column(batch.map(\.target))))
        let entropy = tape.mean(tape.entropy(logProbabilities: logProbabilities, mask: mask))
        let loss = tape.add(tape.add(tape.scale(tape.mean(surrogate), -1),
                                     tape.scale(tape.mean(tape.multiply(error, error)), settings.critic)),
                            tape.scale(entropy, -settings.entropy))
        tape.backward(from: loss)
        return (tape.value(loss).scalars[0], tape.parameterGradients())
    }

    private func column(_ xs: [Float]) -> Tensor { Tensor(shape: [xs.count, 1], scalars: xs)! }
}
