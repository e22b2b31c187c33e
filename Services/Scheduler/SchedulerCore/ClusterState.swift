import Foundation
import Routing
import Wire

/// A request waiting for a route: resumed with the route, or with an error when cancelled.
typealias AdmissionWaiter = CheckedContinuation<[Hop], Error>

/// Everything the scheduler decides with: the registry, the plan, KV reservations, IWRR
/// loads, the admission queue and the live routes. Synchronous and lock-protected; callers
/// resume admitted waiters outside the lock (`Admitted.resume`).
public final class ClusterState: Sendable {
    public let model: ModelInfo
    public let settings: SchedulerSettings

    struct State {
        var workers: [String: WorkerRecord] = [:]
        var order: [String] = []                  // registration order
        var plan = Plan()
        var epoch: UInt64 = 0
        var ledger = KVLedger<String, String>()   // request key → worker → entries
        var router: Router
        var queue: AdmissionQueue<AdmissionWaiter>
        var routes: [String: LiveRoute] = [:]     // request key → its route
        var links: LinkTable
        var prompts: PromptWindow<String, String>?            // prompts on their way, per link
        var linkBandwidth: [PromptWindow<String, String>.Link: Double] = [:]   // of the plan's workers
    }
    let state: Protected<State>

    /// config.json text of the served model (cpu backend), sent to placement.
    public let configJSON: String

    public init(model: ModelInfo, configJSON: String = "", settings: SchedulerSettings = .init()) {
        self.model = model
        self.configJSON = configJSON
        self.settings = settings
        let empty = FlowGraph(nodes: [], arcs: [], layerCount: Int(model.numLayers), partial: false)
        state = Protected(State(router: Router(graph: empty, policy: settings.routing, kv: settings.policy),
                                queue: AdmissionQueue(limit: settings.queueLimit), links: LinkTable(declared: settings.declaredLinks),
                                prompts: settings.promptWindowSeconds > 0 ? PromptWindow(seconds: settings.promptWindowSeconds) : nil))
    }

    var layerCount: Int { Int(model.numLayers) }
    /// Bytes a prompt token sends between workers: its float16 hidden state and its id.
    var promptBytesPerToken: Double { Double(model.hiddenSize) * 2 + 4 }

    // MARK: registry

    /// Adds a worker, or a new incarnation of one. True when the set of workers changed (a new
    /// plan is due). A worker registers once per process (again only when told it is unknown),
    /// so a live id registering again is a restarted process: it starts loading afresh, and the
    /// requests routed through the old process are returned to be re-routed at once.
    public func register(_ request: RegisterWorkerRequest, now: ContinuousClock.Instant = .now) throws -> (RegisterWorkerResponse, changed: Bool, rerouted: [String]) {
        try validate(request)
        return state.withLock { s in
            let known = s.workers[request.workerID]
            let record = WorkerRecord(registration: request, now: now)   // loading, nothing loaded yet
            let changed = known == nil || known?.health == .dead || known?.address != request.address || known?.layerCapacity != record.layerCapacity
            let rerouted = known.map { $0.health != .dead } == true
                ? s.routes.filter { $0.value.hops.contains { $0.workerID == request.workerID } }.map(\.key).sorted() : []
            s.workers[request.workerID] = record
            if !s.order.contains(request.workerID) { s.order.append(request.workerID) }
            let assignment = s.plan.assignments[request.workerID]
            return (RegisterWorkerResponse(assignment: assignment.map(Self.range) ?? LayerRange(), model: model, planEpoch: s.plan.epoch,
                                           heartbeatIntervalSeconds: settings.heartbeatInterval), changed, rerouted)
        }
    }

    /// Records a heartbeat; says whether the worker must (re)load, and admits queued requests
    /// when the worker has just started serving its part of the plan.
    public func heartbeat(_ request: HeartbeatRequest, now: ContinuousClock.Instant = .now) -> (HeartbeatResponse, Admitted) {
        state.withLock { s in
            guard var record = s.workers[request.workerID], record.health != .dead else { return (HeartbeatResponse(known: false), Admitted()) }
            record.lastHeartbeat = now
            record.probing = false
            record.stats = request.stats
            record.loadedEpoch = max(record.loadedEpoch, request.planEpoch)   // a plan may have kept its layers (`apply`)
            if record.health == .draining {
                s.workers[request.workerID] = record
                return (HeartbeatResponse(known: true, planEpoch: s.plan.epoch), Admitted())
            }
            let assignment = s.plan.assignments[request.workerID]
            let wasServing = record.health == .serving
            if let assignment, record.loadedLayers == assignment, record.loadedEpoch == s.plan.epoch {
                record.health = .serving
            } else {
                record.health = .loading
            }
            s.workers[request.workerID] = record
            let admitted = record.health == .serving && !wasServing ? drain(&s) : Admitted()
            let response = HeartbeatResponse(known: true, reassigned: request.planEpoch != s.plan.epoch,
                                             assignment: assignment.map(Self.range) ?? LayerRange(), model: model, planEpoch: s.plan.epoch)
            return (response, admitted)
        }
    }

