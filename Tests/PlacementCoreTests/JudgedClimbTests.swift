import Foundation
import Testing
@testable import PlacementCore

@Suite struct JudgedClimbTests {
    /// A cheap stand-in judge that disagrees with the max-flow: it prefers few distinct stage
    /// boundaries (aligned stages, so fewer hops per request).
    static let fewerStages: @Sendable (Placement) -> Double = { placement in
        -Double(Set(placement.ranges.compactMap { $0?.start }).count)
    }

    @Test func climbRaisesTheJudgeScoreAndKeepsFlow() throws {
        let problem = try TestData.problem("single24", reference: true)
        let start = Baselines.petals(problem)
        let climb = JudgedClimb(problem: problem, connectivity: .partial, judge: Self.fewerStages)
        let startScore = Self.fewerStages(start)
        let outcome = climb.climb(from: start, score: startScore, seed: 3, clock: Clock(), deadline: 2, cancel: nil) { _, _ in }
        try outcome.placement.validate(for: problem)
        #expect(outcome.judged > 0)
        #expect(outcome.score > startScore)
        #expect(outcome.score == Self.fewerStages(outcome.placement))
        #expect(FlowScorer.objective(problem, outcome.placement, .partial) >= 0.5 * FlowScorer.objective(problem, start, .partial))
    }

    @Test func plannerWithAJudgeReturnsWhatTheJudgeRatesBest() throws {
        let problem = try TestData.problem("single24", reference: true)
        var options = SolveOptions(method: .heuristic, budgetSeconds: 3, seed: 1)
        options.maxEvaluations = 2000
        let flowBest = Planner.solve(problem, options: options)
        options.judge = Self.fewerStages
        let judged = Planner.solve(problem, options: options)
        #expect((judged.statistics["judged_moves"] ?? 0) > 0)
        #expect(Self.fewerStages(judged.placement) >= Self.fewerStages(flowBest.placement))
        #expect(judged.statistics["judge_score"] == Self.fewerStages(judged.placement))
        #expect(judged.objective == FlowScorer.objective(problem, judged.placement, .partial))
    }
}
