import CGLPK
import Foundation
import Testing
@testable import PlacementCore

/// The MILP alone (no cover search, no heuristics, no warm start) against optima proven here by
/// enumerating every placement of small clusters.
@Suite struct MILPTests {
    typealias NodeSpec = (type: String, throughput: [Double])

    /// A cluster of `nodes` over `layers` layers; `links` give node-to-node capacities in
    /// activations/s (source and sink links are wide).
    static func tiny(layers: Int, nodes: [NodeSpec], links: [(Int, Int, Double)]) -> PlacementProblem {
        let model = ModelSpec(name: "tiny", profileName: "tiny", numLayers: layers, hiddenSize: 8, layerParamBytes: 1)
        let problemNodes = nodes.enumerated().map { i, spec in
            PlacementProblem.Node(name: "n\(i)", type: spec.type, region: nil, throughput: spec.throughput,
                                  kvCapacity: spec.throughput.map { _ in 1000 }, promptMaxRequests: spec.throughput.map { _ in 1 },
                                  nicInBytesPerSecond: 1e12, nicOutBytesPerSecond: 1e12)
        }
        var arcs: [PlacementProblem.Arc] = []
        for i in nodes.indices {
            arcs.append(.init(from: .source, to: .node(i), bandwidthBytesPerSecond: 1e9, latencySeconds: 0))
            arcs.append(.init(from: .node(i), to: .sink, bandwidthBytesPerSecond: 1e9, latencySeconds: 0))
        }
        for (a, b, capacity) in links {
            for (u, v) in [(a, b), (b, a)] {
                arcs.append(.init(from: .node(u), to: .node(v), bandwidthBytesPerSecond: capacity * model.activationSize, latencySeconds: 0))
            }
        }
        return PlacementProblem(clusterName: "tiny", model: model, nodes: problemNodes, arcs: arcs)
    }

    /// The best max-flow over every placement in which each node holds some layers.
    static func bruteForce(_ problem: PlacementProblem, _ connectivity: Connectivity) -> Double {
        let L = problem.numLayers
        let options = problem.nodes.map { node in
            (1...min(L, node.maxLayers)).flatMap { k in (0...(L - k)).map { LayerRange(start: $0, end: $0 + k) } }
        }
        var best = 0.0
        var ranges = [LayerRange?](repeating: nil, count: problem.nodes.count)
        func visit(_ i: Int) {
            if i == problem.nodes.count {
                best = max(best, FlowScorer.objective(problem, Placement(ranges: ranges), connectivity))
                return
            }
            for r in options[i] { ranges[i] = r; visit(i + 1) }
        }
        visit(0)
        return best
    }

    static func solveAlone(_ problem: PlacementProblem, _ connectivity: Connectivity, _ formulation: MILPFormulation) -> MILPSolver.Outcome {
        var solver = MILPSolver(problem: problem, connectivity: connectivity)
        solver.stopEarly = false
        var options = SolveOptions(method: .milp, connectivity: connectivity, budgetSeconds: 60)
        options.formulation = formulation
        return solver.solve(warmStart: nil, clock: Clock(), deadline: 60, options: options)
    }

    /// Links that bind: n0 and n1 (identical, identically linked: symmetry rows) reach n2 only by
    /// thin links, n3 is slow but well linked.
    static let bindingCluster = tiny(
        layers: 5,
        nodes: [("A", [40, 35, 30]), ("A", [40, 35, 30]), ("B", [60, 50]), ("C", [25, 25, 20, 15])],
        links: [(0, 1, 100), (0, 2, 10), (1, 2, 10), (0, 3, 30), (1, 3, 30), (2, 3, 50)])

    @Test(arguments: Connectivity.allCases)
    func generalModelAloneFindsTheEnumeratedOptimum(connectivity: Connectivity) throws {
        let problem = Self.bindingCluster
        let optimum = Self.bruteForce(problem, connectivity)
        let outcome = Self.solveAlone(problem, connectivity, .general)
        let placement = try #require(outcome.placement)
        try placement.validate(for: problem)
        #expect(outcome.provenOptimal)
        #expect(outcome.exactModel)
        #expect(abs(FlowScorer.objective(problem, placement, connectivity) - optimum) < 1e-6, "enumerated optimum \(optimum)")
        #expect(abs(outcome.bound - optimum) < 1e-6)
        #expect((outcome.statistics["milp_nodes"] ?? 0) >= 1)
        #expect(outcome.statistics["milp_gap"] == 0)
        #expect(outcome.statistics["milp_symmetry_rows"] == 1)
    }

    /// Links never bind: the aggregated model (counts per class, start and length) alone.
    @Test(arguments: Connectivity.allCases)
    func aggregatedModelAloneFindsTheEnumeratedOptimum(connectivity: Connectivity) throws {
        let nodes: [NodeSpec] = [("A", [30, 28, 20]), ("A", [30, 28, 20]), ("B", [50, 45, 40, 30]), ("C", [70, 40])]
        let problem = Self.tiny(layers: 6, nodes: nodes, links: [(0, 1, 1e6), (0, 2, 1e6), (0, 3, 1e6), (1, 2, 1e6), (1, 3, 1e6), (2, 3, 1e6)])
        #expect(MILPSolver(problem: problem, connectivity: connectivity).linksNeverBind)
        let optimum = Self.bruteForce(problem, connectivity)
        let outcome = Self.solveAlone(problem, connectivity, .aggregated)
        let placement = try #require(outcome.placement)
        try placement.validate(for: problem)
        #expect(outcome.provenOptimal)
        #expect(outcome.statistics["milp_aggregated"] == 1)
        #expect(abs(FlowScorer.objective(problem, placement, connectivity) - optimum) < 1e-6, "enumerated optimum \(optimum)")
        #expect(abs(outcome.bound - optimum) < 1e-6)
    }

