import Foundation
import PlacementCore
import ServiceKit

/// placement/Plan, placement/Simulate and placement/Score over PlacementCore.
struct PlacementHandlers: Sendable {
    let inputs: PlacementInputs
    /// Solves, simulations and scores run here, at most `--max-jobs` at once.
    let pool: WorkPool
    /// Budget when a request gives none, and the most a request may ask for.
    var defaultBudgetSeconds = 10.0
    var budgetCap = BudgetCap(maxSeconds: 600, flag: "--max-budget-seconds")
    /// The simulated ranking of serving plans (`--rank-*`), as `lattice plan`'s flags set it there.
    var ranking = RankingSettings()
    let tally = StatTotals(["plans", "simulations", "scores", "invalid_requests", "budgets_refused", "solve_seconds"])

    func register(on host: ServiceHost) {
        host.server.stream(Methods.Placement.plan.name, PlanRequest.self, PlanEvent.self) { request, context, writer in
            try await counted("plans") { try await plan(request, context: context, writer: writer) }
        }
        host.server.unary(Methods.Placement.simulate.name, SimulateRequest.self) { request, context in
            try await counted("simulations") { try await simulate(request, context: context) }
        }
        host.server.unary(Methods.Placement.score.name, ScoreRequest.self) { request, context in
            try await counted("scores") { try await score(request, context: context) }
        }
        host.addStats { [tally, pool] in tally.stats + pool.stats }
    }

    /// Counts finished calls and rejected requests for Stats.
    func counted<R>(_ name: String, _ body: () async throws -> R) async throws -> R {
        do {
            let result = try await body()
            tally.add(name)
            return result
        } catch let status as Status where status.code == .invalidArgument {
            tally.add("invalid_requests")
            throw status
        }
    }

    /// The request's budget (over the cap: refused), cut so that the answer leaves before the
    /// call's own deadline.
    func budget(_ requested: Double, field: String, context: CallContext) throws -> Double {
        guard requested >= 0, requested.isFinite else { throw Status(.invalidArgument, "\(field): must be zero (the default) or a positive number") }
        do { try budgetCap.check(requested, field: field) } catch {
            tally.add("budgets_refused")
            throw error
        }
        var budget = requested > 0 ? requested : min(defaultBudgetSeconds, budgetCap.maxSeconds)
        if let deadline = context.deadline {
            let left = ContinuousClock.now.duration(to: deadline)
            let seconds = Double(left.components.seconds) + Double(left.components.attoseconds) * 1e-18
            budget = min(budget, max(0.05, seconds * 0.9 - 0.2))
        }
        return budget
    }

    func solveOptions(_ method: Wire.PlacementMethod, _ connectivity: Connectivity, budget: Double, seed: UInt64) -> SolveOptions {
        let core: PlacementCore.PlacementMethod = switch method {
        case .auto: .auto
        case .milp: .milp
        case .heuristic: .heuristic
        case .petals: .petals
        case .swarm: .swarm
        case .separatePipelines: .sp
        }
        return SolveOptions(method: core, connectivity: connectivity, budgetSeconds: budget, seed: seed == 0 ? 1 : seed)
    }

