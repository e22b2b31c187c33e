import Foundation

/// How a placement serves in our simulator over several maximum flows of its layout
/// (`FlowScorer.runtimeFlows`): IWRR routes over whichever maximum flow its router's solver
/// returns, so a plan that serves well over one of them only serves well by luck.
public struct FlowRobustServing: Sendable, Equatable {
    /// Decode tokens/s over each flow, Dinic's first.
    public var decodeTokensPerSecond: [Double]
    /// Prompt and decode latency p50 over each flow, in the same order.
    public var promptP50: [Double]
    public var decodeP50: [Double]

    public var mean: Double { decodeTokensPerSecond.isEmpty ? 0 : decodeTokensPerSecond.reduce(0, +) / Double(decodeTokensPerSecond.count) }
    public var worst: Double { decodeTokensPerSecond.min() ?? 0 }
    /// The variance of `mean` (sample variance over the flows ÷ their count; 0 for one flow).
    public var meanVariance: Double {
        let n = Double(decodeTokensPerSecond.count)
        guard n > 1 else { return 0 }
        return decodeTokensPerSecond.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1) / n
    }
    public var meanPromptP50: Double { promptP50.isEmpty ? 0 : promptP50.reduce(0, +) / Double(promptP50.count) }
    public var meanDecodeP50: Double { decodeP50.isEmpty ? 0 : decodeP50.reduce(0, +) / Double(decodeP50.count) }
}

/// Simulates a placement offline (the Helix artifact's admission, IWRR) once per maximum flow.
public struct FlowRobustSimulation: Sendable {
    public let problem: PlacementProblem
    public let connectivity: Connectivity
    public let workload: Workload
    public let profiles: [String: GPUProfile]
    /// Maximum flows per placement: Dinic's and up to two more orders (each costs a simulation;
    /// three is what the planner's share of the budget holds, `SimulatedRanking`).
    public var flows = 3
    /// Leave Dinic's flow out where the layout has others and the judge's value depended on it
    /// (`flowsToSimulate`; `flows` of the others instead): the serving judge rates each plan over
    /// Dinic's flow alone, so a plan its climb kept was selected on that flow, and its simulation
    /// there is biased high. Measured (our simulator, 120 s, session 15, placement README): two
    /// cluster42 climb ends served 714.1 / 660.8 over Dinic's flow against 675.4-704.9 /
    /// 650.6-693.0 over four others; two Petals plans, which no judge selected, 668.0 / 641.2
    /// against 694.9-762.5. Off for `lattice simulate`.
    public var leavesOutJudgedFlow = false
    /// The model the judge rated plans with (`ServingModel.climbed`). Where its value over Dinic's
    /// flow equals its value over every other flow simulated (a plan at its flow cap, as single24's
    /// plans are: every pipeline limited by its flow share), the climb could not select on that
    /// flow, and Dinic's flow, the one our runtime routes over, stays. Nil: always left out.
    public var judgedBy: ServingModel? = nil
    /// Each run's settings (its `arcFlows` are replaced). Default: offline, the artifact's admission
    /// and IWRR, its 60 s warm-up and the 120 s window our helix-sim figures are measured over.
    public var config: SimulationConfig = {
        var config = SimulationConfig(mode: .offline, seed: 1)
        config.warmupSeconds = 60
        config.measureSeconds = 120
        return config
    }()

    public init(problem: PlacementProblem, connectivity: Connectivity, workload: Workload, profiles: [String: GPUProfile]) {
        self.problem = problem
        self.connectivity = connectivity
        self.workload = workload
        self.profiles = profiles
    }

    /// The maximum flows a placement is simulated over: Dinic's first, unless `leavesOutJudgedFlow`,
    /// the layout has another (a layout with one maximum flow, e.g. a single chain, keeps it) and
    /// the judge's value depended on which (`judgedBy`).
    public func flowsToSimulate(_ placement: Placement) -> [FlowResult] {
        guard leavesOutJudgedFlow else { return FlowScorer.runtimeFlows(problem, placement, connectivity, count: flows) }
        let all = FlowScorer.runtimeFlows(problem, placement, connectivity, count: flows + 1)
        guard all.count > 1 else { return all }
        if let model = judgedBy {
            let seen = model.predict(placement, flows: all[0]).decodeTokensPerSecond
            let flowBlind = all.dropFirst().allSatisfy { abs(model.predict(placement, flows: $0).decodeTokensPerSecond - seen) <= 1e-6 * max(1, abs(seen)) }
            if flowBlind { return Array(all.prefix(flows)) }
        }
        return Array(all.dropFirst())
    }

    /// One simulation over one flow (`stop`: as `Simulator.run`'s).
    public func simulate(_ placement: Placement, over flow: FlowResult, stop: (() -> Bool)? = nil) throws -> SimulationReport {
        var config = config
        config.arcFlows = flow.arcFlows
        return try Simulator.run(problem: problem, placement: placement, connectivity: connectivity, workload: workload, config: config, profiles: profiles, stop: stop)
    }

    /// All of a placement's flows (`flowsToSimulate`, or those given), one after another.
    public func serving(_ placement: Placement, over flows: [FlowResult]? = nil) throws -> FlowRobustServing {
        let reports = try (flows ?? flowsToSimulate(placement)).map { try simulate(placement, over: $0) }
        return FlowRobustServing(decodeTokensPerSecond: reports.map(\.decodeTokensPerSecond), promptP50: reports.map { $0.promptLatency["p50"] ?? 0 },
                                 decodeP50: reports.map { $0.decodeLatency["p50"] ?? 0 })
    }
}
