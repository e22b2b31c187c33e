import PlacementCore
import ServiceKit

/// placement-service: cluster + model + profile → layer placement and max flow.
@main
struct PlacementService: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "placement-service", abstract: "Lattice placement service: layer placement and max flow over a cluster.")
    @OptionGroup var options: ServiceOptions

    @Option(help: "Shared data directory (GPU profiles, Helix machine profiles, workload); default $LATTICE_SHARED_DATA or ../shared/data.")
    var data: String?

    @Option(help: "Solves, simulations and scores run at once; more are refused (RESOURCE_EXHAUSTED). [env: LATTICE_MAX_JOBS] (default: the number of cores)")
    var maxJobs: Int?

    @Option(help: "Of those, the most one client (API key, over all its connections) runs at once; the cluster secret is not limited (0 = no limit). [env: LATTICE_MAX_JOBS_PER_CLIENT] (default: 0)")
    var maxJobsPerClient: Int?

    @Option(help: "Most seconds of budget one request may ask for; more is refused (RESOURCE_EXHAUSTED), never silently cut.")
    var maxBudgetSeconds = 600.0

    @Option(help: "Serving plans: our simulator ranks this many plans at the end, as `lattice plan --rank-candidates` (default 3, as lattice plan's; 0: off).")
    var rankCandidates: Int?

    @Option(help: "Maximum flows each ranked plan is simulated over, as `lattice plan --rank-flows` (default 3).")
    var rankFlows: Int?

    @Option(help: "Measured seconds of each ranking simulation, as `lattice plan --rank-seconds` (default 120).")
    var rankSeconds: Double?

    @Option(help: "Cap on each ranking simulation's prompt tokens, as `lattice plan --rank-max-prompt` (default 0: the trace's lengths).")
    var rankMaxPrompt: Int?

    @Option(help: "Cap on each ranking simulation's output tokens, as `lattice plan --rank-max-output` (default 0: the trace's lengths).")
    var rankMaxOutput: Int?

    func run() async throws {
        let limit: Int, perClient: Int
        do {
            limit = try WorkPool.limit(flag: maxJobs)
            perClient = try WorkPool.perClientLimit(flag: maxJobsPerClient)
        } catch { throw ValidationError("\(error)") }
        let pool = WorkPool(limit: limit, perClient: perClient, what: "solves", setting: "--max-jobs / LATTICE_MAX_JOBS")
        guard maxBudgetSeconds > 0 else { throw ValidationError("--max-budget-seconds must be positive") }
        var handlers = PlacementHandlers(inputs: PlacementInputs(dataDirectory: data ?? SharedData.directory), pool: pool)
        handlers.budgetCap.maxSeconds = maxBudgetSeconds
        if let rankCandidates { handlers.ranking.candidates = rankCandidates }
        if let rankFlows { handlers.ranking.flows = rankFlows }
        handlers.ranking.measureSeconds = rankSeconds
        if let rankMaxPrompt { handlers.ranking.maxPromptTokens = rankMaxPrompt }
        if let rankMaxOutput { handlers.ranking.maxOutputTokens = rankMaxOutput }
        if let problem = handlers.ranking.problem { throw ValidationError(problem) }
        try await ServiceMain.run(.placement, options: options) { host in handlers.register(on: host) }
    }
}
