import CircuitCore
import Foundation
import Tensor

/// A circuit to train on, by name (for progress lines).
public struct TrainingCircuit: Sendable {
    public var name: String
    public var circuit: Circuit
    public init(name: String, circuit: Circuit) { self.name = name; self.circuit = circuit }
}

/// PPO training on a set of circuits: each iteration runs episodes on both cores from start circuits
/// drawn from per-circuit buffers (towards low cost), then updates the model on their k-hop states.
public struct Trainer: Sendable {
    public private(set) var model: QuarlModel
    public private(set) var iteration = 0
    public private(set) var buffers: [StartBuffer]
    public var episodesPerIteration = 32
    public var episode = EpisodeSettings()
    var ppo: PPO
    let engine: RewriteEngine
    let cost: CostKind
    var rng: SeededGenerator

    public init(model: QuarlModel, rules: RuleSet, circuits: [TrainingCircuit], cost: CostKind = .gates,
                seed: UInt64 = 1, ppo: PPOSettings = PPOSettings()) {
        self.model = model
        engine = RewriteEngine(rules: rules.rules)
        self.cost = cost
        buffers = circuits.map { StartBuffer(name: $0.name, circuit: $0.circuit, cost: $0.circuit.cost(cost)) }
        self.ppo = PPO(settings: ppo)
        rng = SeededGenerator(seed: seed)
    }

    public struct Progress: Sendable {
        public var iteration: Int
        public var episodes: Int
        public var steps: Int
        public var meanReward: Float
        public var loss: Float
        public var stepsPerSecond: Double
        /// Per circuit: name, starting cost, best cost found so far.
        public var best: [(name: String, initial: Int, best: Int)]

        public var line: String {
            let costs = best.map { "\($0.name) \($0.initial)→\($0.best)" }.joined(separator: ", ")
            return String(format: "iter %d: %d episodes, mean reward %.2f, loss %.3f, %.0f steps/s | ", iteration, episodes,
                          meanReward, loss, stepsPerSecond) + costs
        }
    }

    /// One iteration: rollouts on two threads, then the PPO epochs (stopping early at the deadline).
    public mutating func iterate(deadline: Deadline) -> Progress {
        let start = Deadline.now()
        let half = episodesPerIteration / 2
        let snapshot = self
        @Sendable func worker(_ w: Int, _ generator: SeededGenerator) -> [(Int, EpisodeRunner.Outcome)] {
            var g = generator
            let runner = EpisodeRunner(model: snapshot.model, engine: snapshot.engine, settings: snapshot.episode)
            var out: [(Int, EpisodeRunner.Outcome)] = []
            for e in 0..<half where !deadline.expired {
                let b = (e * 2 + w + snapshot.iteration) % snapshot.buffers.count
                let from = snapshot.buffers[b].sample(using: &g)
                out.append((b, runner.run(from: from, cost: snapshot.cost, rng: &g, deadline: deadline)))
            }
            return out
        }
        let blas = BLASThreads.current
        BLASThreads.set(1)
        let seed0 = rng.split(), seed1 = rng.split()
        let results = ParallelPair.run({ worker(0, seed0) }, { worker(1, seed1) })
        BLASThreads.set(blas)
        var transitions: [Transition] = []
        var reward: Float = 0
        let outcomes = results.0 + results.1
        for (b, o) in outcomes {
            transitions += o.transitions
            reward += o.totalReward
            for (c, circuit) in o.visited { buffers[b].add(circuit, cost: c) }
        }
        let rolloutSeconds = Deadline.now() - start
        let stats = ppo.update(&model, transitions, rng: &rng, deadline: { deadline.expired })
        iteration += 1
        return Progress(iteration: iteration, episodes: outcomes.count, steps: transitions.count,
                        meanReward: outcomes.isEmpty ? 0 : reward / Float(outcomes.count), loss: stats.loss,
                        stepsPerSecond: Double(transitions.count) / max(rolloutSeconds, 1e-9),
                        best: buffers.map { ($0.name, $0.initialCost, $0.best.cost) })
    }
}