    func plan(_ request: PlanRequest, context: CallContext, writer: TypedStreamWriter<PlanEvent>) async throws {
        let (problem, connectivity, measured) = try inputs.problemAndProfiles(request.cluster, request.model, variant: request.variant)
        var options = solveOptions(request.method, connectivity, budget: try budget(request.budgetSeconds, field: "budget_seconds", context: context), seed: request.seed)
        if request.maxEvaluations > 0 { options.maxEvaluations = Int(request.maxEvaluations) }
        // The same rule as `lattice plan`: serving (unless the request asks for flow), where every node type has a latency profile.
        options.use(request.objective == .flow ? .flow : .serving,
                    serving: ServingModel.forPlanning(problem: problem, connectivity: connectivity, dataDirectory: inputs.dataDirectory, measured: measured))
        do { try options.rank(ranking, problem: problem, dataDirectory: inputs.dataDirectory, measured: measured) } catch let error as PlacementError {
            throw Status(.failedPrecondition, "plan: the simulated ranking's workload: \(error)")
        }
        // The solver reports from its own threads; the newest reports wait here for the stream.
        let (reports, sink) = AsyncStream.makeStream(of: PlanProgress.self, bufferingPolicy: .bufferingNewest(32))
        options.progress = { sink.yield($0.wire) }
        let solve = options
        let forward = Task {
            for await report in reports { try await writer.send(PlanEvent(event: .progress(report))) }
        }
        let outcome: (SolveResult, Bool)
        do {
            outcome = try await OffLoop.run(in: pool, for: context.clientKeyID) { token in
                var run = solve
                run.cancellation = token
                return (Planner.solve(problem, options: run), token.isCancelled)
            }
        } catch {
            sink.finish()
            forward.cancel()
            throw error
        }
        sink.finish()
        tally.add("solve_seconds", outcome.0.seconds)
        try await forward.value
        try Task.checkCancellation()
        try await writer.send(PlanEvent(event: .result(problem.planResult(outcome.0, cancelled: outcome.1))))
    }

    func score(_ request: ScoreRequest, context: CallContext) async throws -> ScoreResponse {
        let (problem, connectivity) = try inputs.problem(request.cluster, request.model, variant: request.variant)
        let placement = try inputs.placement(request.layout, problem: problem)
        let result = try await OffLoop.run(in: pool, for: context.clientKeyID) { _ in Planner.score(problem, placement, connectivity) }
        return ScoreResponse(objectiveTokensPerSecond: result.objective, upperBoundTokensPerSecond: result.upperBound,
                             flows: problem.wireFlows(result.flows), placement: problem.wireRanges(placement))
    }

    func simulate(_ request: SimulateRequest, context: CallContext) async throws -> SimulateResponse {
        let (problem, connectivity) = try inputs.problem(request.cluster, request.model, variant: request.variant)
        let placement: Placement
        if let layout = request.layout, !(layout.ranges.isEmpty && layout.fileText.isEmpty) {
            placement = try inputs.placement(layout, problem: problem)
        } else {
            let options = solveOptions(request.method, connectivity, budget: try budget(request.planBudgetSeconds, field: "plan_budget_seconds", context: context), seed: request.seed)
            placement = try await OffLoop.run(in: pool, for: context.clientKeyID) { token in
                var run = options
                run.cancellation = token
                return Planner.solve(problem, options: run).placement
            }
        }
        var config = SimulationConfig(mode: request.mode == .online ? .online : .offline, routing: routing(request.routing), seed: request.seed == 0 ? 1 : request.seed)
        for (value, field) in [(request.warmupSeconds, "warmup_seconds"), (request.durationSeconds, "duration_seconds"), (request.arrivalTokensPerSecond, "arrival_tokens_per_second")] {
            guard value >= 0, value.isFinite, value <= 86_400 * 7 else { throw Status(.invalidArgument, "\(field): must be zero (the default) or a positive number of at most a week") }
        }
        if request.warmupSeconds > 0 { config.warmupSeconds = request.warmupSeconds }
        if request.durationSeconds > 0 { config.measureSeconds = request.durationSeconds }
        if request.arrivalTokensPerSecond > 0 { config.onlineTokenRate = request.arrivalTokensPerSecond }
        let dataDirectory = inputs.dataDirectory, settings = config
        let report: SimulationReport
        do {
            report = try await OffLoop.run(in: pool, for: context.clientKeyID) { _ in
                let workload = try Workload.azureConversations(dataDirectory: dataDirectory)
                return try Simulator.run(problem: problem, placement: placement, connectivity: connectivity, workload: workload,
                                         config: settings, dataDirectory: dataDirectory)
            }
        } catch let error as PlacementError {
            throw Status(.invalidArgument, "simulate: \(error)")
        }
        return report.wire(layout: Layout(ranges: problem.wireRanges(placement)))
    }

    func routing(_ policy: Wire.RoutingPolicy) -> PlacementCore.RoutingPolicy {
        switch policy {
        case .iwrr: .iwrr
        case .swarm: .swarm
        case .random: .random
        case .shortestQueue: .shortestQueue
        }
    }
}
