import DeterministicRandom
import Foundation
import Testing
@testable import PlacementCore

@Suite struct JudgedClimbTests {
    /// A cheap stand-in judge that disagrees with the max-flow: it prefers few distinct stage
    /// boundaries (aligned stages, so fewer hops per request).
    static let fewerStages: @Sendable (Placement) -> Double = { placement in
        -Double(Set(placement.ranges.compactMap { $0?.start }).count)
    }

    static func judge(_ problem: PlacementProblem) -> Judge { Judge(custom: fewerStages, problem: problem, connectivity: .partial) }

    @Test func climbRaisesTheJudgeScoreAndKeepsFlow() throws {
        let problem = try TestData.problem("single24", reference: true)
        let start = Baselines.petals(problem)
        let climb = JudgedClimb(problem: problem, connectivity: .partial, judge: Self.judge(problem))
        let startScore = climb.judge(start)
        let outcome = climb.climb(from: start, score: startScore, seed: 3, clock: Clock(), deadline: 2, cancel: nil) { _, _ in }
        try outcome.placement.validate(for: problem)
        #expect(outcome.judged > 0)
        #expect(outcome.score.value > startScore.value)
        #expect(outcome.score.value == Self.fewerStages(outcome.placement))
        #expect(FlowScorer.objective(problem, outcome.placement, .partial) >= 0.5 * FlowScorer.objective(problem, start, .partial))
    }

    /// On a cluster whose every neighbour is soon tried, a climb without kicks stops at its local
    /// optimum; with them it goes on judging (kicked layouts and their neighbours) to its work
    /// limit, and ends no worse.
    @Test func kicksCarryTheClimbPastALocalOptimum() throws {
        let problem = MILPTests.bindingCluster
        let start = Baselines.petals(problem)
        let climb = JudgedClimb(problem: problem, connectivity: .partial, judge: Self.judge(problem))
        var noKicks = climb
        noKicks.kickMoves = 0
        func run(_ c: JudgedClimb) -> (placement: Placement, score: JudgeScore, judged: Int) {
            c.climb(from: start, score: c.judge(start), seed: 3, clock: Clock(), deadline: 60, maxJudgements: 600, cancel: nil) { _, _ in }
        }
        let stuck = run(noKicks), kicked = run(climb)
        #expect(stuck.judged < 600, "the neighbourhood should run out first (\(stuck.judged) judged)")
        #expect(kicked.judged == 600)
        #expect(kicked.score.value >= stuck.score.value)
        try kicked.placement.validate(for: problem)
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

@Suite struct BoundaryShiftTests {
    /// Shifting a boundary hands layers from one stage to the one it meets: on a chain every shift
    /// keeps each layer held exactly once (the flow never breaks), and shifts go both ways.
    @Test func shiftsKeepAChainWholeAndMoveLayersBothWays() throws {
        let problem = try TestData.problem("single24", reference: true)
        // One chain: the four A100s at 10 layers, then the eight L4s at 5 (two short of each one's most).
        let order = problem.nodes.indices.filter { problem.nodes[$0].type == "A100" } + problem.nodes.indices.filter { problem.nodes[$0].type == "L4" }
        var ranges = [LayerRange?](repeating: nil, count: problem.nodes.count), start = 0
        for i in order {
            let k = min(problem.nodes[i].maxLayers - 2, problem.numLayers - start)
            ranges[i] = LayerRange(start: start, end: start + k)
            start += k
        }
        #expect(start == problem.numLayers, "the chain must hold the model (ends at \(start))")
        let chain = Placement(ranges: ranges)
        let shifts = BoundaryShift(problem: problem)
        var rng = SplitMix64(plannerSeed: 11)
        var grew = 0, shrank = 0
        for _ in 0..<400 {
            guard let moved = shifts.neighbour(of: chain, using: &rng) else { continue }
            try moved.validate(for: problem)
            var held = [Int](repeating: 0, count: problem.numLayers)
            for range in moved.ranges.compactMap({ $0 }) { for l in range.start..<range.end { held[l] += 1 } }
            #expect(held.allSatisfy { $0 == 1 }, "\(moved.ranges)")
            let changed = moved.ranges.indices.filter { moved.ranges[$0] != chain.ranges[$0] }
            #expect(changed.count == 2)
            if let first = changed.first, let a = moved.ranges[first], let b = chain.ranges[first] {
                if a.count > b.count { grew += 1 } else { shrank += 1 }
            }
            #expect(FlowScorer.objective(problem, moved, .partial) > 0)
        }
        #expect(grew > 20 && shrank > 20, "grew \(grew), shrank \(shrank)")
    }
}
