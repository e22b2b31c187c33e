import Logging
import Wire

/// The scheduler's behaviour behind its RPCs: registry and heartbeats, planning (placement or
/// the contiguous fallback), liveness, and driving each Generate along its route.
public final class SchedulerEngine: Sendable {
    public let state: ClusterState
    let link: WorkerLink
    let placement: PlacementLink?
    let codec: TextCodec?
    let logger: Logger
    public let router = ResultRouter()
    /// Gives back a run's place in its client's share of waiting Generates; idempotent.
    public typealias WaitingSlot = @Sendable () -> Void

    struct ActiveRequest {
        let owner: String?   // the API key id that started it (nil: the cluster secret)
        var key: String?
        var cancelled = false
    }
    struct Requests {
        var active: [String: ActiveRequest] = [:]
        var counter: UInt64 = 0
    }
    let requests = Protected(Requests())
    let planning = Protected((running: false, dirty: false))
    let tally = Protected(PlanningTally())
    let replyAddress = Protected("")
    let log: GenerationLog
    /// Tells this process's attempt keys and request ids from a previous one's.
    let incarnation = String(UInt32.random(in: 0...UInt32.max), radix: 16)

    public init(state: ClusterState, link: WorkerLink, placement: PlacementLink?, codec: TextCodec?, logger: Logger) {
        self.state = state
        self.link = link
        self.placement = placement
        self.codec = codec
        self.logger = logger
        log = GenerationLog(retention: .init(seconds: state.settings.resultRetention))
    }

    /// The address last stages send ForwardResults to (this scheduler's listening address).
    public func setReplyAddress(_ address: String) { replyAddress.withLock { $0 = address } }

    // MARK: registry

    public func register(_ request: RegisterWorkerRequest) throws -> RegisterWorkerResponse {
        let (response, changed, rerouted) = try state.register(request)
        logger.info("worker registered", metadata: ["worker": "\(request.workerID)", "address": "\(request.address)",
                                                    "layer_capacity": "\(request.layerCapacity)", "new": "\(changed)", "rerouted": "\(rerouted.count)"])
        for key in rerouted { router.fail(key, "worker \(request.workerID) restarted (a new process under the same id)") }
        if changed { requestReplan(.joined) }
        return response
    }

    public func heartbeat(_ request: HeartbeatRequest) -> HeartbeatResponse {
        let (response, admitted) = state.heartbeat(request)
        admitted.resume()
        return response
    }

    /// A worker leaving on purpose (SIGTERM): while it drains, no new request is routed through
    /// it and a plan without it is made (its requests finish there, or are re-routed when the
    /// plan moves another hop of theirs); once it is gone, what still ran through it is re-routed.
    public func deregister(_ request: DeregisterWorkerRequest) -> DeregisterWorkerResponse {
        let (known, inPlan, routes) = state.leave(request.workerID, draining: request.draining)
        logger.info(request.draining ? "worker draining" : "worker deregistered",
                    metadata: ["worker": "\(request.workerID)", "known": "\(known)", "requests": "\(routes.count)"])
        guard known else { return DeregisterWorkerResponse(known: false) }
        if !request.draining { for key in routes { router.fail(key, "worker \(request.workerID) left before the request finished") } }
        if inPlan { requestReplan(.left) }
        return DeregisterWorkerResponse(known: true, activeRequests: UInt32(routes.count))
    }