    /// Marks workers silent for too long SUSPECT (not routed to); returns those silent past
    /// `deadAfter` that are not being probed yet. Silence alone does not kill: a worker that is
    /// busy but alive (its heartbeats late on an overloaded machine) answers a probe, and only
    /// one that does not is dropped (`SchedulerEngine.monitor`).
    public func sweep(now: ContinuousClock.Instant = .now) -> [String] {
        state.withLock { s in
            var silentTooLong: [String] = []
            for id in s.order {
                guard var record = s.workers[id], record.health != .dead else { continue }
                let silent = Self.seconds(now - record.lastHeartbeat)
                if silent > settings.deadAfter, !record.probing {
                    record.probing = true
                    silentTooLong.append(id)
                }
                if silent > settings.suspectAfter, record.health != .draining {
                    record.health = .suspect
                }
                s.workers[id] = record
            }
            return silentTooLong
        }
    }

    /// A silent worker's probe failed: true when it is still unheard from (drop it), false when
    /// a heartbeat came meanwhile.
    public func probeFailed(_ id: String) -> Bool {
        state.withLock { s in
            guard var record = s.workers[id], record.health != .dead, record.probing else { return false }
            record.probing = false
            s.workers[id] = record
            return true
        }
    }

    /// A silent worker answered its probe: it is alive, only late. It counts as heard from now,
    /// and its next heartbeat says whether it serves.
    public func answeredProbe(_ id: String, now: ContinuousClock.Instant = .now) {
        state.withLock { s in
            guard var record = s.workers[id], record.health != .dead else { return }
            record.lastHeartbeat = now
            record.probing = false
            s.workers[id] = record
        }
    }

    /// Drops a worker (it died or stopped answering); returns the requests whose routes ran through it.
    public func markDead(_ id: String) -> [String] {
        state.withLock { s in
            guard var record = s.workers[id] else { return [] }
            record.health = .dead
            s.workers[id] = record
            return s.routes.filter { $0.value.hops.contains { $0.workerID == id } }.map(\.key).sorted()
        }
    }

    /// A worker leaving on purpose: `draining` (new routes avoid it, plans leave it out, routes
    /// through it go on), then gone (forgotten). Returns whether it was known, whether the
    /// current plan gives it layers, and the requests whose routes run through it.
    public func leave(_ id: String, draining: Bool) -> (known: Bool, inPlan: Bool, routes: [String]) {
        state.withLock { s in
            // A dead worker cannot drain, but it may still say it is gone.
            guard var record = s.workers[id], !draining || record.health != .dead else { return (false, false, []) }
            let routes = s.routes.filter { $0.value.hops.contains { $0.workerID == id } }.map(\.key).sorted()
            if draining {
                record.health = .draining
                s.workers[id] = record
            } else {
                s.workers[id] = nil
                s.order.removeAll { $0 == id }
            }
            return (true, s.plan.assignments[id] != nil, routes)
        }
    }

    /// For each plannable worker, the others it has not measured its link to (at their current
    /// addresses), leaving out pairs a cluster file declares.
    public func linksToMeasure() -> [(from: LinkTable.End, to: [LinkTable.End])] {
        state.withLock { s in
            let live = s.order.compactMap { s.workers[$0] }.filter(\.isPlannable).map { LinkTable.End(id: $0.id, address: $0.address) }
            let declared = Set(s.links.declared.flatMap { [[$0.fromNode, $0.toNode], [$0.toNode, $0.fromNode]] })
            return live.compactMap { a in
                let peers = live.filter { b in b != a && !declared.contains([a.id, b.id]) && !s.links.isMeasured(from: a, to: b) }
                return peers.isEmpty ? nil : (a, peers)
            }
        }
    }

