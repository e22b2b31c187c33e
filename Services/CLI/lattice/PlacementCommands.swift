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
        "upper_bound_tokens_per_s": result.upperBound,
        "gap": result.gap.isFinite ? result.gap : -1,
        "proven_optimal": result.provenOptimal,
        "seconds": result.seconds,
        "placement": result.placement.ranges.enumerated().compactMap { i, r in r.map { ["node": i, "start": $0.start, "end": $0.end] } },
        "node_flows": result.flows.nodeFlows,
        "arc_flows": result.flows.arcFlows.map { ["from": $0.from, "to": $0.to, "tokens_per_s": $0.tokensPerSecond] },
        "statistics": result.statistics,
    ]
    for (k, v) in extra { object[k] = v }
    return object
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

    @Option(help: "Wall-clock budget in seconds.")
    var budget: Double = 60

    @Option(help: "auto | milp | heuristic | petals | swarm | sp")
    var method: String = "auto"

    @Option(help: "Random seed (the search is deterministic for a seed and --max-evaluations).")
    var seed: UInt64 = 1

    @Option(help: "Search threads.")
    var threads: Int = 2

    @Option(help: "Cap on search evaluations per thread (for machine-independent results).")
    var maxEvaluations: Int?

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: "Write an SVG drawing of the placement to this file.")
    var svg: String?

    func run() async throws {
        guard let method = PlacementMethod(rawValue: method) else {
            throw ValidationError("--method must be one of: \(PlacementMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard budget > 0, budget.isFinite else { throw ValidationError("--budget must be a positive number of seconds") }
        let (problem, connectivity) = try input.problem()
        var options = SolveOptions(method: method, connectivity: connectivity, budgetSeconds: budget, seed: seed)
        options.threads = max(1, threads)
        options.maxEvaluations = maxEvaluations
        options.progress = { p in
            standardError(String(format: "[%6.1fs] %@ best %.2f bound %.2f gap %.1f%%", p.elapsedSeconds, p.phase, p.bestObjective, p.bound, p.gap * 100))
        }
        let result = Planner.solve(problem, options: options)
        if let svg {
            try PlacementDrawing.svg(problem: problem, result: result).write(toFile: svg, atomically: true, encoding: .utf8)
        }
        if json {
            try printJSON(placementJSON(problem, result))
        } else {
            print(String(format: "%@ on %@: %.2f tokens/s (bound %.2f, gap %.1f%%%@) in %.1f s", method.rawValue, problem.clusterName,
                         result.objective, result.upperBound, result.gap * 100, result.provenOptimal ? ", optimal" : "", result.seconds))
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

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() async throws {
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
        let workload: Workload
        do { workload = try Workload.load(directory: (input.data ?? SharedData.directory) + "/helix/workload") } catch let error as PlacementError {
            throw ValidationError(error.description)
        }
        var config = SimulationConfig(mode: mode, routing: routing, seed: seed)
        if let duration { config.measureSeconds = duration }
        config.onlineTokenRate = rate
        let report: SimulationReport
        do {
            report = try Simulator.run(problem: problem, placement: placement, connectivity: connectivity, workload: workload, config: config,
                                       dataDirectory: input.data ?? SharedData.directory)
        } catch let error as PlacementError { throw ValidationError(error.description) }
        if json {
            try printJSON(report.jsonObject)
        } else {
            print(report.summary)
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

    func run() async throws {
        let (problem, connectivity) = try input.problem()
        let placement: Placement
        do {
            placement = try LayoutFile.load(path: layout, nodeCount: problem.nodes.count)
            try placement.validate(for: problem)
        } catch let error as PlacementError { throw ValidationError(error.description) }
        let runtime = FlowScorer.runtimeFlow(problem, placement, connectivity)
        let result = Planner.score(problem, placement, connectivity)
        if json {
            var object = placementJSON(problem, result, extra: ["runtime_flow_tokens_per_s": runtime.value])
            object.removeValue(forKey: "method")
            try printJSON(object)
        } else {
            print(String(format: "%@: max flow %.2f tokens/s (%@), runtime graph %.2f, upper bound %.2f", problem.clusterName, result.objective,
                         connectivity.rawValue, runtime.value, problem.upperBound))
        }
    }
}
