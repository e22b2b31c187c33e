import CircuitCore
import Foundation
import Tensor

/// Search with a trained policy. The non-learned windowed best-first search first takes `searchShare`
/// of the budget (it finds the many short reductions fastest: the policy's walks alone fell behind it,
/// 32.1% against 33.6% at 20 s on 8 Nam circuits; the mix was level at 20 s and behind at 60 s). Then
/// rounds of short trajectories on both cores, all from the best circuit so far; the first gate of each
/// is one not yet tried from that circuit; the search restarts from any better circuit it finds;
/// between rounds the policy is fine-tuned by PPO on the moves it made on this circuit, within
/// `fineTuneShare` of the walks' time. The optimizer verifies whatever this returns.
public struct LearnedSearch: LearnedSearchStage {
    public let checkpoint: Checkpoint
    public let rules: RuleSet
    public var seed: UInt64 = 1
    /// Trajectories per core per round.
    public var trajectoriesPerRound = 4
    /// Share of the budget the non-learned windowed search gets before the policy's walks (0: walks only).
    public var searchShare = 0.5
    /// Fine-tune once this many moves have been collected (0: never).
    public var fineTuneEvery = 256
    /// Most of the walks' time that fine-tuning may take (a PPO update costs as much as hundreds of
    /// moves; beyond this share the walks go on with the moves collected so far).
    public var fineTuneShare = 0.25
    /// Told, when the search ends, how many moves its walks made and in how many seconds.
    public var onFinish: (@Sendable (_ moves: Int, _ seconds: Double) -> Void)? = nil

    public init(checkpoint: Checkpoint, rules: RuleSet) {
        self.checkpoint = checkpoint
        self.rules = rules
    }

    public func run(_ start: Circuit, cost: CostKind, deadline: Deadline, rotationMerging: Bool,
                    improved: (Int) -> Void) -> Circuit {
        let engine = RewriteEngine(rules: rules.rules)
        var model = checkpoint.model
        var ppo = PPO(settings: { var s = PPOSettings(); s.epochs = 1; return s }())
        var rng = SeededGenerator(seed: seed)
        var settings = EpisodeSettings()
        // Walks of up to 50 moves with sampled rules: diverse trajectories from one start, each allowed
        // to climb 6 gates above its best before it is cut.
        settings.allowNop = false
        settings.maxSteps = 50
        var best = start
        if searchShare > 0 {
            let slice = Deadline(seconds: deadline.remaining * min(searchShare, 1), cancelled: { deadline.expired })
            best = WindowedSearch.run(start, rules: rules, cost: cost, deadline: slice, rotationMerging: rotationMerging, improved: improved)
        }
        var bestCost = best.cost(cost)
        var tried = Set<Int>()
        var collected: [Transition] = []
        let rounds = trajectoriesPerRound
        let started = Deadline.now()
        var moves = 0
        var tuning = 0.0

        // The best circuit made ready to walk from, remade when it or the model changes.
        var prepared: EpisodeRunner.Start?
        while !deadline.expired {
            let runner = EpisodeRunner(model: model, engine: engine, settings: settings)
            let from = prepared ?? EpisodeRunner.Start(best, engine: engine, cost: cost, model: model)
            prepared = from
            let excludedAtStart = tried
            /// Walks from the best circuit; each returns its first gate and the circuits worth keeping.
            @Sendable func worker(_ generator: SeededGenerator) -> [(first: Int, transitions: [Transition], candidates: [Circuit])] {
                var g = generator
                var excluded = excludedAtStart
                var out: [(first: Int, transitions: [Transition], candidates: [Circuit])] = []
                for _ in 0..<rounds where !deadline.expired {
                    var first = -1
                    let o = runner.run(from: from, rng: &g, deadline: deadline, firstExcluded: excluded) { first = $0 }
                    if first >= 0 { excluded.insert(first) }
                    // The passes may finish what the walk started, at its cheapest point or where it ended.
                    let candidates = [o.best, NamPipeline.simplify(o.best, deadline: deadline, rotationMerging: rotationMerging),
                                      NamPipeline.simplify(o.last, deadline: deadline, rotationMerging: rotationMerging)]
                    out.append((first, o.transitions, candidates))
                    if first < 0 { break }
                }
                return out
            }
            let g0 = rng.split(), g1 = rng.split()
            let blas = BLASThreads.current
            BLASThreads.set(1)
            let (a, b) = ParallelPair.run({ worker(g0) }, { worker(g1) })
            BLASThreads.set(blas)
            var progressed = false, exhausted = false
            for walk in a + b {
                if walk.first >= 0 { tried.insert(walk.first) } else { exhausted = true }
                collected += walk.transitions
                moves += walk.transitions.count
                for c in walk.candidates {
                    let k = c.cost(cost)
                    if k < bestCost {
                        best = c
                        bestCost = k
                        progressed = true
                    }
                }
            }
            if progressed {
                // A new best circuit has new node ids: nothing has been tried from it yet.
                tried = []
                prepared = nil
                improved(bestCost)
            } else if exhausted || tried.count >= CircuitDAG(best).liveCount {
                // Every gate was tried as a first move: allow them all again (the policy has been fine-tuned since).
                tried = []
            }
            if fineTuneEvery > 0 && collected.count >= fineTuneEvery && deadline.remaining > 1
                && tuning <= fineTuneShare * (Deadline.now() - started) {
                let t = Deadline.now()
                _ = ppo.update(&model, collected, rng: &rng, deadline: { deadline.expired })
                tuning += Deadline.now() - t
                collected = []
                prepared = nil
            } else if collected.count > fineTuneEvery {
                // Over the share: the next update learns from the latest moves only.
                collected.removeFirst(collected.count - fineTuneEvery)
            }
        }
        onFinish?(moves, Deadline.now() - started)
        return best
    }
}