    /// What `from` measured (worker/MeasureLinks); peers are known by their current addresses.
    public func recordLinks(from: LinkTable.End, _ results: [LinkMeasurement]) {
        state.withLock { s in
            for result in results where result.error.isEmpty && result.bandwidthBytesPerSecond > 0 {
                guard let peer = s.workers.values.first(where: { $0.address == result.address }) else { continue }
                s.links.record(from: from, to: LinkTable.End(id: peer.id, address: peer.address),
                               .init(bandwidthBytesPerSecond: result.bandwidthBytesPerSecond, latencySeconds: result.latencySeconds))
            }
        }
    }

    /// A worker's address (nil: not registered).
    public func address(of id: String) -> String? { state.withLock { $0.workers[id]?.address } }

    /// A worker's health as the scheduler sees it (nil: not registered).
    public func health(of id: String) -> WorkerHealth? { state.withLock { $0.workers[id]?.health } }

    /// Live workers in registration order, for planning.
    public func planCandidates() -> [PlanCandidate] {
        state.withLock { s in
            s.order.compactMap { s.workers[$0] }.filter(\.isPlannable).map {
                PlanCandidate(id: $0.id, layerCapacity: min($0.layerCapacity, layerCount), weight: Double(max($0.layerCapacity, 1)))
            }
        }
    }

    /// The live workers as a placement cluster: one node per worker with the profile it measured
    /// (cpu; emulated workers are known by their GPU type's profile), and a full mesh of links:
    /// declared in a cluster file, else measured between the workers, else 1 GB/s (`LinkTable`).
    /// Nodes go in natural order of their ids ("node-2" before "node-10"), not registration order,
    /// so that the same workers always get the same plan — the one `lattice plan` gives the
    /// cluster file they came from.
    public func placementRequest(budgetSeconds: Double) -> PlanRequest {
        state.withLock { s in
            let live = s.order.compactMap { s.workers[$0] }.filter(\.isPlannable)
                .sorted { $0.id.compare($1.id, options: .numeric) == .orderedAscending }
            let nodes = live.map { ClusterNode(name: $0.id, gpuType: Self.placementGPUType($0.gpuType), gpuCount: 1, measured: $0.profile) }
            let links = s.links.clusterLinks(live.map { LinkTable.End(id: $0.id, address: $0.address) })
            let spec = model.modelDir.isEmpty ? ModelSpec(name: model.name) : ModelSpec(name: model.name, configJSON: configJSON)
            return PlanRequest(cluster: Cluster(name: "live-workers", nodes: nodes, links: links), model: spec,
                               method: settings.planMethod, budgetSeconds: budgetSeconds, seed: 1, variant: .strict,
                               maxEvaluations: settings.planMaxEvaluations)
        }
    }

    /// Placement's profile key for a worker's GPU name ("a100" → "A100-40G", "t4x2" → "T4x2").
    public static func placementGPUType(_ gpu: String) -> String {
        let known = ["A100-40G", "L4", "L4x2", "T4", "T4x2", "T4x4", "V100", "CPU"]
        let key = gpu.uppercased() == "A100" ? "A100-40G" : gpu
        return known.first { $0.lowercased() == key.lowercased() } ?? gpu
    }

    public func nextEpoch() -> UInt64 { state.withLock { s in s.epoch += 1; return s.epoch } }

    /// Installs a plan; returns the requests whose routes it breaks (a hop's layers moved).
    /// Workers whose layers do not move keep serving: only the others reload.
    public func apply(_ plan: Plan) -> [String] {
        state.withLock { s in
            let previous = s.plan
            s.plan = plan
            for id in s.order {
                guard var record = s.workers[id], record.isPlannable else { continue }
                let assignment = plan.assignments[id]
                if record.health == .serving, assignment != nil, previous.assignments[id] == assignment, record.loadedLayers == assignment {
                    record.loadedEpoch = plan.epoch   // what it has loaded is this plan's part too
                }
                record.health = assignment != nil && record.loadedLayers == assignment && record.loadedEpoch == plan.epoch ? .serving : .loading
                s.workers[id] = record
            }
            s.router = Router(graph: Self.graph(plan, s, layerCount: layerCount, policy: settings.routing), policy: settings.routing, kv: settings.policy,
                              seed: plan.epoch)
            let ends = plan.assignments.keys.sorted().compactMap { id in s.workers[id].map { LinkTable.End(id: id, address: $0.address) } }
            // A link is named once, by its two ends, and prompts cross it either way (placement,
            // the simulator and the emulated workers all take it both ways).
            s.linkBandwidth = Dictionary(s.links.clusterLinks(ends).flatMap { link in
                [(PromptWindow<String, String>.Link(from: link.fromNode, to: link.toNode), link.bandwidthBytesPerSecond),
                 (PromptWindow<String, String>.Link(from: link.toNode, to: link.fromNode), link.bandwidthBytesPerSecond)]
            }, uniquingKeysWith: min)
            // A draining worker keeps its layers until it leaves: routes through it break only
            // when another of their hops moves.
            let draining = Set(s.workers.values.filter { $0.health == .draining }.map(\.id))
            return s.routes.filter { _, route in
                !route.hops.allSatisfy { plan.assignments[$0.workerID] == $0.layers || draining.contains($0.workerID) }
            }.map(\.key).sorted()
        }
    }

