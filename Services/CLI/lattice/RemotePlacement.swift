import ArgumentParser
import Client
import Foundation
import PlacementCore
import Wire

/// `lattice plan|simulate|score --server HOST:PORT`: the same request sent to a placement-service,
/// printed in the in-process output formats (progress lines on stderr from the stream).
enum RemotePlacement {
    /// Flags that only mean something in-process.
    static func refuseLocalOnly(_ flags: [(Bool, String)]) throws {
        if let (_, flag) = flags.first(where: { $0.0 }) { throw ValidationError("\(flag) is not available with --server (the service decides)") }
    }

    static func request(_ input: PlacementInput) throws -> (Wire.Cluster, Wire.ModelSpec, MilpVariant) {
        try refuseLocalOnly([(input.data != nil, "--data"), (input.referenceTables, "--reference-tables")])
        guard let connectivity = Connectivity(rawValue: input.connectivity) else { throw ValidationError("--connectivity must be 'partial' or 'strict'") }
        let url = URL(fileURLWithPath: input.cluster)
        let format: ClusterFileFormat = switch url.pathExtension { case "ini": .helixIni; case "json": .json; default: .detect }
        let cluster = Wire.Cluster(name: url.deletingPathExtension().lastPathComponent, fileText: try read(input.cluster), fileFormat: format)
        let model = input.model.hasSuffix(".json")
            ? Wire.ModelSpec(name: URL(fileURLWithPath: input.model).deletingLastPathComponent().lastPathComponent, configJSON: try read(input.model))
            : Wire.ModelSpec(name: input.model)
        return (cluster, model, connectivity == .strict ? .strict : .partial)
    }

