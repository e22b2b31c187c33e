import Client
import Foundation
import SchedulerCore
import Routing
import ServiceKit
import Wire
import WorkerCore

/// scheduler-service: the serving front door (worker registry, routing, token streaming).
@main
struct SchedulerService: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler-service", abstract: "Lattice scheduler service: worker registry, request routing, token streaming.")
    @OptionGroup var options: ServiceOptions
    @Option(help: "The served model: a model directory (cpu workers) or an emulated model name (llama2-70b, llama1-30b). [env: LATTICE_MODEL]")
    var model: String?
    @Option(help: "placement-service to ask for plans, HOST:PORT; without it (or when it fails) layers are split contiguously. [env: LATTICE_PLACEMENT]")
    var placement: String?
    @Option(help: "Seconds between worker heartbeats.") var heartbeatInterval = 0.5
    @Option(help: "Seconds without a heartbeat before a worker is dropped.") var deadAfter = 5.0
    @Option(help: "KV admission: online (hwm 0.9) or offline (hwm 0.85).") var kvPolicy = "online"
    @Option(help: "Routing over the plan: helix (IWRR over the plan's flow), swarm, random or shortest-queue.") var routing = "helix"
    @Option(help: "Method asked of placement-service: auto, milp, heuristic, petals, swarm or sp (separate pipelines).") var planMethod = "auto"
    @Option(help: "Seconds placement-service may search for each plan (the serving objective, as `lattice plan` by default).") var planBudget = 3.0
    @Option(help: "Cap on placement's search work per plan (annealing evaluations per chain, judged moves), as `lattice plan --max-evaluations`: the plan then depends on the workers, not on machine speed (0: the budget alone).")
    var planMaxEvaluations: UInt32 = 0
    @Option(help: "Requests the admission queue holds; past it Generate answers RESOURCE_EXHAUSTED. [env: LATTICE_QUEUE_LIMIT] (default: 1024)")
    var queueLimit: Int?
    @Option(help: "Seconds of each worker-to-worker link's bandwidth that admitted prompts not yet through may occupy; a request waits for a route whose links have room (0: uncapped).") var promptWindow = SchedulerSettings().promptWindowSeconds
    @Option(help: "Cluster file (.json, or a Helix .ini) whose links, between nodes named as the workers' ids, placement gets instead of the links measured between workers.")
    var cluster: String?
    @Option(help: "Seconds a request waits for a plan when there is none before it is failed.") var noPlanWait = 30.0
    @Option(help: "Seconds a route step (a prompt's whole prefill included) may go unanswered before the route counts as failed.") var stepTimeout = 60.0
    @Option(help: "Seconds a Generate whose client went away keeps running (and counting against its key's --max-queued-per-client) for a retry with its request id to attach.")
    var retryGrace = SchedulerSettings().retryGrace
    @Option(help: "Address workers send tokens back to, HOST:PORT (default: the listening address; a wildcard host becomes the host name).")
    var advertise: String?

    @Option(help: "Prompt + generated tokens one Generate may use. [env: LATTICE_MAX_TOKENS_PER_REQUEST] (default: 8192)")
    var maxTokensPerRequest: Int?

    @Option(help: "Generates one client (API key, over all its connections) may have waiting for their first token; past it Generate answers RESOURCE_EXHAUSTED. The cluster secret is not limited (0 = no limit). [env: LATTICE_MAX_QUEUED_PER_CLIENT] (default: 0; the per-key call limit bounds it)")
    var maxQueuedPerClient: Int?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let limits = try GenerateLimits.from(tokens: maxTokensPerRequest, queuedPerClient: maxQueuedPerClient, environment: environment)
        let source: ModelSource
        do { source = try ModelSource.load(model ?? environment["LATTICE_MODEL"]) } catch let error as WorkerError {
            throw ValidationError("--model: \(error.description)")
        }
        let placementAddress = placement ?? environment["LATTICE_PLACEMENT"].flatMap { $0.isEmpty ? nil : $0 }
        if let placementAddress {
            do { _ = try Endpoint(parsing: placementAddress, source: placement != nil ? "--placement" : "LATTICE_PLACEMENT") } catch let error as ConfigError {
                throw ValidationError(error.message)
            }
        }
        guard heartbeatInterval > 0, deadAfter > heartbeatInterval else {
            throw ValidationError("--heartbeat-interval must be positive and --dead-after larger than it")
        }
        guard ["online", "offline"].contains(kvPolicy) else { throw ValidationError("--kv-policy must be online or offline") }
        guard let routingPolicy = Routing.RoutingPolicy(name: routing) else {
            throw ValidationError("--routing '\(routing)' is not one of: \(Routing.RoutingPolicy.names.joined(separator: ", "))")
        }
        guard let method = PlacementMethod(name: planMethod) else {
            throw ValidationError("--plan-method '\(planMethod)' is not one of: \(PlacementMethod.names.map(\.name).joined(separator: ", "))")
        }
        guard planBudget > 0, planBudget <= 600 else { throw ValidationError("--plan-budget must be more than 0 and at most 600 seconds") }
        let queueLimit = try GenerateLimits.positive(queueLimit, "LATTICE_QUEUE_LIMIT", "queue-limit", environment: environment) ?? 1024
        guard promptWindow >= 0, promptWindow.isFinite else { throw ValidationError("--prompt-window must be 0 (uncapped) or more seconds") }
        guard noPlanWait > 0 else { throw ValidationError("--no-plan-wait must be positive (seconds)") }
        guard stepTimeout > 0 else { throw ValidationError("--step-timeout must be positive (seconds)") }
        guard retryGrace >= 0, retryGrace.isFinite else { throw ValidationError("--retry-grace must be 0 or more seconds") }
        var settings = SchedulerSettings()
        settings.queueLimit = queueLimit
        settings.promptWindowSeconds = promptWindow
        settings.noPlanWait = noPlanWait
        settings.stepTimeout = stepTimeout
        settings.retryGrace = retryGrace
        settings.routing = routingPolicy
        settings.planMethod = method
        settings.planBudget = planBudget
        settings.planMaxEvaluations = planMaxEvaluations
        settings.heartbeatInterval = heartbeatInterval
        settings.deadAfter = deadAfter
        settings.suspectAfter = min(deadAfter, 4 * heartbeatInterval)
        settings.policy = kvPolicy == "online" ? .online : .offline
        if let cluster { settings.declaredLinks = try DeclaredLinks.load(cluster) }
        try await ServiceMain.run(.scheduler, options: options) { host in
            let state = ClusterState(model: source.info, configJSON: source.configJSON, settings: settings)
            let engine = SchedulerEngine(
                state: state, link: TransportWorkerLink(connections: PeerClients()),
                placement: placementAddress.map { TransportPlacementLink(address: $0, timeout: settings.placementTimeout) },
                codec: source.codec, logger: host.logger)
            SchedulerHandlers.register(on: host, engine: engine, limits: limits)
            host.logger.info("model", metadata: ["name": "\(source.info.name)", "layers": "\(source.info.numLayers)",
                                                 "placement": "\(placementAddress ?? "none (contiguous split)")",
                                                 "routing": "\(routing)", "plan_method": "\(planMethod)"])
            host.whenListening { address in
                engine.setReplyAddress(advertise ?? Self.reachable(address))
                await engine.monitor()
            }
        }
    }

    /// A wildcard listening host (0.0.0.0, ::) as this machine's host name, which peers can dial.
    static func reachable(_ address: String) -> String {
        for wildcard in ["0.0.0.0:", "[::]:"] where address.hasPrefix(wildcard) {
            return "\(ProcessInfo.processInfo.hostName):\(address.dropFirst(wildcard.count))"
        }
        return address
    }
}