    public var plan: Plan { state.withLock { $0.plan } }

    // MARK: admission

    /// A route for a new request now, or why not (the caller then queues it).
    public func tryAdmit(_ key: String, prompt: Int, maxTokens: Int) -> Result<[Hop], RouteRefusal> {
        state.withLock { s in
            guard s.queue.count == 0 else { return .failure(.noCandidate(after: "the queue", layer: 0, why: "earlier requests are waiting")) }
            return route(&s, key: key, prompt: prompt, maxTokens: maxTokens)
        }
    }

    /// Why a request can never be routed under the current plan (no route even with every live
    /// worker empty), or nil when it could be. Nil too while there is no plan, or while the plan
    /// still counts workers that died (a new plan is on its way).
    public func neverFits(prompt: Int, maxTokens: Int) -> String? {
        state.withLock { s in neverFits(s, prompt: prompt, maxTokens: maxTokens) }
    }

    public var hasPlan: Bool { state.withLock { !$0.plan.assignments.isEmpty } }

    /// Why there is no plan yet, for requests waiting on one.
    public var noPlanReason: String {
        state.withLock { s in
            let live = s.order.compactMap { s.workers[$0] }.filter(\.isPlannable)
            let layers = live.reduce(0) { $0 + min($1.layerCapacity, layerCount) }
            if live.isEmpty { return "no worker has registered" }
            return "\(live.count) live worker(s) hold \(layers) layer(s) together, the model has \(layerCount)" + (s.plan.method.hasPrefix("fallback") ? " (\(s.plan.method))" : "")
        }
    }

    /// Puts a request in the admission queue; it is resumed with its route when one has room, or
    /// with an AdmissionError (queue full, can never fit, no plan in time).
    func enqueue(_ key: String, prompt: Int, maxTokens: Int, rerouted: Bool = false, waiter: AdmissionWaiter) {
        let admitted = state.withLock { s -> Admitted in
            guard s.queue.append(key: key, prompt: prompt, maxTokens: maxTokens, waiter: waiter, evenIfFull: rerouted) else {
                return Admitted(failures: [(waiter, AdmissionError.queueFull(limit: s.queue.limit))])
            }
            return drain(&s)
        }
        admitted.resume()
    }

    /// True, and counted, when a new request would find the admission queue full.
    public func refusesNewRequest() -> Bool { state.withLock { $0.queue.refusesNewcomer() } }

    /// New requests refused because the admission queue was full, since start.
    public var queueRefusals: Int { state.withLock { $0.queue.refusals } }

    /// `enqueue` for tests outside the module.
    public func enqueueForTest(_ key: String, prompt: Int, maxTokens: Int, rerouted: Bool = false, waiter: CheckedContinuation<[Hop], Error>) {
        enqueue(key, prompt: prompt, maxTokens: maxTokens, rerouted: rerouted, waiter: waiter)
    }

    public func queuePosition(_ key: String) -> Int? { state.withLock { $0.queue.position(of: key) } }

    /// The position a request queued now takes (0 = next).
    public var queuePositionEstimate: Int { state.withLock { $0.queue.count } }

    /// Takes a request out of the queue (cancelled by default); true when it was waiting there.
    @discardableResult
    public func cancelQueued(_ key: String, because error: any Error = CancellationError()) -> Bool {
        let entry = state.withLock { $0.queue.remove(key) }
        entry?.waiter.resume(throwing: error)
        return entry != nil
    }

    /// Frees a request's KV reservation and route; admits queued requests that now fit.
    @discardableResult
    public func release(_ key: String) -> [Hop] {
        let (route, admitted) = state.withLock { s in
            s.ledger.release(key)
            s.prompts?.release(key)
            let route = s.routes.removeValue(forKey: key)?.hops ?? []
            return (route, drain(&s))
        }
        admitted.resume()
        return route
    }

