import DeterministicRandom
import Foundation

/// Hill-climbing whose judge is the caller's score (a short simulation), not the max-flow: the
/// max-flow objective is a proxy, and flow-optimal layouts (long chains of thin stages) can serve
/// users worse than plainer ones. Moves are the annealer's; a move is kept when the judge rates
/// it higher and it keeps a share of the flow (so the judge is never asked about broken layouts).
struct JudgedClimb {
    let problem: PlacementProblem
    let connectivity: Connectivity
    let judge: @Sendable (Placement) -> Double
    /// A candidate must keep at least this fraction of the starting max-flow.
    var minFlowShare = 0.5

    /// `slowestJudgement`: the longest judgement seen so far, so that the first one here also fits the deadline.
    /// `maxJudgements` (SolveOptions.maxEvaluations): a count that ends the climb before the
    /// deadline does, so that its answer does not depend on machine speed.
    func climb(from start: Placement, score startScore: Double, seed: UInt64, clock: Clock, deadline: Double,
               slowestJudgement: Double = 0, maxJudgements: Int? = nil, cancel: CancellationToken?, report: (Placement, Double) -> Void) -> (placement: Placement, score: Double, judged: Int) {
        let search = LocalSearch(problem: problem, connectivity: connectivity)
        var rng = SplitMix64(plannerSeed: seed)
        var best = start, bestScore = startScore
        let floor = minFlowShare * FlowScorer.objective(problem, start, connectivity)
        var judged = 0, slowest = slowestJudgement, tried = Set<Placement>([start])
        var misses = 0  // draws in a row that gave no new candidate
        while clock.elapsed + slowest < deadline && judged < (maxJudgements ?? Int.max) && cancel?.isCancelled != true {
            guard let candidate = search.neighbour(of: best, using: &rng), !tried.contains(candidate) else {
                // Every neighbour of the best tried (as far as 10,000 draws in a row tell): on a small
                // cluster only a deadline ended this loop, and a work-bounded solve has none.
                misses += 1
                if tried.count > 100_000 || misses > 10_000 { break }
                continue
            }
            misses = 0
            tried.insert(candidate)
            guard FlowScorer.objective(problem, candidate, connectivity) >= floor else { continue }
            let started = clock.elapsed
            let score = judge(candidate)
            slowest = max(slowest, clock.elapsed - started)
            judged += 1
            if score > bestScore {
                best = candidate
                bestScore = score
                report(best, bestScore)
            }
        }
        return (best, bestScore, judged)
    }
}
