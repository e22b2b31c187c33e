import DeterministicRandom
import Foundation

/// Placement methods: our search and MILP, and the baselines.
public enum PlacementMethod: String, Sendable, CaseIterable, Codable {
    case auto, milp, heuristic, petals, swarm, sp
}

/// Which MILP model to hand GLPK (for measuring the formulations against each other).
public enum MILPFormulation: String, Sendable, CaseIterable {
    /// Aggregated where links never bind (it is exact there), else the general big-M model.
    case automatic
    /// Identical nodes as one class with integer counts per (start, length); needs links that never bind.
    case aggregated
    /// The spec's per-node big-M model on the pruned links.
    case general
}

/// Progress of a running solve: best objective so far, the best bound, their gap.
public struct SolveProgress: Sendable {
    public var elapsedSeconds: Double
    public var phase: String
    public var bestObjective: Double
    public var bound: Double
    public var gap: Double { bestObjective > 0 ? max(0, bound - bestObjective) / bestObjective : .infinity }

    public init(elapsedSeconds: Double, phase: String, bestObjective: Double, bound: Double) {
        (self.elapsedSeconds, self.phase, self.bestObjective, self.bound) = (elapsedSeconds, phase, bestObjective, bound)
    }

    /// The progress line the CLI prints, for a local solve or one streamed from placement-service.
    /// A phase with no bound (bound 0: the simulated ranking) shows none, rather than a "gap 0%" it has not proven.
    public var line: String {
        let head = String(format: "[%6.1fs] %@ best %.2f", elapsedSeconds, phase, bestObjective)
        return bound > 0 ? head + String(format: " bound %.2f gap %.1f%%", bound, gap * 100) : head
    }
}

/// What the planner maximises: the max-flow objective, or the serving model's decode tokens/s.
public enum PlacementObjective: String, Sendable, CaseIterable { case flow, serving }

/// Lets a caller stop a solve from another thread; the solve returns its best so far.
public final class CancellationToken: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false

    public init() {}

    public func cancel() { lock.withLock { cancelled = true } }
    public var isCancelled: Bool { lock.withLock { cancelled } }
}

public struct SolveOptions: Sendable {
    public var method: PlacementMethod = .auto
    public var connectivity: Connectivity = .partial
    /// Wall-clock budget for the whole solve.
    public var budgetSeconds: Double = 60
    public var seed: UInt64 = 1
    /// Parallel search chains (each deterministic for its seed).
    public var threads: Int = 2
    /// Optional cap on heuristic evaluations per chain, and on the judged climb's judgements: with
    /// it, results do not depend on machine speed (while the budget is not reached).
    public var maxEvaluations: Int? = nil
    public var cancellation: CancellationToken? = nil
    public var progress: (@Sendable (SolveProgress) -> Void)? = nil
    /// Optional judge (e.g. a short simulation): when set, the last `judgeShare` of the budget scores
    /// the distinct placements the solve met, and the one the judge rates highest is returned.
    /// The max-flow objective is a proxy; what users get is decode throughput.
    public var judge: (@Sendable (Placement) -> Double)? = nil
    public var judgeShare: Double = 0.5
    /// The serving objective: when set (and no other judge is), the judge is this model's predicted
    /// decode tokens/s, penalised by (bound/latency)² where the decode step exceeds `decodeLatencyBound`.
    public var serving: ServingModel? = nil
    public var decodeLatencyBound: Double? = nil
    /// With the serving objective: a layout whose predicted prompt and decode latency the plan must
    /// not exceed (`LatencyBounds`, ranked first by `JudgeRanking`); it is judged as a candidate too,
    /// so some plan is always within the bounds. E.g. the published layout a plan must beat.
    public var reference: Placement? = nil
    /// With the serving objective: our simulator, over several maximum flows of each, ranks the
    /// judge's best plans at the end (`SimulatedRanking`); nil: the judge's best is the plan.
    public var simulatedRanking: SimulatedRanking? = nil
    public var formulation: MILPFormulation = .automatic
    /// Use the exact cover branch-and-bound where links never bind (off: measure the MILP alone).
    public var coverSearch = true
    /// The MILP by itself: no search before it, no cover search, no warm start, no polishing
    /// (to measure what GLPK does alone; with method .milp or .auto).
    public var milpAlone = false
    /// Cap on GLPK's branch-and-bound nodes (default: maxEvaluations / 10 when that is set, else none).
    public var milpNodes: Int? = nil

    public init(method: PlacementMethod = .auto, connectivity: Connectivity = .partial, budgetSeconds: Double = 60, seed: UInt64 = 1) {
        self.method = method
        self.connectivity = connectivity
        self.budgetSeconds = budgetSeconds
        self.seed = seed
    }
}

public struct SolveResult: Sendable {
    public var method: PlacementMethod
    public var connectivity: Connectivity
    public var placement: Placement
    /// Max flow of the placement in the MILP graph, recomputed from the placement alone.
    public var objective: Double
    /// The best bound known: the MILP's when it ran, else UB = Σ max_k k T(k) / L.
    public var upperBound: Double
    public var provenOptimal: Bool
    public var flows: FlowResult
    /// The maximum flow the runtime routes over where the planner chose one (the simulated
    /// ranking's best-serving flow of the plan, `SimulatedRanking.routing`); nil: Dinic's
    /// (`FlowScorer.runtimeFlow`). See `runtimeFlow(_:)`.
    public var routingFlow: FlowResult? = nil
    public var seconds: Double
    public var statistics: [String: Double]
    /// Which component found the placement (e.g. "cover search", "milp", "judged climb from petals").
    public var foundBy: String = ""
    public var gap: Double { objective > 0 ? max(0, upperBound - objective) / objective : .infinity }

    /// The flow the scheduler and the simulator route this plan over: the planner's choice, else Dinic's on the runtime graph.
    public func runtimeFlow(_ problem: PlacementProblem) -> FlowResult {
        routingFlow ?? FlowScorer.runtimeFlow(problem, placement, connectivity)
    }
}

extension SplitMix64 {
    /// Placement's seeding (search and simulator): one step ahead of the plain stream, as its plans and
    /// simulations have always been drawn.
    init(plannerSeed seed: UInt64) { self.init(seed: seed &+ 0x9E37_79B9_7F4A_7C15) }
}

struct Clock {
    let start = Date()
    var elapsed: Double { Date().timeIntervalSince(start) }
}