    /// The request's first token came back: its prompt is off the links, which take more prompts.
    public func promptThrough(_ key: String) {
        state.withLock { s -> Admitted in
            guard s.prompts?.release(key) == true else { return Admitted() }
            return drain(&s)
        }.resume()
    }

    /// Prompt bytes admitted over each worker-to-worker link and not yet through.
    public var promptBytesByLink: [PromptWindow<String, String>.Link: Double] { state.withLock { $0.prompts?.bytesByLink ?? [:] } }

    /// Wakes the queue after a plan or health change.
    public func admitQueued() { state.withLock { drain(&$0) }.resume() }

    /// Charges a decode step to the IWRR loads along the request's route (routes of an older plan
    /// no longer match the flow graph's arcs and are not charged).
    public func chargeDecode(_ key: String) {
        state.withLock { s in
            guard let route = s.routes[key], route.epoch == s.plan.epoch else { return }
            s.router.chargeDecode(route.path)
        }
    }

    /// Swarm routing: the seconds each hop of the request's last step took, as the workers timed
    /// them (`ForwardResult.hop_seconds`: the link's wait, then queueing and computing there). Each
    /// arc learns its own hop's time, as the simulator's do; a step timed for another number of
    /// hops than the route has teaches nothing.
    public func observe(_ key: String, hopSeconds: [Double]) {
        guard settings.routing == .swarm else { return }
        state.withLock { s in
            guard let route = s.routes[key], route.epoch == s.plan.epoch, hopSeconds.count == route.path.steps.count else { return }
            for (hop, seconds) in hopSeconds.enumerated() { s.router.observe(route.path, hop: hop, seconds: seconds) }
        }
    }

    public var ledger: KVLedger<String, String> { state.withLock { $0.ledger } }

    // MARK: status

    public func status(activeRequests: Int, now: ContinuousClock.Instant = .now) -> ClusterStatusResponse {
        state.withLock { s in
            let workers = s.order.compactMap { s.workers[$0] }.map { w in
                WorkerStatus(workerID: w.id, address: w.address, backend: w.backend, gpuType: w.gpuType,
                             layers: s.plan.assignments[w.id].map(Self.range) ?? LayerRange(), health: w.health,
                             kvUsedEntries: UInt64(s.ledger.reserved(on: w.id)),
                             kvCapacityEntries: UInt64(s.plan.assignments[w.id].map { w.kvCapacity(holding: $0) } ?? 0),
                             activeRequests: UInt32(s.ledger.requests(on: w.id).count),
                             lastHeartbeatAgeSeconds: Self.seconds(now - w.lastHeartbeat))
            }
            let ends = s.order.compactMap { s.workers[$0] }.filter(\.isPlannable).map { LinkTable.End(id: $0.id, address: $0.address) }
            let links = s.links.links(ends).map { link, source in
                LinkStatus(fromNode: link.fromNode, toNode: link.toNode, bandwidthBytesPerSecond: link.bandwidthBytesPerSecond,
                           latencySeconds: link.latencySeconds, source: source.rawValue)
            }
            return ClusterStatusResponse(workers: workers, flows: s.plan.arcs.map { ArcFlow(fromNode: $0.from, toNode: $0.to, tokensPerSecond: $0.flow) },
                                         queueLength: UInt32(s.queue.count), activeRequests: UInt32(activeRequests),
                                         planEpoch: s.plan.epoch, objectiveTokensPerSecond: s.plan.objective, model: model, links: links)
        }
    }

    // MARK: inside the lock

    private func route(_ s: inout State, key: String, prompt: Int, maxTokens: Int) -> Result<[Hop], RouteRefusal> {
        Self.refresh(&s.router.graph, s)
        let ledger = s.ledger, graph = s.router.graph
        var queued: [String: Int] = [:]
        if settings.routing == .shortestQueue { for route in s.routes.values { for hop in route.hops { queued[hop.workerID, default: 0] += 1 } } }
        let prompts = s.prompts, bandwidth = s.linkBandwidth, bytes = Double(prompt) * promptBytesPerToken
        let result = s.router.route(prompt: prompt, maxTokens: maxTokens, reserved: { ledger.reserved(on: graph.nodes[$0].name) },
                                    queueLength: { queued[graph.nodes[$0].name] ?? 0 }, linkOpen: { vertex, node in
            // The scheduler's own links (the source's) carry token ids: not capped.
            guard let prompts, vertex != graph.source else { return true }
            let link = PromptWindow<String, String>.Link(from: graph.nodes[vertex].name, to: graph.nodes[node].name)
            return prompts.admits(link, bytes: bytes, bandwidth: bandwidth[link] ?? LinkTable.unmeasured.bandwidthBytesPerSecond)
        })
        guard case .success(let path) = result else { return result.map { _ in [] } }
        let hops = path.steps.map { step in
            let id = graph.nodes[step.node].name
            return Hop(workerID: id, address: s.workers[id]?.address ?? "", layers: step.layers)
        }
        s.ledger.reserve(key, Dictionary(path.steps.map { (graph.nodes[$0.node].name, $0.entries) }, uniquingKeysWith: +))
        s.routes[key] = LiveRoute(hops: hops, path: path, epoch: s.plan.epoch)
        s.prompts?.hold(key, along: hops.map(\.workerID), bytes: bytes)
        return .success(hops)
    }

