import Foundation
import Testing
@testable import PlacementCore

@Suite struct JudgeRankingTests {
    /// Within the tolerance of the peak the larger flow wins, then the larger population bound;
    /// beyond it the value decides whatever the flow.
    @Test func nearTiesGoToTheLargerFlowAndRealGapsToTheValue() {
        let chain = JudgeScore(value: 237.0, flow: 2045.6, population: 250)
        let crowd = JudgeScore(value: 237.1, flow: 1476.1, population: 400)
        #expect(JudgeRanking.best(of: [crowd, chain], tolerance: 0.01) == 1)
        #expect(JudgeRanking.best(of: [crowd, chain], tolerance: 0) == 0, "tolerance 0 is the value alone")
        let better = JudgeScore(value: 247.9, flow: 1476.1)
        #expect(JudgeRanking.best(of: [chain, better], tolerance: 0.01) == 1)
        let sameFlow = JudgeScore(value: 237.0, flow: 2045.6 + 1e-7, population: 300)
        #expect(JudgeRanking.best(of: [chain, sameFlow], tolerance: 0.01) == 1, "flows equal but for rounding: population decides")
        #expect(JudgeRanking.best(of: [], tolerance: 0.01) == nil)
    }

    /// The band is measured from the best value seen, not between neighbours: a chain of steps
    /// each within the tolerance of the last, each with more flow, cannot walk the value down.
    @Test func aChainOfNearTiesCannotDriftBelowTheBand() {
        var ranking = JudgeRanking(tolerance: 0.01)
        var current = JudgeScore(value: 300, flow: 1000)
        ranking.see(current)
        var steps = 0
        for k in 1...20 {
            let next = JudgeScore(value: 300 * pow(0.995, Double(k)), flow: 1000 + 100 * Double(k))
            ranking.see(next)
            guard ranking.prefers(next, over: current) else { break }
            current = next
            steps += 1
        }
        #expect(steps == 2, "0.995 and 0.990 of the peak are in the 1% band, 0.985 is not (took \(steps))")
        #expect(current.value >= 300 * 0.99)
    }

    /// single24 as bench-serving plans it (strict, `--max-evaluations 12`): the judge used to pick
    /// a chain with 28% less flow for a +0.04% prediction (1476.1 against the proven-optimal
    /// 2045.6). Now the near-tie goes to the flow.
    @Test func theCappedSingle24PlanKeepsTheFlowOptimum() throws {
        let problem = try TestData.problem("single24", reference: true)
        let serving = try ServingModel(problem: problem, connectivity: .strict, profiles: GPUProfile.loadAll(problem: problem, dataDirectory: TestData.directory))
        var options = SolveOptions(method: .auto, connectivity: .strict, budgetSeconds: 600, seed: 1)
        options.maxEvaluations = 12
        options.use(.serving, serving: serving)
        let plan = Planner.solve(problem, options: options)
        let predicted = serving.predict(plan.placement).decodeTokensPerSecond
        #expect(plan.objective > 2045, "flow \(plan.objective), predicted \(predicted), found by \(plan.foundBy)")
    }
}
