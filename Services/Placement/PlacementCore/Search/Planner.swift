import Foundation

/// The one entry point: solve a placement problem with a method, a budget, progress and cancellation.
public enum Planner {
    /// Scores a given placement as a result (objective = its exact max-flow, bound = UB).
    public static func score(_ problem: PlacementProblem, _ placement: Placement, _ connectivity: Connectivity) -> SolveResult {
        let flows = FlowScorer.milpFlow(problem, placement, connectivity)
        return SolveResult(method: .heuristic, connectivity: connectivity, placement: placement, objective: flows.value,
                           upperBound: max(problem.upperBound, flows.value), provenOptimal: false, flows: flows, seconds: 0, statistics: [:])
    }

    public static func solve(_ problem: PlacementProblem, options: SolveOptions) -> SolveResult {
        let clock = Clock()
        let ub = problem.upperBound
        func finish(_ placement: Placement, method: PlacementMethod, bound: Double = ub, proven: Bool = false, stats: [String: Double] = [:]) -> SolveResult {
            let flows = FlowScorer.milpFlow(problem, placement, options.connectivity)
            return SolveResult(method: method, connectivity: options.connectivity, placement: placement, objective: flows.value,
                               upperBound: max(flows.value, bound), provenOptimal: proven, flows: flows, seconds: clock.elapsed, statistics: stats)
        }
        switch options.method {
        case .petals: return finish(Baselines.petals(problem), method: .petals)
        case .swarm: return finish(Baselines.swarm(problem), method: .swarm)
        case .sp: return finish(Baselines.separatePipelines(problem), method: .sp)
        case .heuristic:
            let (placement, stats) = heuristic(problem, options: options, clock: clock, deadline: options.budgetSeconds)
            return finish(placement, method: .heuristic, stats: stats)
        case .milp, .auto:
            // auto: a short heuristic phase, then the MILP warm-started from it for the rest.
            let share = options.method == .auto ? 0.3 : 0.1
            let (start, heuristicStats) = heuristic(problem, options: options, clock: clock, deadline: options.budgetSeconds * share)
            let milp = MILPSolver(problem: problem, connectivity: options.connectivity)
            let outcome = milp.solve(warmStart: start, clock: clock, deadline: options.budgetSeconds, options: options)
            var best = start
            var bestValue = FlowScorer.objective(problem, start, options.connectivity)
            if let placement = outcome.placement {
                let value = FlowScorer.objective(problem, placement, options.connectivity)
                if value > bestValue + 1e-9 { best = placement; bestValue = value }
            }
            var stats = heuristicStats.merging(outcome.statistics) { a, _ in a }
            // auto: any budget left after the MILP stops goes to polishing with the search.
            if options.method == .auto && !outcome.provenOptimal && clock.elapsed < options.budgetSeconds - 0.5 && options.cancellation?.isCancelled != true {
                let (polished, polishStats) = heuristic(problem, options: options, clock: clock, deadline: options.budgetSeconds, start: best)
                if FlowScorer.objective(problem, polished, options.connectivity) > bestValue + 1e-9 { best = polished }
                stats["polish_evaluations"] = polishStats["evaluations"]
            }
            let proven = outcome.provenOptimal && outcome.exactModel
            return finish(best, method: options.method, bound: outcome.exactModel ? outcome.bound : ub, proven: proven, stats: stats)
        }
    }

    /// Parallel annealing chains (one per thread, seeds derived from the seed); best of all.
    static func heuristic(_ problem: PlacementProblem, options: SolveOptions, clock: Clock, deadline: Double, start: Placement? = nil) -> (Placement, [String: Double]) {
        let search = LocalSearch(problem: problem, connectivity: options.connectivity)
        let seeds = [search.greedy(), Baselines.petals(problem)]
        let initial = start ?? seeds.max { search.score($0) < search.score($1) } ?? search.greedy()
        let chains = max(1, options.threads)
        let results = ResultBox(count: chains)
        let best = BestTracker(initial: FlowScorer.objective(problem, initial, options.connectivity))
        let ub = problem.upperBound
        options.progress?(SolveProgress(elapsedSeconds: clock.elapsed, phase: "start", bestObjective: FlowScorer.objective(problem, initial, options.connectivity), bound: ub))
        DispatchQueue.concurrentPerform(iterations: chains) { c in
            let outcome = search.anneal(from: initial, seed: options.seed &* 1_000_003 &+ UInt64(c), deadline: deadline, clock: clock,
                                        maxEvaluations: options.maxEvaluations, cancel: options.cancellation) { value in
                if best.offer(value) {
                    options.progress?(SolveProgress(elapsedSeconds: clock.elapsed, phase: "heuristic", bestObjective: value, bound: ub))
                }
            }
            results.set(c, outcome)
        }
        let all = results.values.compactMap { $0 }
        // Ties go to the lowest chain index, so the answer does not depend on thread timing.
        let winner = all.enumerated().max { a, b in a.element.1 < b.element.1 - 1e-9 || (abs(a.element.1 - b.element.1) <= 1e-9 && a.offset > b.offset) }
        let evaluations = all.reduce(0) { $0 + $1.2 }
        return (winner?.element.0 ?? initial, ["evaluations": Double(evaluations), "heuristic_objective": winner?.element.1 ?? 0])
    }
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [(Placement, Double, Int)?]
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: (Placement, Double, Int)) { lock.withLock { storage[i] = value } }
    var values: [(Placement, Double, Int)?] { lock.withLock { storage } }
}

final class BestTracker: @unchecked Sendable {
    private let lock = NSLock()
    private var best: Double
    init(initial: Double) { best = initial }
    func offer(_ value: Double) -> Bool { lock.withLock { if value > best + 1e-9 { best = value; return true }; return false } }
}