    /// The layer cuts tie the general model's LP bound to UB = Σ max k·T(k)/L (without them the
    /// relaxation fills every source arc: 21,625 on geo24).
    @Test func layerCutsBoundTheRelaxationByTheCapacityBound() {
        let problem = Self.bindingCluster
        let model = GeneralModel(problem: problem, connectivity: .partial, arcs: problem.arcs)
        let outcome = model.lp.maximize(warmStart: nil, clock: Clock(), deadline: 30, upperBound: .infinity,
                                        options: SolveOptions(), stopEarly: false)
        #expect(outcome.relaxation <= problem.upperBound + 1e-6, "relaxation \(outcome.relaxation), UB \(problem.upperBound)")
    }

    /// A model GLPK would abort on is refused with the defect named.
    @Test func invalidModelIsRefusedNotAborted() {
        var lp = LinearProgram()
        let x = lp.addColumn("x", upper: 1, objective: 1)
        lp.addRow([(x, 1), (x + 5, 2)], upper: 1)
        let outcome = lp.maximize(warmStart: nil, clock: Clock(), deadline: 5, upperBound: .infinity, options: SolveOptions())
        #expect(outcome.values == nil)
        #expect(outcome.status.contains("column 5"), "\(outcome.status)")
    }

    /// A solve frees GLPK's per-thread environment: each solve runs on a new thread (WorkPool),
    /// which would otherwise leak one. glp_free_env answers 1 when there is none left to free.
    @Test func aSolveLeavesNoGLPKEnvironmentBehind() {
        var lp = LinearProgram()
        let column = lp.addColumn("x", upper: 3, objective: 1, kind: .integer)
        lp.addRow([(column, 2)], upper: 5)
        let outcome = lp.maximize(warmStart: nil, clock: Clock(), deadline: 5, upperBound: .infinity, options: SolveOptions())
        let x = outcome.values?.first ?? -1   // unwrapped: see README "Sanitizers"
        #expect(x == 2)
        #expect(glp_free_env() == 1)
    }
}

/// The serving model's KV limit as a linear constraint (`ServableFlow`): where a node's KV room is
/// short, its T(k) is capped by Little's law, and GLPK alone finds the enumerated optimum of the capped problem.
@Suite struct ServableFlowTests {
    /// bindingCluster with n0's and n1's KV room for half a request per layer held, and flat 10 ms/layer latency curves.
    static func shortKV() throws -> (PlacementProblem, ServingModel) {
        var problem = MILPTests.bindingCluster
        problem.nodes[0].kvCapacity = [590, 590, 590]
        problem.nodes[1].kvCapacity = [590, 590, 590]
        for i in 2..<problem.nodes.count { problem.nodes[i].kvCapacity = problem.nodes[i].throughput.map { _ in 1_000_000 } }
        let flat = LatencyCurve(points: [(1, 0.01), (4096, 0.01)])
        var profiles: [String: GPUProfile] = [:]
        for node in problem.nodes {
            profiles[node.type] = GPUProfile(type: node.type, prompt: flat, decode: flat,
                                             capacity: GPUCapacityTable(maxLayers: node.maxLayers, kvCapacity: node.kvCapacity, promptMaxRequests: node.kvCapacity.map { _ in 1 }))
        }
        return (problem, try ServingModel(problem: problem, connectivity: .partial, profiles: profiles))
    }

    @Test func shortKVCapsThroughputAndGLPKFindsTheCappedOptimum() throws {
        let (problem, serving) = try Self.shortKV()
        let (servable, capped) = serving.servableProblem()
        // n0: N = 0.85·590/(1003·k) = 0.5/k requests, step 5 layers × 10 ms, cap = N/0.05 · 995/232 = 42.9/k.
        #expect(capped == 4)
        let inFlight: Double = 0.85 * 590 / (1003 * 2)
        let expected: Double = inFlight / 0.05 * 995 / 232
        #expect(abs(servable.nodes[0].throughput[1] - expected) < 1e-9)
        #expect(servable.nodes[0].throughput[0] == problem.nodes[0].throughput[0])
        #expect(servable.nodes[1].throughput == servable.nodes[0].throughput)
        #expect(servable.nodes[2].throughput == problem.nodes[2].throughput)
        let flowOptimum = MILPTests.bruteForce(problem, .partial)
        let servableOptimum = MILPTests.bruteForce(servable, .partial)
        #expect(servableOptimum < flowOptimum - 1e-6, "the cap must bind here: \(servableOptimum) vs \(flowOptimum)")
        let outcome = MILPTests.solveAlone(servable, .partial, .general)
        let placement = try #require(outcome.placement)
        #expect(outcome.provenOptimal)
        #expect(abs(FlowScorer.objective(servable, placement, .partial) - servableOptimum) < 1e-6)
    }

    /// The planner hands the capped model to GLPK under the serving objective, and not its bound as a max-flow bound.
    @Test func thePlannerUsesTheCappedModelUnderTheServingObjective() throws {
        let (problem, serving) = try Self.shortKV()
        var options = SolveOptions(method: .milp, connectivity: .partial, budgetSeconds: 30, seed: 1)
        options.maxEvaluations = 100
        options.milpAlone = true
        options.use(.serving, serving: serving)
        let result = Planner.solve(problem, options: options)
        #expect(result.statistics["milp_kv_capped"] == 4)
        #expect((result.statistics["milp_nodes"] ?? 0) >= 1)
        #expect(!result.provenOptimal)
        #expect(result.upperBound >= result.objective)
    }
}
