import Foundation
import Testing
@testable import PlacementCore

/// With `maxEvaluations`, counted work ends every phase (search, cover search, GLPK, judging,
/// idle-node placement) and the time budget ends none: a budget far too small to finish gives the
/// plan a generous one gives, so a live plan equals `lattice plan --max-evaluations N` on any machine.
@Suite struct WorkBudgetTests {
    static func plan(_ problem: PlacementProblem, budget: Double, serving: ServingModel?, method: PlacementMethod = .auto) -> SolveResult {
        var options = SolveOptions(method: method, connectivity: .partial, budgetSeconds: budget, seed: 5)
        options.maxEvaluations = 150
        options.use(serving == nil ? .flow : .serving, serving: serving)
        return Planner.solve(problem, options: options)
    }

    /// cluster10 (links never bind): search, cover search, GLPK, the judge, its climb and idle placement all run.
    @Test func aTinyBudgetGivesTheSamePlanOnALinkFreeCluster() throws {
        let problem = try PlacementProblem.load(clusterPath: TestData.cluster10(), model: .llama1_30b, dataDirectory: TestData.directory, useReferenceTables: true)
        let serving = try ServingModel(problem: problem, connectivity: .partial, profiles: GPUProfile.loadAll(problem: problem, dataDirectory: TestData.directory))
        let generous = Self.plan(problem, budget: 120, serving: serving)
        let tiny = Self.plan(problem, budget: 0.001, serving: serving)
        #expect(tiny.placement == generous.placement, "found by \(tiny.foundBy) / \(generous.foundBy)")
        #expect(tiny.seconds > 0.001, "the tiny budget must really be too small for the work (took \(tiny.seconds) s)")
        #expect(tiny.objective > 0)
    }

    /// Links that bind: the search, then GLPK's general model stopped by its node limit.
    @Test func aTinyBudgetGivesTheSamePlanWhereLinksBind() throws {
        let problem = MILPTests.bindingCluster
        let generous = Self.plan(problem, budget: 120, serving: nil, method: .milp)
        let tiny = Self.plan(problem, budget: 0.001, serving: nil, method: .milp)
        #expect(tiny.placement == generous.placement)
        #expect(tiny.statistics["milp_nodes"] == generous.statistics["milp_nodes"])
        #expect(tiny.statistics["milp_stopped_by_time"] == 0)
        #expect((tiny.statistics["milp_nodes"] ?? 0) >= 1)
    }

    /// GLPK's node limit ends branch-and-bound where the proof needs more, and does so alike every time.
    @Test func theNodeLimitStopsGLPKDeterministically() throws {
        let problem = MILPTests.bindingCluster
        let full = MILPTests.solveAlone(problem, .strict, .general)
        let needed = Int(full.statistics["milp_nodes"] ?? 0)
        #expect(full.provenOptimal)
        #expect(needed > 3, "the proof takes \(needed) nodes")
        func limited() -> MILPSolver.Outcome {
            var solver = MILPSolver(problem: problem, connectivity: .strict)
            solver.stopEarly = false
            var options = SolveOptions(method: .milp, connectivity: .strict, budgetSeconds: 60)
            options.formulation = .general
            options.milpNodes = 3
            return solver.solve(warmStart: nil, clock: Clock(), deadline: 60, options: options)
        }
        let first = limited(), second = limited()
        #expect(!first.provenOptimal)
        #expect(first.statistics["milp_stopped_by_nodes"] == 1)
        #expect((first.statistics["milp_nodes"] ?? 0) < Double(needed))
        #expect(first.statistics["milp_nodes"] == second.statistics["milp_nodes"])
        #expect(first.placement == second.placement)
        #expect(first.bound == second.bound)
    }
}
