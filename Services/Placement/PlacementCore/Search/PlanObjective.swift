import Foundation

extension ServingModel {
    /// The serving model for planning `problem`: each node type's latency profile is its own
    /// measured one (`measured`, workers that timed themselves) or the GPU profile in the data
    /// directory. Nil when some type has neither (nominal CPU-style nodes, whose objective only
    /// compares placements): such problems are planned for the max-flow objective.
    public static func forPlanning(problem: PlacementProblem, connectivity: Connectivity, dataDirectory: String = SharedData.directory,
                                   measured: [String: GPUProfile] = [:]) -> ServingModel? {
        guard let profiles = GPUProfile.forPlanning(problem: problem, dataDirectory: dataDirectory, measured: measured) else { return nil }
        return try? ServingModel(problem: problem, connectivity: connectivity, profiles: profiles)
    }
}

extension GPUProfile {
    /// Each node type's latency profile for planning: its `measured` one, else the data
    /// directory's. Nil when some type has neither.
    public static func forPlanning(problem: PlacementProblem, dataDirectory: String = SharedData.directory,
                                   measured: [String: GPUProfile] = [:]) -> [String: GPUProfile]? {
        var profiles = measured
        for node in problem.nodes where profiles[node.type] == nil {
            let machine = MachineType.builtin[node.type] ?? MachineType(name: node.type, vramBytes: 0, nicInBytesPerSecond: node.nicInBytesPerSecond,
                                                                         nicOutBytesPerSecond: node.nicOutBytesPerSecond)
            guard let profile = try? GPUProfile.load(type: node.type, model: problem.model, machine: machine, dataDirectory: dataDirectory) else { return nil }
            profiles[node.type] = profile
        }
        return profiles
    }
}

extension SolveOptions {
    /// Sets what the plan maximises. `lattice plan` and the placement-service's Plan both come
    /// here, so the same cluster, method, budget and seed are planned alike: `.serving` (their
    /// default) needs `serving`, and without one the plan is for the max-flow objective.
    /// Returns the objective in effect.
    @discardableResult
    public mutating func use(_ objective: PlacementObjective, serving model: ServingModel?, decodeLatencyBound: Double? = nil) -> PlacementObjective {
        guard objective == .serving, let model else {
            serving = nil
            self.decodeLatencyBound = nil
            return .flow
        }
        serving = model
        self.decodeLatencyBound = decodeLatencyBound
        return .serving
    }
}

/// How many plans the planner's simulated ranking compares, over how many maximum flows each and
/// how long a simulated window: `lattice plan` and placement-service's Plan take the same settings
/// (their `--rank-*` flags), so the live plan stays `lattice plan`'s.
public struct RankingSettings: Sendable, Equatable {
    /// Default 3: the judge's pick, the Petals baseline and the judge's next best (0: off). Helix's
    /// simulator rates session 14's ranked default plans no worse than the unranked ones on every
    /// cluster: single24 287.6 against 283.1, strict single24 at 12 evaluations 248.8 against 204.0,
    /// cluster42 725.3 against 654.3, geo24 the same plan (placement README, session 14). A stack
    /// serving shorter queries ranks with `maxPromptTokens`/`maxOutputTokens` (session 13's live
    /// single24 stack, ranked over the trace's lengths: 731 against 905 decode tok/s).
    public var candidates = 3
    /// Maximum flows per plan (`FlowRobustSimulation.flows`), other than Dinic's where the judge's
    /// rating of the plan depended on that flow (`FlowRobustSimulation.leavesOutJudgedFlow`).
    public var flows = 3
    /// Measured seconds of each simulation; nil: `FlowRobustSimulation`'s 120 s (tests shorten it).
    public var measureSeconds: Double? = nil
    /// Caps on each simulated query's prompt and output tokens (0: the Azure trace's lengths), to
    /// rank plans for the queries they will serve: which plan serves best turns on them (session
    /// 13's single24 strict plans, our simulator, 120 s: the 24-GPU chain 219.0 against Petals'
    /// 238.4 decode tok/s on the trace's lengths, 622.8 against 488.9 cut to 256 / 64 tokens, the
    /// live bench's queries, where the live stack served 905 against 731).
    public var maxPromptTokens = 0
    public var maxOutputTokens = 0

    public init(candidates: Int = 3, flows: Int = 3, measureSeconds: Double? = nil, maxPromptTokens: Int = 0, maxOutputTokens: Int = 0) {
        self.candidates = candidates
        self.flows = flows
        self.measureSeconds = measureSeconds
        self.maxPromptTokens = maxPromptTokens
        self.maxOutputTokens = maxOutputTokens
    }

    /// What is wrong with these settings, as flags name them; nil when they are valid.
    public var problem: String? {
        guard candidates >= 0 else { return "--rank-candidates must be 0 (off) or more" }
        guard flows >= 1 else { return "--rank-flows must be at least 1" }
        if let measureSeconds, !(measureSeconds > 0 && measureSeconds <= 86_400) { return "--rank-seconds must be a positive number of seconds, at most a day" }
        guard maxPromptTokens >= 0, maxOutputTokens >= 0 else { return "--rank-max-prompt and --rank-max-output must be 0 (no cap) or more" }
        return nil
    }
}

extension SolveOptions {
    /// With the serving objective in effect (`use`) and `settings.candidates` > 0: rank the plans
    /// at the end by our simulator over the Azure conversation workload, cut to the settings' caps (`SimulatedRanking`), with
    /// the profiles the serving model has. Otherwise no ranking. Throws when the workload is missing.
    public mutating func rank(_ settings: RankingSettings, problem: PlacementProblem, dataDirectory: String = SharedData.directory,
                              measured: [String: GPUProfile] = [:]) throws {
        simulatedRanking = nil
        guard settings.candidates > 0, serving != nil,
              let profiles = GPUProfile.forPlanning(problem: problem, dataDirectory: dataDirectory, measured: measured) else { return }
        let workload = try Workload.azureConversations(dataDirectory: dataDirectory).capped(prompt: settings.maxPromptTokens, output: settings.maxOutputTokens)
        var simulation = FlowRobustSimulation(problem: problem, connectivity: connectivity, workload: workload, profiles: profiles)
        simulation.flows = settings.flows
        simulation.leavesOutJudgedFlow = true
        simulation.judgedBy = serving?.climbed
        if let seconds = settings.measureSeconds { simulation.config.measureSeconds = seconds }
        var ranking = SimulatedRanking(simulation: simulation)
        ranking.candidates = settings.candidates
        simulatedRanking = ranking
    }
}
