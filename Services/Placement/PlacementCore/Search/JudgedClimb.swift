import DeterministicRandom
import Foundation

/// Hill-climbing whose judge is the caller's score (a short simulation), not the max-flow: the
/// max-flow objective is a proxy, and flow-optimal layouts (long chains of thin stages) can serve
/// users worse than plainer ones. Moves are the annealer's and `BoundaryShift`'s; a move is kept
/// when it ranks higher (`JudgeRanking`) and it keeps a share of the flow (so the judge is never
/// asked about broken layouts).
struct JudgedClimb {
    let problem: PlacementProblem
    let connectivity: Connectivity
    let judge: Judge
    /// A candidate must keep at least this fraction of the starting max-flow.
    var minFlowShare = 0.5
    /// Random moves that kick the climb out of a local optimum.
    var kickMoves = 3

    /// `slowestJudgement`: the longest judgement seen so far, so that the first one here also fits the deadline.
    /// `maxJudgements` (SolveOptions.maxEvaluations): a count that ends the climb before the
    /// deadline does, so that its answer does not depend on machine speed.
    func climb(from start: Placement, score startScore: JudgeScore, seed: UInt64, clock: Clock, deadline: Double,
               slowestJudgement: Double = 0, maxJudgements: Int? = nil, cancel: CancellationToken?, report: (Placement, JudgeScore) -> Void) -> (placement: Placement, score: JudgeScore, judged: Int) {
        let search = LocalSearch(problem: problem, connectivity: connectivity)
        let shifts = BoundaryShift(problem: problem)
        var rng = SplitMix64(plannerSeed: seed)
        // Half the draws shift a boundary between meeting stages (layers change hands along a
        // pipeline), half are the annealer's single-node moves (they change the structure).
        func move(_ placement: Placement) -> Placement? {
            Bool.random(using: &rng) ? shifts.neighbour(of: placement, using: &rng) : search.neighbour(of: placement, using: &rng)
        }
        var best = start, bestScore = startScore          // the best seen
        var current = start, currentScore = startScore    // where the climb stands
        var ranking = JudgeRanking(tolerance: judge.tolerance)
        ranking.see(startScore)
        let floor = minFlowShare * FlowScorer.objective(problem, start, connectivity)
        var judged = 0, slowest = slowestJudgement, tried = Set<Placement>([start])
        var misses = 0  // draws in a row that gave no new candidate
        func judgeAndStep(to candidate: Placement, always: Bool) {
            let started = clock.elapsed
            let score = judge(candidate)
            slowest = max(slowest, clock.elapsed - started)
            judged += 1
            ranking.see(score)
            guard always || ranking.prefers(score, over: currentScore) else { return }
            current = candidate
            currentScore = score
            if ranking.prefers(score, over: bestScore) {
                best = candidate
                bestScore = score
                report(best, bestScore)
            }
        }
        while clock.elapsed + slowest < deadline && judged < (maxJudgements ?? Int.max) && cancel?.isCancelled != true {
            guard let candidate = move(current), !tried.contains(candidate) else {
                misses += 1
                guard tried.count > 100_000 || misses > 10_000 else { continue }
                // A local optimum (every neighbour tried, as far as 10,000 draws in a row tell):
                // kick the best so far with a few moves that keep the flow, and climb on from
                // there (iterated local search). Each kick is judged, so a work-bounded climb ends.
                guard let kicked = kick(best, floor: floor, move: move) else { break }
                tried = [kicked]
                misses = 0
                judgeAndStep(to: kicked, always: true)
                continue
            }
            misses = 0
            tried.insert(candidate)
            guard FlowScorer.objective(problem, candidate, connectivity) >= floor else { continue }
            judgeAndStep(to: candidate, always: false)
        }
        return (best, bestScore, judged)
    }

    /// `kickMoves` moves in a row from `placement`, each keeping the flow at least `floor` (up to
    /// 50 draws a move); nil when none applied.
    private func kick(_ placement: Placement, floor: Double, move: (Placement) -> Placement?) -> Placement? {
        var kicked = placement
        for _ in 0..<kickMoves {
            for _ in 0..<50 {
                guard let next = move(kicked), next != kicked, FlowScorer.objective(problem, next, connectivity) >= floor else { continue }
                kicked = next
                break
            }
        }
        return kicked == placement ? nil : kicked
    }
}
