import ArgumentParser
import Foundation
import PlacementCore

/// Options shared by plan, simulate and score: the cluster file and the model.
struct PlacementInput: ParsableArguments {
    @Argument(help: "Cluster file: Lattice .json or Helix .ini.")
    var cluster: String

    @Option(help: "Model: llama2-70b, llama1-30b, or a config.json path.")
    var model: String = "llama2-70b"

    @Option(help: "Shared data directory (profiles, workload); default $LATTICE_SHARED_DATA or ../shared/data.")
    var data: String?

    @Flag(help: "Use the artifact's published T(k) tables for this cluster instead of our throughput model.")
    var referenceTables = false

    @Option(help: "Connectivity between stages: partial (default, what the runtime routes) or strict.")
    var connectivity: String = "partial"

    @Option(help: "Ask a placement-service at HOST:PORT instead of solving in-process.")
    var server: String?

    /// The serving model (needs the GPU latency profiles from the data directory).
    func servingModel(_ problem: PlacementProblem, _ connectivity: Connectivity) throws -> ServingModel {
        let profiles = try profiles(problem)
        do { return try ServingModel(problem: problem, connectivity: connectivity, profiles: profiles) } catch let error as PlacementError {
            throw ValidationError(error.description)
        }
    }

    func profiles(_ problem: PlacementProblem) throws -> [String: GPUProfile] {
        do { return try GPUProfile.loadAll(problem: problem, dataDirectory: data ?? SharedData.directory) } catch let error as PlacementError {
            throw ValidationError(error.description)
        }
    }

    func problem() throws -> (PlacementProblem, Connectivity) {
        guard let connectivity = Connectivity(rawValue: connectivity) else {
            throw ValidationError("--connectivity must be 'partial' or 'strict'")
        }
        do {
            let spec = try ModelSpec.resolve(model)
            let problem = try PlacementProblem.load(clusterPath: cluster, model: spec, dataDirectory: data ?? SharedData.directory,
                                                    useReferenceTables: referenceTables)
            return (problem, connectivity)
        } catch let error as PlacementError {
            throw ValidationError(error.description)
        }
    }
}

func placementJSON(_ problem: PlacementProblem, _ result: SolveResult, extra: [String: Any] = [:]) -> [String: Any] {
    var object: [String: Any] = [
        "cluster": problem.clusterName,
        "model": problem.model.name,
        "method": result.method.rawValue,
        "connectivity": result.connectivity.rawValue,
        "objective_tokens_per_s": result.objective,
        "upper_bound_tokens_per_s": jsonNumber(result.upperBound),
        "gap": result.gap.isFinite ? result.gap : -1,
        "proven_optimal": result.provenOptimal,
        "seconds": result.seconds,
        "placement": result.placement.ranges.enumerated().compactMap { i, r in r.map { ["node": i, "start": $0.start, "end": $0.end] } },
        "node_flows": result.flows.nodeFlows,
        "arc_flows": result.flows.arcFlows.map { ["from": $0.from, "to": $0.to, "tokens_per_s": $0.tokensPerSecond] },
        // The flow IWRR routes over, live and simulated (`simulate --flows` reads it first): the
        // runtime graph's, the planner's choice where it simulated several; "arc_flows" is the MILP graph's (the objective).
        "routing_arc_flows": result.runtimeFlow(problem).arcFlows.map { ["from": $0.from, "to": $0.to, "tokens_per_s": $0.tokensPerSecond] },
        "statistics": result.statistics.mapValues(jsonNumber),
        "found_by": result.foundBy,
    ]
    for (k, v) in extra { object[k] = v }
    return object
}

/// JSON has no infinity: a bound nothing set (a solve stopped before any bound) is written as null.
func jsonNumber(_ x: Double) -> Any { x.isFinite ? x : NSNull() }

func servingJSON(_ p: ServingPrediction) -> [String: Any] {
    ["predicted_decode_tokens_per_s": p.decodeTokensPerSecond, "predicted_decode_latency_s": p.decodeLatencySeconds,
     "predicted_prompt_latency_s": p.promptLatencySeconds, "pipelines": p.pipelines, "mean_depth": p.meanDepth,
     "exposed_slow_links": p.exposedSlowLinks, "population_bound_tokens_per_s": p.populationBoundTokensPerSecond,
     "bound_tokens_per_s": p.boundTokensPerSecond]
}

