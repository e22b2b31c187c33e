import CircuitCore
import Foundation
import Tensor

/// What the PPO update needs from one move: the k-hop state around the chosen gate, the allowed
/// actions, the action, its log-probability then, and the value target and advantage.
public struct Transition: Sendable {
    public var state: CircuitGraph
    public var center: Int
    public var allowed: [Int]
    public var action: Int
    public var logProbability: Float
    public var reward: Float
    /// r + γ·max V(s′, the rewritten region: new gates and their wire neighbours), or r when the episode ended.
    public var target: Float
    public var advantage: Float

    public init(state: CircuitGraph, center: Int, allowed: [Int], action: Int, logProbability: Float,
                reward: Float, target: Float, advantage: Float) {
        self.state = state
        self.center = center
        self.allowed = allowed
        self.action = action
        self.logProbability = logProbability
        self.reward = reward
        self.target = target
        self.advantage = advantage
    }
}

public struct EpisodeSettings: Sendable {
    public var gamma: Float = 0.95
    public var maxSteps = 30
    /// The episode ends when the cost exceeds the best seen by this much.
    public var slack = 6
    /// Sample the rule, or take the most likely one.
    public var sampleRule = true
    /// Whether NOP may end the episode after the first move (training); a search walks until the cost
    /// limit or the length cap instead.
    public var allowNop = true
    public init() {}
}

/// Runs one episode from `start` in a `RewriteEnvironment` (incremental matching, no DAG rebuilt per
/// move, incremental embeddings); returns its transitions and the cheapest circuit it passed through.
public struct EpisodeRunner: Sendable {
    public let model: QuarlModel
    public let engine: RewriteEngine
    public let settings: EpisodeSettings

    public init(model: QuarlModel, engine: RewriteEngine, settings: EpisodeSettings) {
        self.model = model
        self.engine = engine
        self.settings = settings
    }

    public struct Outcome: Sendable {
        public var transitions: [Transition]
        public var best: Circuit
        public var bestCost: Int
        public var totalReward: Float
        /// Circuits passed through with their costs (for the start buffer).
        public var visited: [(Int, Circuit)]
        /// Where the episode ended.
        public var last: Circuit
    }

    /// A start circuit made ready to walk from: its rewrite environment and the network's embeddings
    /// of its gates. Many episodes from one circuit share one (the copies are made on write).
    public struct Start: Sendable {
        public var environment: RewriteEnvironment
        public var embeddings: GateEmbeddings
        public var circuit: Circuit

        public init(_ circuit: Circuit, engine: RewriteEngine, cost: CostKind, model: QuarlModel) {
            self.circuit = circuit
            environment = RewriteEnvironment(circuit, engine: engine, cost: cost)
            embeddings = GateEmbeddings(environment.dag, model: model)
        }
    }

    public func run(from start: Circuit, cost: CostKind, rng: inout SeededGenerator, deadline: Deadline,
                    firstExcluded: Set<Int> = [], onFirstLocation: (Int) -> Void = { _ in }) -> Outcome {
        run(from: Start(start, engine: engine, cost: cost, model: model), rng: &rng, deadline: deadline,
            firstExcluded: firstExcluded, onFirstLocation: onFirstLocation)
    }

    /// `firstExcluded`: DAG nodes of `start` not to pick as the first location (already tried there).
    /// `onFirstLocation` learns which node was picked first. After each move only the embeddings
    /// within the network's reach of the rewritten gates are recomputed.
    public func run(from start: Start, rng: inout SeededGenerator, deadline: Deadline,
                    firstExcluded: Set<Int> = [], onFirstLocation: (Int) -> Void = { _ in }) -> Outcome {
        var env = start.environment
        var embeddings = start.embeddings
        var best = start.circuit, bestCost = env.cost
        var transitions: [Transition] = []
        var visited: [(Int, Circuit)] = []
        var total: Float = 0
        let nop = model.config.nop
        for step in 0..<settings.maxSteps {
            if deadline.expired { break }
            guard let node = embeddings.sampleNode(in: env.dag, excluding: step == 0 ? firstExcluded : [], using: &rng) else { break }
            if step == 0 { onFirstLocation(node) }
            var mask = ActionMask(env.matches(at: node), actions: model.config.actions)
            // The first move must rewrite: stopping at once teaches nothing. A first gate where no rule
            // matches is a failed move (−1, the episode ends), which teaches the values where moves are.
            let failed = step == 0 && mask.matches.isEmpty
            if (step == 0 || !settings.allowNop) && !failed { mask.allowed[nop] = false }
            if !settings.allowNop && mask.matches.isEmpty && step > 0 { break }
            let logits = embeddings.logits(at: node)
            guard let action = settings.sampleRule ? Categorical.sample(logits: logits, mask: mask.allowed, using: &rng)
                                                   : Categorical.argmax(logits: logits, mask: mask.allowed) else { break }
            let logProbability = Self.logSoftmax(logits, mask.allowed)[action]
            let local = CircuitGraph(env.dag, around: node, hops: model.config.layers)
            var t = Transition(state: local, center: 0, allowed: mask.indices, action: action,
                               logProbability: logProbability, reward: 0, target: 0, advantage: 0)
            let chosenValue = embeddings.values[node]
            var done = true
            if failed {
                t.reward = -1
            } else if action != nop, let m = mask.matches[action] {
                let rewrite = env.apply(m)
                t.reward = Float(-rewrite.costChange)
                if env.cost < bestCost {
                    best = env.circuit()
                    bestCost = env.cost
                    visited.append((bestCost, best))
                }
                done = env.cost > bestCost + settings.slack || step == settings.maxSteps - 1
                if !done {
                    embeddings.update(after: rewrite, in: env.dag)
                    // The value of the rewritten region: the new gates and their neighbours on their wires.
                    t.target = t.reward + settings.gamma * embeddings.maxValue(overNodes: rewrite.neighbourhood, in: env.dag)
                }
            }
            if done { t.target = t.reward }
            t.advantage = t.target - chosenValue
            total += t.reward
            transitions.append(t)
            if done { break }
        }
        return Outcome(transitions: transitions, best: best, bestCost: bestCost, totalReward: total, visited: visited, last: env.circuit())
    }

    static func logSoftmax(_ x: [Float], _ mask: [Bool]) -> [Float] {
        var maximum = -Float.infinity
        for i in x.indices where mask[i] { maximum = max(maximum, x[i]) }
        var total: Float = 0
        for i in x.indices where mask[i] { total += expf(x[i] - maximum) }
        let logTotal = maximum + logf(total)
        return x.indices.map { mask[$0] ? x[$0] - logTotal : -.infinity }
    }
}
