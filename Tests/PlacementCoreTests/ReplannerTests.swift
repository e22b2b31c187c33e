import Foundation
import Testing
@testable import PlacementCore

@Suite struct ReplannerTests {
    @Test func layersMovedCountsOnlyNewlyLoadedLayers() {
        let before = Placement(ranges: [LayerRange(start: 0, end: 10), LayerRange(start: 10, end: 20), nil])
        let after = Placement(ranges: [LayerRange(start: 5, end: 12), LayerRange(start: 10, end: 20), LayerRange(start: 0, end: 4)])
        #expect(Replanner.layersMoved(from: before, to: after) == 2 + 0 + 4)
        #expect(Replanner.layersMoved(from: before, to: before) == 0)
    }

    static func servingOptions(_ problem: PlacementProblem) throws -> SolveOptions {
        var options = SolveOptions(method: .auto, connectivity: .partial, budgetSeconds: 6, seed: 3)
        options.maxEvaluations = 300
        options.serving = try ServingModel(problem: problem, connectivity: .partial, profiles: GPUProfile.loadAll(problem: problem, dataDirectory: TestData.directory))
        return options
    }

    /// A GPU joins a running single24 (Helix's layout without it): the re-plan keeps the running
    /// nodes where they are far more than a plan from scratch, and serves at least as well as before.
    @Test func joiningWorkerMovesFewLayers() throws {
        let problem = try TestData.problem("single24", reference: true)
        let helix = try LayoutFile.load(path: TestData.layout("single24_helix_milp"), nodeCount: problem.nodes.count)
        var running = helix
        let joined = try #require(problem.nodes.indices.last { i in
            var without = helix
            without.ranges[i] = nil
            return FlowScorer.objective(problem, without, .partial) > 0
        })
        running.ranges[joined] = nil
        let (result, report) = Replanner.replan(problem, previous: running, options: try Self.servingOptions(problem))
        try result.placement.validate(for: problem)
        #expect(report.previousScore > 0)
        #expect(report.score >= report.previousScore)
        #expect(report.layersMoved < report.freshLayersMoved, "\(report)")
        #expect(report.layersMoved == Replanner.layersMoved(from: running, to: result.placement))
    }

    /// A GPU holding layers leaves: the hole is closed (the plan serves again) moving fewer layers than a fresh plan.
    @Test func leavingWorkerIsReplacedWithFewMoves() throws {
        let full = try TestData.problem("single24", reference: true)
        let helix = try LayoutFile.load(path: TestData.layout("single24_helix_milp"), nodeCount: full.nodes.count)
        let gone = 0
        #expect(helix.ranges[gone] != nil)
        let problem = full.removingNode(gone)
        #expect(problem.nodes.count == full.nodes.count - 1)
        #expect(!problem.arcs.contains { $0.from == .node(full.nodes.count - 1) || $0.to == .node(full.nodes.count - 1) })
        try Self.repairAfterLeave(full, running: helix, gone: gone, options: Self.servingOptions)
    }

    /// Re-plans after node `gone` of `full` leaves the running placement, and checks what every
    /// repair must hold: a valid plan that serves, moving no more layers than a fresh plan.
    @discardableResult
    static func repairAfterLeave(_ full: PlacementProblem, running: Placement, gone: Int,
                                 options: (PlacementProblem) throws -> SolveOptions) throws -> (problem: PlacementProblem, report: ReplanReport) {
        let problem = full.removingNode(gone)
        var ranges = running.ranges
        ranges.remove(at: gone)
        let (result, report) = Replanner.replan(problem, previous: Placement(ranges: ranges), options: try options(problem))
        try result.placement.validate(for: problem)
        #expect(FlowScorer.objective(problem, result.placement, .partial) > 0)
        #expect(report.score > 0)
        #expect(report.layersMoved <= report.freshLayersMoved, "\(report)")
        return (problem, report)
    }
}

/// Planning under change on a small cluster (cluster10: 6 T4 + 4 L4, llama1-30b), work-bounded so
/// that the re-plan is the same on any machine and takes seconds.
@Suite struct SmallClusterReplanTests {
    static func cluster10() throws -> PlacementProblem {
        try PlacementProblem.load(clusterPath: TestData.cluster10(), model: .llama1_30b, dataDirectory: TestData.directory, useReferenceTables: true)
    }

    /// Work-bounded serving options for this problem (the serving model is built for its nodes).
    static func options(_ problem: PlacementProblem) throws -> SolveOptions {
        var options = SolveOptions(method: .auto, connectivity: .partial, budgetSeconds: 0.01, seed: 2)
        options.maxEvaluations = 100
        options.use(.serving, serving: try ServingModel(problem: problem, connectivity: .partial,
                                                        profiles: GPUProfile.loadAll(problem: problem, dataDirectory: TestData.directory)))
        return options
    }

    /// An L4 joins a running plan: the running nodes keep (nearly) all their layers, the newcomer
    /// serves, and the plan predicts at least what the running one did.
    @Test func aJoinMovesFewerLayersThanAFreshPlanAndServesAtLeastAsWell() throws {
        let problem = try Self.cluster10()
        let options = try Self.options(problem)
        let joined = problem.nodes.count - 1
        let before = problem.removingNode(joined)
        let running = Planner.solve(before, options: try Self.options(before)).placement
        let previous = Placement(ranges: running.ranges + [nil])
        let (result, report) = Replanner.replan(problem, previous: previous, options: options)
        try result.placement.validate(for: problem)
        #expect(result.placement.ranges[joined] != nil)
        #expect(report.previousScore > 0)
        #expect(report.score >= report.previousScore, "\(report)")
        #expect(report.layersMoved < report.freshLayersMoved, "\(report)")
        #expect(report.layersMoved == Replanner.layersMoved(from: previous, to: result.placement))
        let again = Replanner.replan(problem, previous: previous, options: options)
        #expect(again.0.placement == result.placement, "work-bounded: the same re-plan twice")
    }

    /// A T4 holding layers leaves: the plan serves again, moving no more layers than a fresh plan.
    @Test func aLeaveIsRepairedMovingNoMoreThanAFreshPlan() throws {
        let full = try Self.cluster10()
        let running = Planner.solve(full, options: try Self.options(full)).placement
        let gone = try #require(running.ranges.indices.first { running.ranges[$0] != nil })
        let (problem, report) = try ReplannerTests.repairAfterLeave(full, running: running, gone: gone, options: Self.options)
        #expect(report.layersMoved < problem.numLayers, "a repair, not a re-plan from scratch: \(report)")
    }
}
