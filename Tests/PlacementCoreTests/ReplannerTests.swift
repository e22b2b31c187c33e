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
        options.maxEvaluations = 1500
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
        var ranges = helix.ranges
        ranges.remove(at: gone)
        let running = Placement(ranges: ranges)
        let (result, report) = Replanner.replan(problem, previous: running, options: try Self.servingOptions(problem))
        try result.placement.validate(for: problem)
        #expect(FlowScorer.objective(problem, result.placement, .partial) > 0)
        #expect(report.score > 0)
        #expect(report.layersMoved <= report.freshLayersMoved, "\(report)")
    }
}