func servingLine(_ p: ServingPrediction) -> String {
    String(format: "  predicted serving: %.1f decode tokens/s (bound %.1f), decode step %.2f s, prompt %.2f s (%d pipelines, mean depth %.1f, %d slow links exposed)",
           p.decodeTokensPerSecond, p.boundTokensPerSecond, p.decodeLatencySeconds, p.promptLatencySeconds, p.pipelines, p.meanDepth, p.exposedSlowLinks)
}

func printJSON(_ object: [String: Any]) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
    print(String(decoding: data, as: UTF8.self))
}

func standardError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "Choose a layer range per node (max-flow MILP on GLPK, search, or a baseline).")

    @OptionGroup var input: PlacementInput

    // 58 s: reading the cluster and writing the plan take the rest of a minute (61 s of wall at
    // --budget 60 on cluster42, load ~30), so the default command plans within 60 s.
    @Option(help: "Wall-clock budget of the solve in seconds (the default leaves time to read the cluster and write the plan within a minute).")
    var budget: Double = 58

    @Option(help: "auto | milp | heuristic | petals | swarm | sp")
    var method: String = "auto"

    @Option(help: "Random seed (the search is deterministic for a seed and --max-evaluations).")
    var seed: UInt64 = 1

    @Option(help: "Search threads.")
    var threads: Int = 2

    @Option(help: "Cap on each phase's work (search evaluations per thread, judgements, cover-search steps ×1000, GLPK nodes ÷10): with it, work ends the plan and --budget does not, so the plan is the same on any machine.")
    var maxEvaluations: Int?

    @Option(help: "MILP model: automatic | aggregated | general (for measuring formulations).")
    var formulation: String = "automatic"

    @Flag(help: "Skip the exact cover search.")
    var noCover = false

    @Flag(help: "Run GLPK by itself: no search, cover search or warm start (with --method milp or auto; use --objective flow to see its placement unjudged).")
    var milpAlone = false

    @Option(help: "Cap on GLPK's branch-and-bound nodes (default: --max-evaluations / 10 when that is given).")
    var milpNodes: Int?

    @Option(help: "serving (default): maximise the serving model's predicted decode tokens/s; flow: the max-flow objective.")
    var objective: String = "serving"

    @Option(help: "With --objective serving: penalise plans whose predicted decode step exceeds this many seconds.")
    var latencyBound: Double?

    @Option(help: "With --objective serving: a layout (Helix .ini or our JSON) whose predicted prompt and decode latency the plan must not exceed; it is a candidate too.")
    var reference: String?

    @Option(help: "flow: as --objective says; simulated: let a short offline simulation pick among the placements found (overrides --objective).")
    var select: String = "flow"

    // Optional so that `--server` can refuse them: the service's own --rank-* flags decide there.
    @Option(help: "With --objective serving: our simulator ranks this many plans at the end (the judge's pick, the Petals baseline, the judge's next best), each over --rank-flows maximum flows of its layout, and keeps the judge's pick unless another beats it by more than the noise. 0: off. Not with --previous. (default: 3, as placement-service's default)")
    var rankCandidates: Int?

    @Option(help: "Maximum flows each ranked plan is simulated over: Dinic's and the links offered in shuffled orders, leaving Dinic's out where the judge's rating of the plan depended on it (the climb selected on it). (default: 3)")
    var rankFlows: Int?

    @Option(help: "Measured seconds of each ranking simulation (after its 60 s warm-up). (default: 120)")
    var rankSeconds: Double?

    @Option(help: "Cap on each ranking simulation's prompt tokens, to rank for the queries the plan will serve (as `lattice load --max-prompt`). (default: 0, the trace's lengths)")
    var rankMaxPrompt: Int?

    @Option(help: "Cap on each ranking simulation's output tokens (as `lattice load --max-output`). (default: 0, the trace's lengths)")
    var rankMaxOutput: Int?

    @Option(help: "Re-plan from this running layout (same node numbering; joined nodes absent, departed nodes removed from the cluster), preferring plans that move few layers.")
    var previous: String?

    @Option(help: "With --previous: the score share given up for moving the whole model once.")
    var movePenalty: Double = 0.2

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: "Write an SVG drawing of the placement to this file.")
    var svg: String?

    func run() async throws {
        if let server = input.server {
            return try await RemotePlacement.plan(self, server: server)
        }
        guard let method = PlacementMethod(rawValue: method) else {
            throw ValidationError("--method must be one of: \(PlacementMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard budget > 0, budget.isFinite else { throw ValidationError("--budget must be a positive number of seconds") }
        let (problem, connectivity) = try input.problem()
        var options = SolveOptions(method: method, connectivity: connectivity, budgetSeconds: budget, seed: seed)
        options.threads = max(1, threads)
        options.maxEvaluations = maxEvaluations
        guard let formulation = MILPFormulation(rawValue: formulation) else {
            throw ValidationError("--formulation must be one of: \(MILPFormulation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        options.formulation = formulation
        options.coverSearch = !noCover
        options.milpAlone = milpAlone
        if let milpNodes { guard milpNodes > 0 else { throw ValidationError("--milp-nodes must be a positive number of nodes") }; options.milpNodes = milpNodes }
        guard let objective = PlacementObjective(rawValue: objective) else { throw ValidationError("--objective must be 'flow' or 'serving'") }
        if let latencyBound, !(latencyBound > 0 && latencyBound.isFinite) { throw ValidationError("--latency-bound must be a positive number of seconds") }
        let serving = try input.servingModel(problem, connectivity)
        options.use(objective, serving: serving, decodeLatencyBound: latencyBound)
        if let reference {
            guard options.serving != nil else { throw ValidationError("--reference needs --objective serving (the flow objective has no latencies to bound)") }
            do {
                let layout = try LayoutFile.load(path: reference, nodeCount: problem.nodes.count)
                try layout.validate(for: problem)
                options.reference = layout
            } catch let error as PlacementError { throw ValidationError("--reference \(reference): \(error.description)") }
        }
        var ranking = RankingSettings()
        if let rankCandidates { ranking.candidates = rankCandidates }
        if let rankFlows { ranking.flows = rankFlows }
        ranking.measureSeconds = rankSeconds
        if let rankMaxPrompt { ranking.maxPromptTokens = rankMaxPrompt }
        if let rankMaxOutput { ranking.maxOutputTokens = rankMaxOutput }
        if let problem = ranking.problem { throw ValidationError(problem) }
        if previous == nil {
            do { try options.rank(ranking, problem: problem, dataDirectory: input.data ?? SharedData.directory) } catch let error as PlacementError {
                throw ValidationError(error.description)
            }
        }
        options.progress = { p in
            standardError(p.line)
        }
        switch select {
        case "flow": break
        case "simulated":
            let workload: Workload
            let profiles: [String: GPUProfile]
            do {
                workload = try Workload.azureConversations(dataDirectory: input.data ?? SharedData.directory)
                profiles = try GPUProfile.loadAll(problem: problem, dataDirectory: input.data ?? SharedData.directory)
            } catch let error as PlacementError { throw ValidationError(error.description) }
            options.judge = { placement in
                var config = SimulationConfig(mode: .offline, seed: 1)
                config.warmupSeconds = 60
                config.measureSeconds = 240
                return (try? Simulator.run(problem: problem, placement: placement, connectivity: connectivity, workload: workload,
                                           config: config, profiles: profiles).decodeTokensPerSecond) ?? 0
            }
        default: throw ValidationError("--select must be 'flow' or 'simulated'")
        }
        var result: SolveResult
        var replan: ReplanReport?
        if let previous {
            guard movePenalty >= 0, movePenalty <= 1 else { throw ValidationError("--move-penalty must be between 0 and 1") }
            let running: Placement
            do {
                running = try LayoutFile.load(path: previous, nodeCount: problem.nodes.count)
                try running.validate(for: problem)
            } catch let error as PlacementError { throw ValidationError(error.description) }
            (result, replan) = Replanner.replan(problem, previous: running, options: options, movePenalty: movePenalty)
        } else {
            result = Planner.solve(problem, options: options)
        }
        if let svg {
            try PlacementDrawing.svg(problem: problem, result: result).write(toFile: svg, atomically: true, encoding: .utf8)
        }
        let predicted = serving.predict(result.placement)
        if json {
            var extra: [String: Any] = ["serving": servingJSON(predicted), "objective": objective.rawValue]
            if let replan {
                extra["replan"] = ["layers_moved": replan.layersMoved, "fresh_layers_moved": replan.freshLayersMoved,
                                   "previous_score": replan.previousScore, "score": replan.score, "fresh_score": replan.freshScore]
            }
            try printJSON(placementJSON(problem, result, extra: extra))
        } else {
            print(String(format: "%@ on %@ (objective %@): flow %.2f tokens/s (bound %.2f, gap %.1f%%%@) in %.1f s, found by %@", method.rawValue, problem.clusterName,
                         objective.rawValue, result.objective, result.upperBound, result.gap * 100, result.provenOptimal ? ", optimal" : "", result.seconds, result.foundBy))
            print(servingLine(predicted))
            let stats = result.statistics
            if let ranked = stats["simulated_candidates"], let mean = stats["simulated_mean_decode_tokens_per_s"] {
                print(String(format: "  simulated ranking: %.0f plans; chosen %.1f decode tok/s, prompt p50 %.2f s, decode p50 %.2f s (judge's pick %.1f, %.2f s, %.2f s); "
                             + "refused: %.0f for latency (> %.0f%% over the pick's p50), %.0f for slow links", ranked, mean, stats["simulated_prompt_p50_s"] ?? 0,
                             stats["simulated_decode_p50_s"] ?? 0, stats["simulated_judge_pick_mean_decode_tokens_per_s"] ?? 0, stats["simulated_judge_pick_prompt_p50_s"] ?? 0,
                             stats["simulated_judge_pick_decode_p50_s"] ?? 0, stats["simulated_refused_for_latency"] ?? 0, (stats["simulated_latency_bound"] ?? 0) * 100,
                             stats["simulated_refused_for_slow_links"] ?? 0))
            }
            if let routed = stats["simulated_routing_decode_tokens_per_s"], let flows = stats["simulated_routing_flows"] {
                let dinic = stats["simulated_routing_dinic_decode_tokens_per_s"].map { String(format: " (Dinic's %.1f)", $0) } ?? ""
                print(String(format: "  routing: over the best of %.0f maximum flows simulated, flow %.0f: %.1f decode tok/s%@, prompt p50 %.2f s, decode p50 %.2f s",
                             flows, stats["simulated_routing_flow_index"] ?? 0, routed, dinic, stats["simulated_routing_prompt_p50_s"] ?? 0, stats["simulated_routing_decode_p50_s"] ?? 0))
            }
            if let replan {
                let unit = options.serving != nil ? "predicted decode tokens/s" : "flow tokens/s"
                print(String(format: "  re-plan: %d layers moved (a fresh plan: %d); %@ %.1f → %.1f (fresh plan %.1f)", replan.layersMoved, replan.freshLayersMoved,
                             unit, replan.previousScore, replan.score, replan.freshScore))
            }
            if result.statistics["milp_skipped_work_bounded"] == 1 {
                print(String(format: "  GLPK: not run (%.0f rows; with --max-evaluations only models up to %d rows run: GLPK cannot count work inside one LP)",
                             result.statistics["milp_rows"] ?? 0, SolveOptions.workBoundedMILPRows))
            }
            if let nodes = result.statistics["milp_nodes"] {
                let stats = result.statistics
                let stop = stats["milp_proven"] == 1 ? "proven" : stats["milp_stopped_by_nodes"] == 1 ? "stopped at the node limit"
                    : stats["milp_stopped_by_time"] == 1 ? "stopped by time" : "stopped"
                print(String(format: "  GLPK (%@ model, %.0f rows): %.0f branch-and-bound nodes, objective %.2f, bound %.2f, gap %@, %@", stats["milp_aggregated"] == 1 ? "aggregated" : "general",
                             stats["milp_rows"] ?? 0, nodes, stats["milp_objective"] ?? 0, stats["milp_bound"] ?? 0,
                             (stats["milp_gap"] ?? -1) >= 0 ? String(format: "%.1f%%", (stats["milp_gap"] ?? 0) * 100) : "none", stop))
            }
            for (i, r) in result.placement.ranges.enumerated() {
                guard let r else { print("  node \(i): idle"); continue }
                print(String(format: "  node %2d %-5@ layers [%2d, %2d)  flow %.1f", i, problem.nodes[i].type, r.start, r.end, result.flows.nodeFlows[i]))
            }
        }
    }
}

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "simulate", abstract: "Simulate serving a placement (discrete-event, offline or online workload).")

    @OptionGroup var input: PlacementInput

    @Option(help: "Layout file (Helix .ini or our JSON); or use --method.")
    var layout: String?

    @Option(help: "Plan with this method first (budget from --budget).")
    var method: String?

    @Option(help: "Budget for --method, seconds.")
    var budget: Double = 20

    @Option(help: "offline | online")
    var mode: String = "offline"

    @Option(help: "Routing: iwrr | swarm | random | shortest-queue")
    var routing: String = "iwrr"

    @Option(help: "Measured seconds (after warm-up).")
    var duration: Double?

    @Option(help: "Online: target arrival rate in tokens/s (default: half the placement's max flow).")
    var rate: Double?

    @Option(help: "Offline: a closed loop of that many queries under any routing (as `lattice load --concurrency`), admitted as the live scheduler admits them (`--kv-policy offline`: KV room for each query's own lengths, first come first served; the rest wait). Without it, the artifact's admission: iwrr its KV-driven feeder, the KV-blind routings --artifact-queries in flight.")
    var offlineQueries: Int?

    @Option(help: "Offline without --offline-queries, under a KV-blind routing: the artifact's admission with that many queries in flight, none refused for KV (default 180, its value for single24/geo24; 500 for cluster42).")
    var artifactQueries: Int?

    @Option(help: "Seconds of each node-to-node link's bandwidth that prompts not yet through may occupy, as the live scheduler admits them (its --prompt-window, default 2); a query held back waits. Default: uncapped, the artifact's admission.")
    var promptWindow: Double?

    @Option(help: "Seconds simulated before the measured window (default 60).")
    var warmup: Double?

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    @Option(help: "Decode steps: coordinator (each step from the source to the sink, as Helix's simulator) or workers (the last hop sends the token straight back to the first, as our live runtime does).")
    var decodeLoop: String = "coordinator"

    @Option(help: "How a node's outputs reach the next: request (one request per transfer, an idle node starting on the first to arrive, as Helix's simulator) or batch (one message per next node for the whole batch, arriving together, as our live workers' Forward).")
    var hopMessages: String = "request"

    @Option(help: "When Swarm picks a prompt's hops: per-hop (as it leaves each node, as Helix's simulator) or admission (the whole route when admitted, as our live scheduler). Default: per-hop with --hop-messages request and the artifact's admission, else admission.")
    var swarmRoutes: String?

    @Option(help: "Tokens a node's batch holds at most beside its GPU's limits, as a live worker's --max-batch-tokens (default: none, as Helix's simulator).")
    var batchTokens: Int?

    @Option(help: "Cap on each request's prompt tokens (0: the trace's lengths), as `lattice load --max-prompt`.")
    var maxPrompt: Int = 0

    @Option(help: "Cap on each request's output tokens (0: the trace's lengths), as `lattice load --max-output`.")
    var maxOutput: Int = 0

    @Option(help: "Issue these queries in this order (`input,output` token counts a line, e.g. the Helix artifact's draws from scripts/helix-sim-queries.py) instead of uniform draws from the workload.")
    var queries: String?

    @Option(help: "IWRR over the \"routing_arc_flows\" (the flow a plan routes over, as `plan --json` and `score --json` write it), else the \"arc_flows\" (scripts/helix-sim-flows.py), of this JSON file instead of the max flow computed here: a placement has many maximum flows, and routing follows the one given.")
    var flows: String?

    @Option(help: "Simulate over this many maximum flows of the layout (Dinic's, then the links offered in shuffled orders; fewer where the orders find fewer) and print each run's figures and their mean and worst: a router may route over any of them.")
    var maxFlows: Int?

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: "Write an SVG drawing of the placement's pipelines (bars shaded by simulated utilisation) to this file.")
    var svg: String?

    func run() async throws {
        if let server = input.server {
            guard maxFlows == nil else { throw ValidationError("--max-flows is simulated here only; drop --server") }
            guard decodeLoop == "coordinator" else { throw ValidationError("--decode-loop \(decodeLoop) is simulated here only; drop --server") }
            guard hopMessages == "request", batchTokens == nil, swarmRoutes == nil, queries == nil else {
                throw ValidationError("--hop-messages batch, --batch-tokens, --swarm-routes and --queries are simulated here only; drop --server")
            }
            return try await RemotePlacement.simulate(self, server: server)
        }
        let (problem, connectivity) = try input.problem()
        let placement: Placement
        switch (layout, method) {
        case (let path?, nil):
            do {
                placement = try LayoutFile.load(path: path, nodeCount: problem.nodes.count)
                try placement.validate(for: problem)
            } catch let error as PlacementError { throw ValidationError(error.description) }
        case (nil, let name?):
            guard let m = PlacementMethod(rawValue: name) else { throw ValidationError("unknown --method '\(name)'") }
            placement = Planner.solve(problem, options: SolveOptions(method: m, connectivity: connectivity, budgetSeconds: budget, seed: seed)).placement
        default:
            throw ValidationError("give exactly one of --layout FILE or --method M")
        }
        guard let mode = SimulationMode(rawValue: mode) else { throw ValidationError("--mode must be offline or online") }
        guard let routing = RoutingPolicy(rawValue: routing) else {
            throw ValidationError("--routing must be one of: \(RoutingPolicy.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard maxPrompt >= 0, maxOutput >= 0 else { throw ValidationError("--max-prompt and --max-output must be 0 (no cap) or more") }
        var workload: Workload
        do { workload = try Workload.azureConversations(dataDirectory: input.data ?? SharedData.directory) } catch let error as PlacementError {
            throw ValidationError(error.description)
        }
        if let queries {
            do { workload = try Workload.queries(path: queries, arrivalTrace: workload.arrivalTrace) } catch let error as PlacementError {
                throw ValidationError(error.description)
            }
        }
        workload = workload.capped(prompt: maxPrompt, output: maxOutput)
        var config = SimulationConfig(mode: mode, routing: routing, seed: seed)
        config.queriesInOrder = queries != nil
        guard let loop = DecodeLoop(rawValue: decodeLoop) else { throw ValidationError("--decode-loop must be 'coordinator' or 'workers' (got '\(decodeLoop)')") }
        config.decodeLoop = loop
        guard let messages = HopMessages(rawValue: hopMessages) else { throw ValidationError("--hop-messages must be 'request' or 'batch' (got '\(hopMessages)')") }
        config.hopMessages = messages
        if let swarmRoutes {
            guard let routes = SwarmRoutes(rawValue: swarmRoutes) else { throw ValidationError("--swarm-routes must be 'per-hop' or 'admission' (got '\(swarmRoutes)')") }
            config.swarmRoutes = routes
        }
        if let batchTokens {
            guard batchTokens >= 1 else { throw ValidationError("--batch-tokens must be at least 1 (got \(batchTokens))") }
            config.batchTokens = batchTokens
        }
        if let duration { config.measureSeconds = duration }
        if let warmup {
            guard warmup >= 0, warmup.isFinite else { throw ValidationError("--warmup must be 0 or more seconds") }
            config.warmupSeconds = warmup
        }
        config.onlineTokenRate = rate
        if let offlineQueries {
            guard offlineQueries > 0 else { throw ValidationError("--offline-queries must be a positive number") }
            config.offlineQueries = offlineQueries
        }
        if let artifactQueries {
            guard artifactQueries > 0 else { throw ValidationError("--artifact-queries must be a positive number") }
            guard offlineQueries == nil else { throw ValidationError("give --offline-queries (a live-like closed loop) or --artifact-queries (the artifact's admission), not both") }
            config.artifactQueries = artifactQueries
        }
        if let promptWindow {
            guard promptWindow >= 0, promptWindow.isFinite else { throw ValidationError("--prompt-window must be 0 (uncapped) or more seconds") }
            config.promptWindowSeconds = promptWindow > 0 ? promptWindow : nil
        }
        if let maxFlows {
            guard maxFlows >= 1 else { throw ValidationError("--max-flows must be at least 1") }
            guard flows == nil, routing == .iwrr else { throw ValidationError("--max-flows simulates IWRR over flows of its own: drop --flows and --routing") }
            var robust = FlowRobustSimulation(problem: problem, connectivity: connectivity, workload: workload,
                                              profiles: try input.profiles(problem))
            robust.flows = maxFlows
            robust.config = config
            let serving: FlowRobustServing
            let simulated = robust.flowsToSimulate(placement)
            do { serving = try robust.serving(placement, over: simulated) } catch let error as PlacementError { throw ValidationError(error.description) }
            if json {
                // Each run's flow too, in `--flows` form, so one run can be repeated (another seed, or Helix's simulator).
                let flowArcs = simulated.map { flow in
                    ["arc_flows": flow.arcFlows.map { ["from": $0.from, "to": $0.to, "tokens_per_s": $0.tokensPerSecond] }]
                }
                try printJSON(["decode_tokens_per_s": serving.decodeTokensPerSecond, "prompt_p50_s": serving.promptP50, "decode_p50_s": serving.decodeP50,
                               "mean_decode_tokens_per_s": serving.mean, "worst_decode_tokens_per_s": serving.worst, "flows": flowArcs])
            } else {
                for (f, tokens) in serving.decodeTokensPerSecond.enumerated() {
                    print(String(format: "flow %d%@: %.1f decode tokens/s, prompt p50 %.3f s, decode p50 %.3f s", f, f == 0 ? " (Dinic's)" : "", tokens,
                                 serving.promptP50[f], serving.decodeP50[f]))
                }
                print(String(format: "mean %.1f, worst %.1f decode tokens/s over %d flows; prompt p50 %.3f s, decode p50 %.3f s (means)", serving.mean, serving.worst,
                             serving.decodeTokensPerSecond.count, serving.meanPromptP50, serving.meanDecodeP50))
            }
            return
        }
        let report: SimulationReport
        do {
            if let flows { config.arcFlows = try GivenFlows.load(path: flows) }
            report = try Simulator.run(problem: problem, placement: placement, connectivity: connectivity, workload: workload, config: config,
                                       dataDirectory: input.data ?? SharedData.directory)
        } catch let error as PlacementError { throw ValidationError(error.description) }
        if let svg {
            let result = Planner.score(problem, placement, connectivity)
            let busy = Dictionary(uniqueKeysWithValues: report.nodes.map { ($0.node, $0.utilisation) })
            try PlacementDrawing.svg(problem: problem, result: result, utilisation: busy).write(toFile: svg, atomically: true, encoding: .utf8)
        }
        if json {
            try printJSON(report.jsonObject)
        } else {
            print(report.summary)
            print(report.nodeTable)
        }
    }
}

struct ScoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "score", abstract: "Exact max-flow of a fixed placement, with per-arc flows.")

    @OptionGroup var input: PlacementInput

    @Option(help: "Layout file (Helix .ini with its offset, or our JSON).")
    var layout: String

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: "Predict serving with the router following the \"arc_flows\" of this JSON file (as `simulate --flows`) instead of the max flow computed here.")
    var flows: String?

    func run() async throws {
        if let server = input.server { return try await RemotePlacement.score(self, server: server) }
        let (problem, connectivity) = try input.problem()
        let placement: Placement
        do {
            placement = try LayoutFile.load(path: layout, nodeCount: problem.nodes.count)
            try placement.validate(for: problem)
        } catch let error as PlacementError { throw ValidationError(error.description) }
        let runtime = FlowScorer.runtimeFlow(problem, placement, connectivity)
        var result = Planner.score(problem, placement, connectivity)
        result.routingFlow = runtime  // a given layout routes over Dinic's; placementJSON writes it as "routing_arc_flows"
        let model = try input.servingModel(problem, connectivity)
        let serving: ServingPrediction
        do {
            serving = try flows.map { model.predict(placement, flows: try GivenFlows.load(path: $0).replacing(runtime, nodeCount: problem.nodes.count)) } ?? model.predict(placement)
        } catch let error as PlacementError { throw ValidationError(error.description) }
        if json {
            var object = placementJSON(problem, result, extra: ["runtime_flow_tokens_per_s": runtime.value])
            object["serving"] = servingJSON(serving)
            object.removeValue(forKey: "method")
            try printJSON(object)
        } else {
            print(String(format: "%@: max flow %.2f tokens/s (%@), runtime graph %.2f, upper bound %.2f", problem.clusterName, result.objective,
                         connectivity.rawValue, runtime.value, problem.upperBound))
            print(servingLine(serving))
        }
    }
}