    /// Admits from the head while routes have room. A head that does not fit waits (a large
    /// request is not overtaken forever by smaller ones) unless it can never fit the current
    /// plan: then it is failed and the requests behind it are tried.
    private func drain(_ s: inout State) -> Admitted {
        var out = Admitted()
        while let head = s.queue.head {
            if case .success(let route) = route(&s, key: head.key, prompt: head.prompt, maxTokens: head.maxTokens) {
                s.queue.removeHead()
                out.waiters.append((head.waiter, route))
            } else if let why = neverFits(s, prompt: head.prompt, maxTokens: head.maxTokens) {
                s.queue.removeHead()
                out.failures.append((head.waiter, AdmissionError.neverFits(why)))
            } else {
                break
            }
        }
        return out
    }

    private func neverFits(_ s: State, prompt: Int, maxTokens: Int) -> String? {
        guard !s.plan.assignments.isEmpty, s.plan.assignments.keys.allSatisfy({ s.workers[$0]?.isPlannable ?? false }) else { return nil }
        var scratch = s.router
        Self.refresh(&scratch.graph, s)
        for i in scratch.graph.nodes.indices { scratch.graph.nodes[i].available = true }
        if case .failure(let refusal) = scratch.route(prompt: prompt, maxTokens: maxTokens, reserved: { _ in 0 }) { return refusal.description }
        return nil
    }

    /// The plan as the routing core's graph: one node per assigned worker (by id, so that indices
    /// are stable while the plan lasts). Next hops start where the current one ends (workers run
    /// exactly the range they loaded). IWRR routes over the plan's flow; the flow-blind policies
    /// over every arc the layout has, as the simulator routes them (workers form a full mesh).
    private static func graph(_ plan: Plan, _ s: State, layerCount: Int, policy: Routing.RoutingPolicy) -> FlowGraph {
        let nodes = plan.assignments.keys.sorted(by: NodeOrder.precedes).compactMap { id in
            plan.assignments[id].map { RoutingNode(name: id, layers: $0, kvCapacity: 0, available: false) }
        }
        let arcs = policy == .iwrr ? plan.arcs : FlowArc.everyArc(nodes, layerCount: layerCount, partial: false)
        var graph = FlowGraph(nodes: nodes, arcs: arcs, layerCount: layerCount, partial: false)
        refresh(&graph, s)
        return graph
    }

    /// Brings the graph's nodes up to date with the workers: serving or not, and their KV room.
    private static func refresh(_ graph: inout FlowGraph, _ s: State) {
        for (i, node) in graph.nodes.enumerated() {
            let worker = s.workers[node.name]
            graph.nodes[i].available = worker?.health == .serving
            graph.nodes[i].kvCapacity = Double(worker?.kvCapacity(holding: node.layers) ?? 0)
        }
    }

    static func range(_ r: Range<Int>) -> LayerRange { LayerRange(start: UInt32(r.lowerBound), end: UInt32(r.upperBound)) }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// Waiters admitted (or failed) inside the lock, resumed after it is released.
public struct Admitted: Sendable {
    var waiters: [(AdmissionWaiter, [Hop])] = []
    var failures: [(AdmissionWaiter, AdmissionError)] = []
    init(waiters: [(AdmissionWaiter, [Hop])] = [], failures: [(AdmissionWaiter, AdmissionError)] = []) {
        self.waiters = waiters
        self.failures = failures
    }
    public var count: Int { waiters.count }
    public func resume() {
        for (waiter, route) in waiters { waiter.resume(returning: route) }
        for (waiter, error) in failures { waiter.resume(throwing: error) }
    }
}
