import Foundation

/// What a re-plan changed against the running placement.
public struct ReplanReport: Sendable {
    /// Layers nodes must load that they did not hold before (what moving costs: weights over the wire).
    public var layersMoved: Int
    /// Layers a plan made from scratch would have moved.
    public var freshLayersMoved: Int
    /// The judge's score (predicted decode tokens/s with the serving objective, else max flow)
    /// of the previous placement on the new cluster (0 when a departed node leaves a hole), of the
    /// re-plan, and of the plan from scratch.
    public var previousScore: Double
    public var score: Double
    public var freshScore: Double
}

/// Re-planning when workers join or leave: the best plan found is weighed against how many
/// layers it moves, so a plan that keeps most nodes where they are wins unless moving pays.
public enum Replanner {
    /// Layers each node holds in `placement` but not in `previous`, summed.
    public static func layersMoved(from previous: Placement, to placement: Placement) -> Int {
        zip(previous.ranges + Array(repeating: nil, count: max(0, placement.ranges.count - previous.ranges.count)), placement.ranges).reduce(0) { sum, pair in
            guard let new = pair.1 else { return sum }
            guard let old = pair.0 else { return sum + new.count }
            return sum + new.count - max(0, min(old.end, new.end) - max(old.start, new.start))
        }
    }

    /// Plans for `problem` starting from `previous` (a layout of the same nodes; joined nodes idle,
    /// departed nodes removed). `movePenalty`: the score share a plan gives up for moving the whole
    /// model once (scores are scaled by 1 − movePenalty·moved/L).
    public static func replan(_ problem: PlacementProblem, previous: Placement, options: SolveOptions, movePenalty: Double = 0.2) -> (SolveResult, ReplanReport) {
        let clock = Clock()
        let connectivity = options.connectivity
        let base = Planner.judge(problem, options) ?? Judge(tolerance: 0) { placement in
            let flow = FlowScorer.objective(problem, placement, connectivity)
            return JudgeScore(value: flow, flow: flow)
        }
        let L = Double(problem.numLayers)
        let weighed = base.scaled { placement in max(0, 1 - movePenalty * Double(layersMoved(from: previous, to: placement)) / L) }
        var fresh = options
        fresh.budgetSeconds = options.budgetSeconds * 0.5
        let freshResult = Planner.solve(problem, options: fresh)
        // Candidates: the old plan with new nodes placed where they serve best, and the fresh plan.
        let previousScore = FlowScorer.objective(problem, previous, options.connectivity) > 0 ? base(previous).value : 0
        let (kept, keptScore) = Planner.assignIdle(problem, previous, score: weighed(previous), clock: clock, deadline: options.deadline(options.budgetSeconds * 0.75),
                                                   maxJudgements: options.idleJudgementLimit, cancel: options.cancellation, judge: weighed)
        var best = kept, bestScore = keptScore, origin = "previous plan, new nodes placed"
        let freshWeighed = weighed(freshResult.placement)
        var ranking = JudgeRanking(tolerance: weighed.tolerance)
        ranking.see(keptScore)
        ranking.see(freshWeighed)
        if ranking.prefers(freshWeighed, over: bestScore) || FlowScorer.objective(problem, kept, options.connectivity) == 0 {
            best = freshResult.placement; bestScore = freshWeighed; origin = "fresh plan (" + freshResult.foundBy + ")"
        }
        let climb = JudgedClimb(problem: problem, connectivity: options.connectivity, judge: weighed)
        let outcome = climb.climb(from: best, score: bestScore, seed: options.seed, clock: clock, deadline: options.deadline(options.budgetSeconds),
                                  maxJudgements: options.maxEvaluations, cancel: options.cancellation) { _, _ in }
        if outcome.placement != best { origin = "judged climb from " + origin }
        var result = Planner.score(problem, outcome.placement, options.connectivity)
        result.method = options.method
        result.seconds = clock.elapsed
        result.foundBy = origin
        let report = ReplanReport(layersMoved: layersMoved(from: previous, to: outcome.placement),
                                  freshLayersMoved: layersMoved(from: previous, to: freshResult.placement),
                                  previousScore: previousScore, score: base(outcome.placement).value, freshScore: base(freshResult.placement).value)
        return (result, report)
    }
}

extension PlacementProblem {
    /// The cluster after a node leaves: the node and its arcs removed, later nodes renumbered.
    public func removingNode(_ index: Int) -> PlacementProblem {
        func shifted(_ e: Endpoint) -> Endpoint? {
            guard case .node(let i) = e else { return e }
            return i == index ? nil : .node(i > index ? i - 1 : i)
        }
        var copy = self
        copy.nodes.remove(at: index)
        copy.arcs = arcs.compactMap { arc in
            guard let from = shifted(arc.from), let to = shifted(arc.to) else { return nil }
            return Arc(from: from, to: to, bandwidthBytesPerSecond: arc.bandwidthBytesPerSecond, latencySeconds: arc.latencySeconds)
        }
        return copy
    }
}
