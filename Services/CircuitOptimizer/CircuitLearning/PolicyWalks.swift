import CircuitCore
import Foundation
import Tensor

/// The policy's part of the learned search: rounds of short trajectories on both cores from the best
/// circuit so far, the first gate of each one not yet tried from that circuit. A round from the best that
/// finds nothing is followed by one from a circuit the walks reached a few gates above the best (Quarl's
/// excursions: a climb goes on over several rounds instead of ending with its walk). Between rounds the
/// policy is fine-tuned by PPO on the moves it made on this circuit, within `fineTuneShare` of the
/// walks' time. A value that can be paused at a deadline and resumed.
struct PolicyWalks {
    let engine: RewriteEngine
    let cost: CostKind
    let rotationMerging: Bool
    let settings: EpisodeSettings
    let trajectoriesPerRound: Int
    let fineTuneEvery: Int
    let fineTuneShare: Double
    var model: QuarlModel
    var ppo = PPO(settings: { var s = PPOSettings(); s.epochs = 1; return s }())
    var rng: SeededGenerator
    private(set) var best: Circuit
    private(set) var bestCost: Int
    private var tried = Set<Int>()
    /// Circuits the walks reached, at most `settings.slack` above the best (the best is its anchor),
    /// sampled towards low cost as the starts of excursion rounds; emptied when the best improves.
    private var excursions: StartBuffer
    /// Whether the next round starts from an excursion circuit (after a round from the best found nothing).
    private var excursionNext = false
    /// Rounds walked from excursion circuits (for the summary).
    private(set) var excursionRounds = 0
    private var collected: [Transition] = []
    /// The best circuit made ready to walk from, remade when it or the model changes.
    private var prepared: EpisodeRunner.Start?
    private(set) var moves = 0
    /// Seconds spent walking and fine-tuning.
    private(set) var walking = 0.0
    private var tuning = 0.0

    init(_ start: Circuit, model: QuarlModel, engine: RewriteEngine, cost: CostKind, rotationMerging: Bool,
         seed: UInt64, trajectoriesPerRound: Int, fineTuneEvery: Int, fineTuneShare: Double) {
        self.engine = engine
        self.model = model
        self.cost = cost
        self.rotationMerging = rotationMerging
        self.trajectoriesPerRound = trajectoriesPerRound
        self.fineTuneEvery = fineTuneEvery
        self.fineTuneShare = fineTuneShare
        rng = SeededGenerator(seed: seed)
        // Walks of up to 50 moves with sampled rules: diverse trajectories from one start, each allowed
        // to climb 6 gates above its best before it is cut.
        var s = EpisodeSettings()
        s.allowNop = false
        s.maxSteps = 50
        settings = s
        best = start
        bestCost = start.cost(cost)
        excursions = StartBuffer(name: "excursions", circuit: start, cost: bestCost, capacity: Self.excursionCapacity)
    }

    static let excursionCapacity = 64

    /// Keeps `c` as an excursion start when it is within the walks' slack of the best.
    private mutating func keepForExcursion(_ c: Circuit) {
        let k = c.cost(cost)
        if k <= bestCost + settings.slack { excursions.add(c, cost: k) }
    }

    /// A new best circuit: nothing has been tried from it (new node ids) and excursions start from it.
    private mutating func setBest(_ c: Circuit, cost k: Int) {
        best = c
        bestCost = k
        tried = []
        prepared = nil
        excursions = StartBuffer(name: "excursions", circuit: c, cost: k, capacity: Self.excursionCapacity)
        excursionNext = false
    }

    /// A cheaper circuit found elsewhere: the walks go on from it.
    mutating func offer(_ c: Circuit) {
        let k = c.cost(cost)
        guard k < bestCost else { return }
        setBest(c, cost: k)
    }

    /// Walks until `deadline`; `improved` hears each new best cost.
    mutating func run(until deadline: Deadline, improved: (Int) -> Void) {
        let started = Deadline.now()
        defer { walking += Deadline.now() - started }
        while !deadline.expired {
            let runner = EpisodeRunner(model: model, engine: engine, settings: settings)
            let excursion = excursionNext && excursions.entries.count > 1
            let from: EpisodeRunner.Start
            if excursion {
                from = EpisodeRunner.Start(excursions.sample(using: &rng), engine: engine, cost: cost, model: model)
                excursionRounds += 1
            } else {
                from = prepared ?? EpisodeRunner.Start(best, engine: engine, cost: cost, model: model)
                prepared = from
            }
            // `tried` holds node ids of the best circuit; an excursion circuit has its own.
            let excludedAtStart = excursion ? [] : tried
            let rounds = trajectoriesPerRound, merging = rotationMerging
            /// Walks from `from`; each returns its first gate and the circuits worth keeping.
            @Sendable func worker(_ generator: SeededGenerator) -> [(first: Int, transitions: [Transition], candidates: [Circuit])] {
                var g = generator
                var excluded = excludedAtStart
                var out: [(first: Int, transitions: [Transition], candidates: [Circuit])] = []
                for _ in 0..<rounds where !deadline.expired {
                    var first = -1
                    let o = runner.run(from: from, rng: &g, deadline: deadline, firstExcluded: excluded) { first = $0 }
                    if first >= 0 { excluded.insert(first) }
                    // The passes may finish what the walk started, at its cheapest point (when it went below
                    // its start: else that point is the start, simplified already) or where it ended (as it is,
                    // also where an excursion may go on from).
                    var candidates = [o.last, NamPipeline.simplify(o.last, deadline: deadline, rotationMerging: merging)]
                    if o.bestCost < from.environment.cost {
                        candidates += [o.best, NamPipeline.simplify(o.best, deadline: deadline, rotationMerging: merging)]
                    }
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
            var exhausted = false
            let walked = a + b
            for walk in walked {
                if !excursion { if walk.first >= 0 { tried.insert(walk.first) } else { exhausted = true } }
                collected += walk.transitions
                moves += walk.transitions.count
            }
            let found = walked.flatMap(\.candidates).map { (circuit: $0, cost: $0.cost(cost)) }.min { $0.cost < $1.cost }
            if let found, found.cost < bestCost {
                setBest(found.circuit, cost: found.cost)
                improved(bestCost)
            } else {
                for walk in walked { for c in walk.candidates { keepForExcursion(c) } }
                // While nothing is found, rounds alternate: from the best (its untried gates), then an excursion.
                excursionNext = !excursion
                if !excursion && (exhausted || tried.count >= CircuitDAG(best).liveCount) {
                    // Every gate was tried as a first move: allow them all again (the policy has been fine-tuned since).
                    tried = []
                }
            }
            let spent = walking + Deadline.now() - started
            if fineTuneEvery > 0 && collected.count >= fineTuneEvery && deadline.remaining > 1
                && tuning <= fineTuneShare * spent {
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
    }
}