    static func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path) (does it exist?)") }
        return String(decoding: data, as: UTF8.self)
    }

    static func layout(_ path: String) throws -> Layout { Layout(fileText: try read(path)) }

    static func method(_ text: String) throws -> Wire.PlacementMethod {
        guard let method = Wire.PlacementMethod(name: text) else {
            throw ValidationError("--method must be one of: \(Wire.PlacementMethod.names.map(\.name).joined(separator: ", "))")
        }
        return method
    }

    static func client(_ server: String) throws -> ServiceClient {
        do { return try ServiceClient(address: server, config: StackCredentials.forCommands(stateDirectory: ".lattice"), reconnect: .never) } catch { throw ValidationError("--server: \(error)") }
    }

    /// Runs `body` with a client, closing it however `body` ends; a service's status is printed as is.
    static func with<R>(_ server: String, _ body: (ServiceClient) async throws -> R) async throws -> R {
        let client = try client(server)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch let status as Status {
            await client.close()
            throw RemoteError(description: "\(server): \(status)")
        } catch {
            await client.close()
            throw error
        }
    }

    static func plan(_ command: PlanCommand, server: String) async throws {
        try refuseLocalOnly([(command.svg != nil, "--svg"), (command.select != "flow", "--select"), (command.maxEvaluations != nil, "--max-evaluations"),
                             (command.formulation != "automatic", "--formulation"), (command.noCover, "--no-cover"), (command.milpAlone, "--milp-alone"), (command.milpNodes != nil, "--milp-nodes"),
                             (command.latencyBound != nil, "--latency-bound"), (command.reference != nil, "--reference"),
                             (command.rankCandidates != nil, "--rank-candidates"), (command.rankFlows != nil, "--rank-flows"),
                             (command.rankSeconds != nil, "--rank-seconds"), (command.rankMaxPrompt != nil, "--rank-max-prompt"),
                             (command.rankMaxOutput != nil, "--rank-max-output")])
        let (cluster, model, variant) = try request(command.input)
        guard let objective = PlacementObjective(rawValue: command.objective) else { throw ValidationError("--objective must be 'flow' or 'serving'") }
        let request = PlanRequest(cluster: cluster, model: model, method: try method(command.method), budgetSeconds: command.budget,
                                  seed: command.seed, variant: variant, objective: objective == .flow ? .flow : .serving,
                                  maxEvaluations: UInt32(clamping: command.maxEvaluations ?? 0))
        let result: PlanResult = try await with(server) { client in
            var result: PlanResult?
            for try await event in client.stream(Methods.Placement.plan.name, request, as: PlanEvent.self, deadline: .seconds(command.budget + 60)) {
                switch event.event {
                case .progress(let p)?:
                    standardError(SolveProgress(elapsedSeconds: p.elapsedSeconds, phase: p.phase, bestObjective: p.bestObjective, bound: p.bound).line)
                case .result(let r)?: result = r
                case nil: break
                }
            }
            guard let result else { throw RemoteError(description: "\(server): placement/Plan ended without a result") }
            return result
        }
        let stats = result.stats ?? SolveStats()
        if command.json {
            try printJSON(json(cluster: cluster.name, model: model.name, connectivity: command.input.connectivity, placement: result.placement,
                               flows: result.flows, objective: result.objectiveTokensPerSecond, upperBound: result.upperBoundTokensPerSecond,
                               extra: ["method": stats.methodUsed, "gap": result.gap, "proven_optimal": stats.stopReason == "optimal",
                                       "seconds": stats.solveSeconds, "statistics": statistics(stats), "objective": (objective == .flow ? .flow : remoteObjective(command.input)).rawValue,
                                       "found_by": "placement-service (\(stats.methodUsed))", "serving": localPrediction(command.input, result.placement)]))
        } else {
            print(String(format: "%@ on %@: %.2f tokens/s (bound %.2f, gap %.1f%%%@) in %.1f s (%@)", stats.methodUsed, cluster.name, result.objectiveTokensPerSecond,
                         result.upperBoundTokensPerSecond, max(0, result.gap) * 100, stats.stopReason == "optimal" ? ", optimal" : "", stats.solveSeconds, server))
            printRanges(result.placement, flows: result.flows)
        }
    }

    /// The objective the service plans for: serving where every node type has a latency profile
    /// (the rule `ServingModel.forPlanning` applies there, judged here from the same cluster file).
    static func remoteObjective(_ input: PlacementInput) -> PlacementObjective {
        guard let (problem, connectivity) = try? input.problem() else { return .flow }
        return ServingModel.forPlanning(problem: problem, connectivity: connectivity, dataDirectory: input.data ?? SharedData.directory) == nil ? .flow : .serving
    }

    /// The serving model's prediction for a plan the service returned, when the profiles are at hand here.
    static func localPrediction(_ input: PlacementInput, _ placement: [NodeRange]) -> Any {
        guard let (problem, connectivity) = try? input.problem(), let model = try? input.servingModel(problem, connectivity) else { return NSNull() }
        var ranges = [PlacementCore.LayerRange?](repeating: nil, count: problem.nodes.count)
        for range in placement where problem.nodes.indices.contains(Int(range.node)) && range.end > range.start {
            ranges[Int(range.node)] = PlacementCore.LayerRange(start: Int(range.start), end: Int(range.end))
        }
        return servingJSON(model.predict(PlacementCore.Placement(ranges: ranges)))
    }

    static func score(_ command: ScoreCommand, server: String) async throws {
        let (cluster, model, variant) = try request(command.input)
        let request = ScoreRequest(cluster: cluster, model: model, layout: try layout(command.layout), variant: variant)
        let answer = try await with(server) { try await $0.call(Methods.Placement.score.name, request, as: ScoreResponse.self, deadline: .seconds(60)) }
        if command.json {
            let gap = answer.objectiveTokensPerSecond > 0 ? max(0, answer.upperBoundTokensPerSecond - answer.objectiveTokensPerSecond) / answer.objectiveTokensPerSecond : -1
            try printJSON(json(cluster: cluster.name, model: model.name, connectivity: command.input.connectivity, placement: answer.placement,
                               flows: answer.flows, objective: answer.objectiveTokensPerSecond, upperBound: answer.upperBoundTokensPerSecond,
                               extra: ["gap": gap, "proven_optimal": false, "seconds": 0, "statistics": [String: Double]()]))
        } else {
            print(String(format: "%@: max flow %.2f tokens/s (%@), upper bound %.2f (%@)", cluster.name, answer.objectiveTokensPerSecond,
                         command.input.connectivity, answer.upperBoundTokensPerSecond, server))
        }
    }

    static func simulate(_ command: SimulateCommand, server: String) async throws {
        try refuseLocalOnly([(command.maxPrompt != 0, "--max-prompt"), (command.maxOutput != 0, "--max-output"),
                             (command.offlineQueries != nil, "--offline-queries"), (command.artifactQueries != nil, "--artifact-queries"), (command.flows != nil, "--flows"),
                             (command.promptWindow != nil, "--prompt-window")])
        let (cluster, model, variant) = try request(command.input)
        var request = SimulateRequest(cluster: cluster, model: model, planBudgetSeconds: command.budget, seed: command.seed, variant: variant)
        switch (command.layout, command.method) {
        case (let path?, nil): request.layout = try layout(path)
        case (nil, let name?): request.method = try method(name)
        default: throw ValidationError("give exactly one of --layout FILE or --method M")
        }
        guard let mode = PlacementCore.SimulationMode(rawValue: command.mode) else { throw ValidationError("--mode must be offline or online") }
        request.mode = mode == .online ? .online : .offline
        switch command.routing {
        case "iwrr": request.routing = .iwrr
        case "swarm": request.routing = .swarm
        case "random": request.routing = .random
        case "shortest-queue": request.routing = .shortestQueue
        default: throw ValidationError("--routing must be one of: \(PlacementCore.RoutingPolicy.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        request.durationSeconds = command.duration ?? 0
        request.arrivalTokensPerSecond = command.rate ?? 0
        let answer = try await with(server) { try await $0.call(Methods.Placement.simulate.name, request, as: SimulateResponse.self, deadline: .seconds(3600)) }
        func latency(_ l: LatencySummary?) -> [String: Double] {
            let l = l ?? LatencySummary()
            return ["p50": l.p50Seconds, "p90": l.p90Seconds, "p99": l.p99Seconds, "mean": l.meanSeconds]
        }
        if command.json {
            try printJSON(["mode": command.mode, "routing": command.routing, "decode_tokens_per_s": answer.decodeTokensPerSecond,
                           "finished_requests": answer.requestsFinished, "prompt_latency_s": latency(answer.promptLatency),
                           "decode_latency_s": latency(answer.decodeLatency), "simulated_seconds": answer.simulatedSeconds, "wall_seconds": answer.wallSeconds])
        } else {
            func p(_ d: [String: Double]) -> String { ["p50", "p90", "p99"].map { String(format: "%@ %.3f s", $0, d[$0] ?? 0) }.joined(separator: ", ") }
            print(String(format: "%@ (%@): %.1f decode tokens/s, %d requests finished\n  prompt latency %@\n  decode latency %@\n  simulated %.0f s in %.2f s wall (%@)",
                         command.mode, command.routing, answer.decodeTokensPerSecond, Int(answer.requestsFinished), p(latency(answer.promptLatency)),
                         p(latency(answer.decodeLatency)), answer.simulatedSeconds, answer.wallSeconds, server))
        }
    }

    /// The in-process JSON shape (see `placementJSON`): arcs and node flows by node index.
    static func json(cluster: String, model: String, connectivity: String, placement: [NodeRange], flows: [Wire.ArcFlow],
                     objective: Double, upperBound: Double, extra: [String: Any]) -> [String: Any] {
        var index: [String: Int] = [:]
        for range in placement { index[range.nodeName] = Int(range.node) }
        func endpoint(_ name: String) -> String { index[name].map(String.init) ?? name }
        let count = (placement.map { Int($0.node) }.max() ?? -1) + 1
        var nodeFlows = [Double](repeating: 0, count: count)
        for flow in flows { if let i = index[flow.toNode] { nodeFlows[i] += flow.tokensPerSecond } }
        var object: [String: Any] = [
            "cluster": cluster, "model": model, "connectivity": connectivity,
            "objective_tokens_per_s": objective, "upper_bound_tokens_per_s": jsonNumber(upperBound),
            "placement": placement.map { ["node": Int($0.node), "start": Int($0.start), "end": Int($0.end)] },
            "node_flows": nodeFlows,
            "arc_flows": flows.map { ["from": endpoint($0.fromNode), "to": endpoint($0.toNode), "tokens_per_s": $0.tokensPerSecond] },
        ]
        // The service sends the flow the scheduler routes over (not the MILP graph's): both names carry it.
        object["routing_arc_flows"] = object["arc_flows"]
        for (k, v) in extra { object[k] = v }
        return object
    }

    static func statistics(_ s: SolveStats) -> [String: Double] {
        ["solve_seconds": s.solveSeconds, "milp_nodes": Double(s.milpNodes), "lp_iterations": Double(s.lpIterations),
         "evaluations": Double(s.heuristicMoves), "milp_columns": Double(s.variables), "milp_rows": Double(s.constraints),
         "milp_pruned_arcs": Double(s.linksPruned)]
    }

    static func printRanges(_ placement: [NodeRange], flows: [Wire.ArcFlow]) {
        for range in placement {
            let flow = flows.filter { $0.toNode == range.nodeName }.reduce(0) { $0 + $1.tokensPerSecond }
            print(String(format: "  node %2d %-8@ layers [%2d, %2d)  flow %.1f", Int(range.node), range.nodeName, Int(range.start), Int(range.end), flow))
        }
    }
}

/// A failure reported by the service (printed as is, without the usage text).
struct RemoteError: Error, CustomStringConvertible {
    var description: String
}