    /// Marks silent workers; call every fraction of the heartbeat interval until cancelled.
    public func monitor() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(state.settings.heartbeatInterval / 2))
            for id in state.sweep() { Task { await probeSilent(id) } }
        }
    }

    /// A worker silent past `deadAfter` is dropped only if it does not answer a probe either:
    /// on an overloaded machine heartbeats come late from workers that are busy, not dead. A
    /// process that is gone refuses the connection at once; a hung one times out.
    private func probeSilent(_ id: String) async {
        guard let address = state.address(of: id) else { return }
        let within = Duration.seconds(state.settings.deadAfter)
        if await link.isAlive(Hop(workerID: id, address: address, layers: 0..<0), within: within) {
            state.answeredProbe(id)
            logger.info("silent worker answered its probe; kept", metadata: ["worker": "\(id)"])
        } else if state.probeFailed(id) {
            drop(id, reason: "no heartbeat for \(state.settings.deadAfter)s and no answer to a probe")
        }
    }

    /// Drops a dead worker: its requests are re-routed and a new plan is made without it.
    public func drop(_ id: String, reason: String) {
        let affected = state.markDead(id)
        logger.warning("worker dropped", metadata: ["worker": "\(id)", "reason": "\(reason)", "requests": "\(affected.count)"])
        for key in affected { router.fail(key, "worker \(id) dropped: \(reason)") }
        requestReplan(.dropped)
    }

    // MARK: planning

    /// Schedules a new plan; requests arriving close together share one.
    public func requestReplan(_ cause: ReplanCause) {
        tally.withLock { $0.ask(cause, at: .now) }
        let start = planning.withLock { p -> Bool in
            p.dirty = true
            if p.running { return false }
            p.running = true
            return true
        }
        guard start else { return }
        Task {
            while planning.withLock({ p -> Bool in
                if !p.dirty { p.running = false; return false }
                p.dirty = false
                return true
            }) {
                try? await Task.sleep(for: .seconds(state.settings.replanDebounce))
                await replanOnce()
            }
        }
    }

    /// Plans over the live workers now: placement-service when configured and answering, else
    /// the contiguous split. Routes the new plan breaks are failed over.
    public func replanOnce() async {
        let began = ContinuousClock.now
        let candidates = state.planCandidates()
        let epoch = state.nextEpoch()
        // Paired with "new plan": a reader (scripts/bench-serving) can tell a plan is still being made.
        logger.info("planning", metadata: ["epoch": "\(epoch)", "workers": "\(candidates.count)"])
        let layers = Int(state.model.numLayers)
        var plan = FallbackPlanner.plan(candidates, layerCount: layers, epoch: epoch)
        var byPlacement = false
        if let placement, !candidates.isEmpty {
            await measureLinks()
            do {
                let result = try await placement.plan(state.placementRequest(budgetSeconds: state.settings.planBudget))
                plan = try Plan(placement: result, layerCount: layers, workers: Set(candidates.map(\.id)), epoch: epoch)
                byPlacement = true
            } catch {
                logger.warning("placement unavailable; using the fallback contiguous split", metadata: ["error": "\(error)"])
            }
        } else if placement == nil {
            logger.info("no --placement configured; using the fallback contiguous split")
        }
        let broken = state.apply(plan)
        tally.withLock { $0.applied(byPlacement: byPlacement, rerouted: broken.count, began: began, at: .now) }
        let ranges = plan.assignments.sorted { $0.value.lowerBound < $1.value.lowerBound }
            .map { "\($0.key)=[\($0.value.lowerBound),\($0.value.upperBound))" }.joined(separator: " ")
        logger.info("new plan", metadata: ["epoch": "\(epoch)", "method": "\(plan.method)", "objective": "\(plan.objective)", "ranges": "\(ranges)",
                                          "rerouted": "\(broken.count)"])
        for key in broken { router.fail(key, "plan \(epoch) moved the layers of its route") }
        state.admitQueued()
    }

    /// Times the links between workers that nobody has measured yet, every worker its own in
    /// parallel, each within a few seconds; a link not measured by then keeps the default until
    /// the next plan tries again.
    func measureLinks() async {
        let work = state.linksToMeasure()
        guard !work.isEmpty else { return }
        let (link, bytes) = (self.link, state.settings.linkProbeBytes)
        let began = ContinuousClock.now
        let measured = await withTaskGroup(of: (LinkTable.End, [LinkMeasurement]).self) { group in
            for (from, peers) in work {
                group.addTask {
                    let results = try? await link.measureLinks(from: from.address, to: peers.map(\.address), probeBytes: bytes, deadline: .seconds(3))
                    return (from, results ?? [])
                }
            }
            var all: [(LinkTable.End, [LinkMeasurement])] = []
            for await result in group { all.append(result) }
            return all
        }
        for (from, results) in measured { state.recordLinks(from: from, results) }
        let count = measured.reduce(0) { $0 + $1.1.filter { $0.error.isEmpty }.count }
        logger.info("links measured", metadata: ["links": "\(count)", "asked": "\(work.reduce(0) { $0 + $1.to.count })",
                                                 "seconds": "\(ClusterState.seconds(ContinuousClock.now - began))"])
    }

    // MARK: requests

    public func forwardResults(_ request: ForwardResultRequest) {
        let unknown = router.deliver(request.results)
        if unknown > 0 { logger.debug("results for finished or unknown requests", metadata: ["count": "\(unknown)"]) }
    }

    /// Cancels a request: it leaves the queue, or its route is released and it finishes CANCELLED.
    /// `client` (an API key id) cancels only what it started: another key's request is not found
    /// (nil, the cluster secret, may cancel any).
    public func cancel(_ requestID: String, by client: String? = nil) -> Bool {
        let found = requests.withLock { r -> (Bool, String?) in
            guard let active = r.active[requestID], client == nil || active.owner == client else { return (false, nil) }
            r.active[requestID]?.cancelled = true
            return (true, r.active[requestID]?.key)
        }
        if let key = found.1, !state.cancelQueued(key) { router.fail(key, "cancelled") }
        return found.0
    }

    /// The re-plans so far: how often each cause asked, the plans made, the routes they broke.
    public var planningTally: PlanningTally { tally.withLock { $0 } }

    /// Generates refused because the admission queue was full (`--queue-limit`).
    public var queueRefusals: Int { state.queueRefusals }

    public func clusterStatus() -> ClusterStatusResponse {
        state.status(activeRequests: requests.withLock { $0.active.count })
    }

    /// Runs one Generate: validates, queues until a route has room, streams tokens, re-routes
    /// on failure, and releases KV on every hop at the end. Throws a Status only before the
    /// first event (bad input); later problems finish the stream with a reason.
    ///
    /// The request id names one generation: a retry with the same id (the client's connection
    /// dropped) attaches to the run in flight, or gets a recently finished run's events again,
    /// all from the first; the client skips what it already has. The run goes on without this
    /// caller, and is cancelled when nobody has listened for `retryGrace` seconds.
    ///
    /// `takeWaitingSlot` is the front door's per-client limit on Generates waiting for their
    /// first token: it is asked only when this call starts a new run (a retry attaches to the run,
    /// which holds its slot already) and may refuse by throwing. The run, not the call, holds the
    /// slot it returns, until its first token or its end: a client that drops its connection
    /// cannot free its slots while its runs still wait out the retry grace.
    ///
    /// `client`, the caller's API key id (nil: the cluster secret), owns a run it starts: another
    /// key may neither attach to it (PERMISSION_DENIED) nor cancel it.
    public func generate(_ request: GenerateRequest, client: String? = nil, takeWaitingSlot: () throws -> WaitingSlot = { {} },
                         send: @escaping @Sendable (GenerateEvent) async throws -> Void) async throws {
        let arrival = ContinuousClock.now
        let input = try GenerationInput(request, model: state.model, codec: codec, arrival: arrival)
        if let why = state.neverFits(prompt: input.prompt.count, maxTokens: input.maxTokens) {
            throw Status(.resourceExhausted, "Generate: \(input.prompt.count) prompt tokens + max_tokens \(input.maxTokens) need more KV room than any route of the current plan has, even empty (\(why)); ask for fewer tokens")
        }
        let id = request.requestID.isEmpty ? newRequestID() : request.requestID
        var slot: WaitingSlot = {}
        let (events, listener, isNew) = try log.join(id, request: request.encode(), owner: client) { slot = try takeWaitingSlot() }
        if isNew {
            requests.withLock { $0.active[id] = ActiveRequest(owner: client) }
            Task { [slot] in await run(id: id, input: input, arrival: arrival, waitingSlot: slot) }
        } else {
            logger.info("request retried; attached", metadata: ["request": "\(id)"])
        }
        defer { if log.leave(id, listener: listener) { cancelUnlessRejoined(id) } }
        for try await event in events { try await send(event) }
    }

    /// The whole of one generation, its events going to the log's listeners. `waitingSlot` is
    /// given back at the first event past the queue, and at the end.
    private func run(id: String, input: GenerationInput, arrival: ContinuousClock.Instant, waitingSlot: @escaping WaitingSlot) async {
        defer {
            waitingSlot()
            _ = requests.withLock { $0.active.removeValue(forKey: id) }
        }
        let publish: @Sendable (GenerateEvent) async throws -> Void = { [log] event in
            if case .queued? = event.event {} else { waitingSlot() }   // past the queue: a token or the finish
            log.publish(id, event)
        }
        var run = GenerationRun(id: id, input: input, arrival: arrival)
        do {
            try await drive(&run, send: publish)
        } catch {
            log.end(id, error: error)
            return
        }
        let finished = run.finished(now: .now)
        log.publish(id, GenerateEvent(requestID: id, event: .finished(finished)))
        log.end(id)
        logger.info("request finished", metadata: ["request": "\(id)", "reason": "\(finished.reason)", "tokens": "\(finished.generatedTokens)",
                                                  "attempts": "\(run.attempt)", "detail": "\(finished.detail)"])
    }

    /// Nobody listens to the run any more: it is cancelled unless a retry attaches in time.
    private func cancelUnlessRejoined(_ id: String) {
        Task { [log, grace = state.settings.retryGrace] in
            try await Task.sleep(for: .seconds(grace))
            if log.isAbandoned(id) { _ = cancel(id) }
        }
    }

    private func newRequestID() -> String {
        requests.withLock { r in
            r.counter += 1
            return "req-\(incarnation)-\(r.counter)"
        }
    }

    private func isCancelled(_ id: String) -> Bool { Task.isCancelled || requests.withLock { $0.active[id]?.cancelled ?? true } }

    /// Attempts routes until the request finishes. Throws only before the first event: a full
    /// admission queue answers RESOURCE_EXHAUSTED.
    private func drive(_ run: inout GenerationRun, send: @escaping @Sendable (GenerateEvent) async throws -> Void) async throws {
        while run.reason == nil {
            if isCancelled(run.id) { run.finish(.cancelled, "cancelled"); break }
            if run.attempt >= state.settings.maxAttempts { run.finish(.error, "gave up after \(run.attempt) routes: \(run.lastFailure)"); break }
            run.attempt += 1
            // Unique across restarts too: a killed scheduler's loops may still report to this address.
            let key = "\(run.id)#\(incarnation).\(run.attempt)"
            requests.withLock { $0.active[run.id]?.key = key }
            let prompt = run.input.prompt + run.generated
            let remaining = run.input.maxTokens - run.generated.count
            let queuedAt = ContinuousClock.now
            let route: [Hop]
            switch state.tryAdmit(key, prompt: prompt.count, maxTokens: remaining) {
            case .success(let admitted): route = admitted
            case .failure(let refusal):
                if run.attempt == 1, state.refusesNewRequest() {
                    throw Status(.resourceExhausted, "Generate: \(AdmissionError.queueFull(limit: state.settings.queueLimit))")
                }
                // A deadline also applies in the queue: the wait ends when it passes. With no plan
                // the wait is bounded too.
                let expiry = run.input.deadline.map { deadline in
                    Task { [state] in
                        try await Task.sleep(until: deadline)
                        _ = state.cancelQueued(key)
                    }
                }
                let noPlan = state.hasPlan ? nil : Task { [state] in
                    try await Task.sleep(for: .seconds(state.settings.noPlanWait))
                    if !state.hasPlan { state.cancelQueued(key, because: AdmissionError.noPlan(waitedSeconds: state.settings.noPlanWait, why: state.noPlanReason)) }
                }
                defer { expiry?.cancel(); noPlan?.cancel() }
                do {
                    if run.attempt == 1 {
                        let why = state.hasPlan ? refusal.description : "\(refusal.description): \(state.noPlanReason); waiting up to \(state.settings.noPlanWait) s for one"
                        try await send(GenerateEvent(requestID: run.id, event: .queued(GenerateQueued(queuePosition: UInt32(state.queuePositionEstimate), reason: why))))
                    }
                    route = try await waitForRoute(key, prompt: prompt.count, maxTokens: remaining, rerouted: run.attempt > 1)
                } catch let error as AdmissionError {
                    run.finish(.error, error.description)
                    continue
                } catch {
                    if let deadline = run.input.deadline, ContinuousClock.now >= deadline { run.finish(.deadline, "deadline_ms passed while queued") }
                    else { run.finish(.cancelled, "cancelled while queued") }
                    continue
                }
            }
            run.queueSeconds += ClusterState.seconds(ContinuousClock.now - queuedAt)
            run.route = route.map(\.workerID)
            let outcome = await attempt(&run, key: key, prompt: prompt, route: route, send: send)
            await releaseEverywhere(key, route: route)
            switch outcome {
            case .done: break
            case .failed(let reason):
                run.lastFailure = reason
                if isCancelled(run.id) { run.finish(.cancelled, "cancelled"); break }
                logger.warning("route failed; re-routing", metadata: ["request": "\(run.id)", "attempt": "\(run.attempt)", "reason": "\(reason)"])
                await probe(route)
                // Let heartbeats report reloads before the next try.
                try? await Task.sleep(for: .milliseconds(100 * run.attempt))
            }
        }
    }

    private func waitForRoute(_ key: String, prompt: Int, maxTokens: Int, rerouted: Bool) async throws -> [Hop] {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { waiter in
                state.enqueue(key, prompt: prompt, maxTokens: maxTokens, rerouted: rerouted, waiter: waiter)
                if Task.isCancelled { _ = state.cancelQueued(key) }
            }
        } onCancel: {
            _ = state.cancelQueued(key)
        }
    }

    enum AttemptOutcome { case done, failed(String) }

    /// Sends the prompt along one route once; the workers then decode in a loop (the last stage
    /// feeds each token back to the first), and this only follows the tokens as they are
    /// reported: streaming, KV and progress accounting, stop rules, deadlines.
    private func attempt(_ run: inout GenerationRun, key: String, prompt: [UInt32], route: [Hop],
                         send: @escaping @Sendable (GenerateEvent) async throws -> Void) async -> AttemptOutcome {
        guard let first = route.first else { return .failed("empty route") }
        let results = router.open(key)
        defer { router.close(key) }
        let loop = route.map { RouteHop(address: $0.address, start: UInt32($0.layers.lowerBound), end: UInt32($0.layers.upperBound), workerID: $0.workerID) }
        let remaining = run.input.maxTokens - run.generated.count
        let item = ForwardItem(requestID: key, positions: (0..<prompt.count).map { UInt32($0) }, tokenIDs: prompt,
                               start: UInt32(first.layers.lowerBound), end: UInt32(first.layers.upperBound), route: Array(loop.dropFirst()),
                               replyTo: replyAddress.withLock { $0 }, sampling: run.input.sampling, prefill: true, step: 0,
                               loop: loop, maxNewTokens: UInt32(remaining), stopTokenIDs: run.input.stopTokens.sorted())
        do {
            _ = try await link.forward(ForwardRequest(items: [item]), to: first)
        } catch {
            return .failed("worker/Forward to \(first.workerID) at \(first.address): \(error)")
        }
        var step: UInt64 = 0
        var early: [UInt64: ForwardResult] = [:]   // reports may overtake each other on the way here
        var iterator = results.makeAsyncIterator()
        while true {
            let timer = Task { [router, step, timeout = state.settings.stepTimeout] in
                try await Task.sleep(for: .seconds(timeout))
                router.fail(key, "no result for step \(step) within \(timeout)s")
            }
            var answer = early.removeValue(forKey: step)
            while answer == nil, let result = await iterator.next() {
                if !result.error.isEmpty || result.step == step { answer = result }
                else if result.step > step { early[result.step] = result }
            }
            timer.cancel()
            guard let answer else { return .failed("cancelled") }
            guard answer.error.isEmpty else { return .failed(answer.error) }
            state.observe(key, hopSeconds: answer.hopSeconds)
            if step == 0 { state.promptThrough(key) }
            let token = answer.tokenID
            run.record(token)
            let event = GenerateToken(tokenID: token, text: codec?.streamText(run.generated) ?? "", index: UInt32(run.generated.count - 1), logprob: answer.logprob)
            do { try await send(GenerateEvent(requestID: run.id, event: .token(event))) } catch {
                run.finish(.cancelled, "the client went away")
                return .done
            }
            if run.input.stopTokens.contains(token) { run.finish(.stop, ""); return .done }
            if run.generated.count >= run.input.maxTokens { run.finish(.maxTokens, ""); return .done }
            if let deadline = run.input.deadline, ContinuousClock.now >= deadline { run.finish(.deadline, "deadline_ms passed"); return .done }
            if isCancelled(run.id) { run.finish(.cancelled, "cancelled"); return .done }
            state.chargeDecode(key)
            step += 1
        }
    }

    /// Frees the attempt's KV in the ledger and on every hop (even when the client is gone).
    private func releaseEverywhere(_ key: String, route: [Hop]) async {
        state.release(key)
        let link = self.link
        await Task {
            await withTaskGroup(of: Void.self) { group in
                for hop in route { group.addTask { try? await link.release([key], on: hop) } }
            }
        }.value
    }

    /// After a failed attempt: drops hops that no longer answer (a draining worker answers
    /// Health as draining, and leaves by itself).
    private func probe(_ route: [Hop]) async {
        for hop in route where state.health(of: hop.workerID) != .draining {
            if !(await link.isAlive(hop, within: .seconds(state.settings.deadAfter))) {
                drop(hop.workerID, reason: "does not answer at \(hop.address)")
            }
        }
    }
}

/// One request's progress across its attempts.
struct GenerationRun {
    let id: String
    let input: GenerationInput
    let arrival: ContinuousClock.Instant
    var generated: [UInt32] = []
    var attempt = 0
    var queueSeconds = 0.0
    var firstTokenAt: ContinuousClock.Instant?
    var route: [String] = []
    var reason: FinishReason?
    var detail = ""
    var lastFailure = ""

    mutating func record(_ token: UInt32) {
        generated.append(token)
        if firstTokenAt == nil { firstTokenAt = .now }
    }

    mutating func finish(_ reason: FinishReason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }

    func finished(now: ContinuousClock.Instant) -> GenerateFinished {
        let total = ClusterState.seconds(now - arrival)
        let first = firstTokenAt.map { ClusterState.seconds($0 - arrival) } ?? 0
        let decode = generated.count > 1 && total > first ? Double(generated.count - 1) / (total - first) : 0
        return GenerateFinished(reason: reason ?? .error, promptTokens: UInt32(input.prompt.count), generatedTokens: UInt32(generated.count),
                                queueSeconds: queueSeconds, firstTokenSeconds: first, totalSeconds: total,
                                decodeTokensPerSecond: decode, detail: detail, route: route)
    }
}
