import SchedulerCore
import Testing
import Wire

struct IWRRTests {
    @Test func sharesFollowTheFlow() {
        var iwrr = IWRR()
        var counts: [String: Int] = [:]
        for _ in 0..<400 {
            let pick = iwrr.choose([("fast", 3), ("slow", 1)], weight: 1)
            counts[pick ?? "none", default: 0] += 1
        }
        #expect(counts["fast"] == 300)
        #expect(counts["slow"] == 100)
    }

    @Test func interleavesRatherThanBursts() {
        var iwrr = IWRR()
        let picks = (0..<8).compactMap { _ in iwrr.choose([("a", 1), ("b", 1)], weight: 1) }
        for (x, y) in zip(picks, picks.dropFirst()) { #expect(x != y) }
    }

    @Test func heavierWorkChargesMore() {
        var iwrr = IWRR()
        let heavy = iwrr.choose([("a", 10), ("b", 10)], weight: 100)   // a: load 10
        #expect(heavy == "a")
        // Ten single tokens go to b until its load reaches a's.
        let picks = (0..<10).compactMap { _ in iwrr.choose([("a", 10), ("b", 10)], weight: 10) }
        #expect(picks.first == "b")
        #expect(iwrr.loads["a"] ?? 0 > 0 && iwrr.loads["b"] ?? 0 > 0)
    }

    @Test func noFlowNoPick() {
        #expect(IWRR().pick([("a", 0)], weight: 1) == nil)
        #expect(IWRR().pick([], weight: 1) == nil)
    }
}

struct KVAccountingTests {
    @Test func admissionRuleKeepsTheHeadroom() {
        let policy = KVPolicy.online   // hwm 0.9: 10% of capacity must stay free
        #expect(policy.admits(entries: 900, reserved: 0, capacity: 1000))
        #expect(!policy.admits(entries: 901, reserved: 0, capacity: 1000))
        #expect(policy.admits(entries: 400, reserved: 500, capacity: 1000))
        #expect(!policy.admits(entries: 401, reserved: 500, capacity: 1000))
        #expect(KVPolicy.offline.admits(entries: 850, reserved: 0, capacity: 1000))
        #expect(!KVPolicy.offline.admits(entries: 851, reserved: 0, capacity: 1000))
    }

    @Test func expectedLength() {
        #expect(KVPolicy.online.expectedLength(prompt: 100, maxTokens: 1000) == 1100)
        var helix = KVPolicy.online
        helix.reserveMaxTokens = false
        #expect(helix.expectedLength(prompt: 100, maxTokens: 1000) == 100 + 144)   // 240 × 0.6
        #expect(helix.expectedLength(prompt: 100, maxTokens: 10) == 110)
    }

    @Test func ledgerReservesAndReleasesPerWorker() {
        var ledger = KVLedger()
        let first = ledger.reserve("r1", ["a": 100, "b": 50])
        let second = ledger.reserve("r2", ["a": 10])
        let again = ledger.reserve("r1", ["a": 1])
        #expect(first && second && !again)
        #expect(ledger.reserved(on: "a") == 110)
        #expect(ledger.requests(on: "a") == ["r1", "r2"])
        let freed = ledger.release("r1")
        #expect(Set(freed) == ["a", "b"])
        #expect(ledger.reserved(on: "a") == 10)
        #expect(ledger.reserved(on: "b") == 0)
        let twice = ledger.release("r1")
        #expect(twice.isEmpty)
        ledger.release("r2")
        #expect(ledger.reservedByWorker.isEmpty)
    }
}

struct AdmissionQueueTests {
    @Test func firstComeFirstServedAndNeverDropped() {
        var queue = AdmissionQueue<Int>()
        queue.append(key: "big", prompt: 500, maxTokens: 10, waiter: 1)
        queue.append(key: "small", prompt: 5, maxTokens: 10, waiter: 2)
        #expect(queue.position(of: "small") == 1)
        // Room for small ones only: the big head waits and nobody overtakes it.
        var admitted = queue.admit { $0.prompt < 100 ? true : nil }
        #expect(admitted.isEmpty)
        #expect(queue.count == 2)
        admitted = queue.admit { _ in true }
        #expect(admitted.map(\.0.key) == ["big", "small"])
        #expect(queue.count == 0)
    }

    @Test func cancelledEntriesLeave() {
        var queue = AdmissionQueue<Int>()
        queue.append(key: "a", prompt: 1, maxTokens: 1, waiter: 1)
        queue.append(key: "b", prompt: 1, maxTokens: 1, waiter: 2)
        #expect(queue.remove("a")?.waiter == 1)
        #expect(queue.remove("a") == nil)
        #expect(queue.position(of: "b") == 0)
    }
}

struct FallbackPlannerTests {
    @Test func contiguousSplitInProportionToWeight() {
        let plan = FallbackPlanner.plan([PlanCandidate(id: "a", layerCapacity: 8, weight: 3), PlanCandidate(id: "b", layerCapacity: 8, weight: 1)],
                                        layerCount: 8, epoch: 4)
        #expect(plan.epoch == 4)
        #expect(plan.assignments == ["a": 0..<6, "b": 6..<8])
        #expect(plan.arcs.map { "\($0.from)>\($0.to)" } == ["source>a", "a>b", "b>sink"])
        #expect(plan.method.hasPrefix("fallback"))
    }

    @Test func capacityIsRespected() {
        let plan = FallbackPlanner.plan([PlanCandidate(id: "a", layerCapacity: 2, weight: 10), PlanCandidate(id: "b", layerCapacity: 8, weight: 1)],
                                        layerCount: 8, epoch: 1)
        #expect(plan.assignments == ["a": 0..<2, "b": 2..<8])
    }

    @Test func notEnoughCapacityMeansNoPlan() {
        let plan = FallbackPlanner.plan([PlanCandidate(id: "a", layerCapacity: 2, weight: 1)], layerCount: 8, epoch: 1)
        #expect(plan.assignments.isEmpty)
        #expect(plan.method.contains("hold 2 layers"))
    }

    @Test func moreWorkersThanLayersMakeSeveralPipelines() {
        let workers = (0..<4).map { PlanCandidate(id: "w\($0)", layerCapacity: 2, weight: 1) }
        let plan = FallbackPlanner.plan(workers, layerCount: 2, epoch: 1)
        #expect(plan.arcs(from: PlanArc.source).count == 2)
        #expect(Set(plan.assignments.values) == [0..<1, 1..<2])
        #expect(plan.assignments.count == 4)
    }

    @Test func placementResultBecomesAPlan() throws {
        let result = PlanResult(placement: [NodeRange(nodeName: "a", start: 0, end: 3), NodeRange(nodeName: "b", start: 3, end: 8)],
                                flows: [ArcFlow(fromNode: "source", toNode: "a", tokensPerSecond: 5), ArcFlow(fromNode: "a", toNode: "b", tokensPerSecond: 5),
                                        ArcFlow(fromNode: "b", toNode: "sink", tokensPerSecond: 5)],
                                objectiveTokensPerSecond: 5)
        let plan = try Plan(placement: result, layerCount: 8, workers: ["a", "b"], epoch: 2)
        #expect(plan.assignments == ["a": 0..<3, "b": 3..<8])
        #expect(plan.objective == 5)
        #expect(throws: PlanError.self) { try Plan(placement: result, layerCount: 8, workers: ["a"], epoch: 2) }
        #expect(throws: PlanError.self) { try Plan(placement: result, layerCount: 4, workers: ["a", "b"], epoch: 2) }
    }
}

struct RouteBuilderTests {
    /// Two pipelines (a→b, c→d) plus a thin arc a→d carrying 2% of a's outflow.
    static let plan = Plan(epoch: 1, assignments: ["a": 0..<2, "b": 2..<4, "c": 0..<2, "d": 2..<4],
                           arcs: [PlanArc(from: "source", to: "a", flow: 10), PlanArc(from: "source", to: "c", flow: 10),
                                  PlanArc(from: "a", to: "b", flow: 9.8), PlanArc(from: "a", to: "d", flow: 0.2),
                                  PlanArc(from: "c", to: "d", flow: 10),
                                  PlanArc(from: "b", to: "sink", flow: 9.8), PlanArc(from: "d", to: "sink", flow: 10.2)])

    static func nodes(serving: Set<String> = ["a", "b", "c", "d"], capacity: Int = 10_000) -> [String: RouteNode] {
        Dictionary(uniqueKeysWithValues: plan.assignments.map { id, layers in
            (id, RouteNode(address: "\(id):1", layers: layers, serving: serving.contains(id), kvCapacityEntries: capacity))
        })
    }

    @Test func routesAlternateOverPipelinesAndSkipThinArcs() throws {
        var iwrr: [String: IWRR] = [:]
        var seen: [[String]] = []
        for _ in 0..<20 {
            let route = try RouteBuilder().build(prompt: 10, maxTokens: 10, plan: Self.plan, layerCount: 4, nodes: Self.nodes(),
                                                 ledger: KVLedger(), iwrr: &iwrr).get()
            seen.append(route.map(\.workerID))
            #expect(route.first?.layers.lowerBound == 0 && route.last?.layers.upperBound == 4)
        }
        #expect(seen.filter { $0 == ["a", "b"] }.count == 10)
        #expect(seen.filter { $0 == ["c", "d"] }.count == 10)
        #expect(!seen.contains(["a", "d"]))   // 2% < 5% of a's outflow
    }

    @Test func notServingAndFullWorkersAreMasked() throws {
        var iwrr: [String: IWRR] = [:]
        let route = try RouteBuilder().build(prompt: 10, maxTokens: 10, plan: Self.plan, layerCount: 4,
                                             nodes: Self.nodes(serving: ["a", "c", "d"]), ledger: KVLedger(), iwrr: &iwrr).get()
        #expect(route.map(\.workerID) == ["c", "d"])
        // d full: a's only good arc goes to b, which is not serving; c's goes to d. Nothing.
        var ledger = KVLedger()
        ledger.reserve("other", ["d": 9_000])
        let refused = RouteBuilder().build(prompt: 10, maxTokens: 10, plan: Self.plan, layerCount: 4,
                                           nodes: Self.nodes(serving: ["a", "c", "d"]), ledger: ledger, iwrr: &iwrr)
        #expect(refused == .failure(.noCandidate(after: "c", layer: 2)) || refused == .failure(.noCandidate(after: "a", layer: 2)))
        #expect(RouteBuilder().build(prompt: 1, maxTokens: 1, plan: Plan(), layerCount: 4, nodes: [:], ledger: KVLedger(), iwrr: &iwrr) == .failure(.noPlan))
    }

    @Test func reservationCoversEveryLayerOnEveryHop() {
        let route = [Hop(workerID: "a", address: "a:1", layers: 0..<3), Hop(workerID: "b", address: "b:1", layers: 3..<4)]
        #expect(RouteBuilder().reservation(prompt: 10, maxTokens: 5, route: route) == ["a": 45, "b": 15])
    }
}

struct ClusterStateTests {
    static let model = ModelInfo(name: "tiny", numLayers: 4, vocabSize: 256)

    static func registration(_ id: String, capacity: UInt32 = 4, kv: UInt64 = 4000) -> RegisterWorkerRequest {
        RegisterWorkerRequest(workerID: id, address: "127.0.0.1:\(1000 + id.count)", layerCapacity: capacity, kvCapacityEntries: kv)
    }

    static func serve(_ state: ClusterState, _ ids: [String]) {
        for id in ids {
            let plan = state.plan
            let range = plan.assignments[id] ?? 0..<0
            _ = state.heartbeat(HeartbeatRequest(workerID: id, stats: WorkerStats(layers: LayerRange(start: UInt32(range.lowerBound), end: UInt32(range.upperBound)),
                                                                                  kvCapacityEntries: 1000 * UInt64(range.count)),
                                                 planEpoch: plan.epoch))
        }
    }

    @Test func placementRequestDescribesTheLiveWorkers() throws {
        let state = ClusterState(model: ModelInfo(name: "llama2-70b", numLayers: 80))
        var a100 = Self.registration("a")
        a100.gpuType = "a100"
        var t4 = Self.registration("bb")
        t4.gpuType = "t4x2"
        _ = try state.register(a100)
        _ = try state.register(t4)
        let request = state.placementRequest(budgetSeconds: 3)
        #expect(request.cluster?.nodes.map(\.gpuType) == ["A100-40G", "T4x2"])
        #expect(request.cluster?.nodes.map(\.name) == ["a", "bb"])
        let links = request.cluster?.links.map { "\($0.fromNode)-\($0.toNode)" } ?? []
        #expect(Set(links) == ["source-a", "a-sink", "source-bb", "bb-sink", "a-bb"])
        #expect(request.model?.name == "llama2-70b")
        #expect(request.variant == .strict)
        _ = state.markDead("bb")
        #expect(state.placementRequest(budgetSeconds: 3).cluster?.nodes.count == 1)
    }

    @Test func badRegistrationsAreRefused() {
        let state = ClusterState(model: Self.model)
        for bad in [RegisterWorkerRequest(address: "h:1", layerCapacity: 1, kvCapacityEntries: 1),
                    RegisterWorkerRequest(workerID: "w", address: "nowhere", layerCapacity: 1, kvCapacityEntries: 1),
                    RegisterWorkerRequest(workerID: "w", address: "h:1", layerCapacity: 0, kvCapacityEntries: 1)] {
            #expect(throws: Status.self) { try state.register(bad) }
        }
    }

    @Test func workersServeOnceTheyLoadTheirPlan() throws {
        let state = ClusterState(model: Self.model)
        _ = try state.register(Self.registration("a"))
        _ = try state.register(Self.registration("bb"))
        let plan = FallbackPlanner.plan(state.planCandidates(), layerCount: 4, epoch: state.nextEpoch())
        #expect(state.apply(plan).isEmpty)
        #expect(state.status(activeRequests: 0).workers.allSatisfy { $0.health == .loading })
        // Until they load, requests cannot be routed.
        if case .success = state.tryAdmit("r0", prompt: 4, maxTokens: 4) { Issue.record("routed to workers still loading") }
        let (response, _) = state.heartbeat(HeartbeatRequest(workerID: "a", planEpoch: 0))
        #expect(response.reassigned && response.assignment == LayerRange(start: 0, end: 2))
        Self.serve(state, ["a", "bb"])
        #expect(state.status(activeRequests: 0).workers.allSatisfy { $0.health == .serving })
        let route = try state.tryAdmit("r1", prompt: 4, maxTokens: 4).get()
        #expect(route.map(\.workerID) == ["a", "bb"])
        #expect(state.ledger.reserved(on: "a") == 8 * 2)
        #expect(state.release("r1").count == 2)
        #expect(state.ledger.reservedByWorker.isEmpty)
        #expect(!state.heartbeat(HeartbeatRequest(workerID: "ghost")).0.known)
    }

    @Test func queuedRequestsAreAdmittedWhenRoomFrees() async throws {
        let state = ClusterState(model: Self.model)
        _ = try state.register(Self.registration("a"))
        _ = state.apply(FallbackPlanner.plan(state.planCandidates(), layerCount: 4, epoch: state.nextEpoch()))
        Self.serve(state, ["a"])   // 4000 entries on 4 layers; 90% usable: 900 tokens
        _ = try state.tryAdmit("first", prompt: 400, maxTokens: 400).get()
        guard case .failure = state.tryAdmit("second", prompt: 100, maxTokens: 100) else { Issue.record("should not fit"); return }
        let waiting = Task { try await state.waitForTest("second", prompt: 100, maxTokens: 100) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(state.queuePosition("second") == 0)
        state.release("first")
        let route = try await waiting.value
        #expect(route.map(\.workerID) == ["a"])
        #expect(state.ledger.reserved(on: "a") == 200 * 4)
        // A cancelled waiter leaves the queue with an error.
        let cancelled = Task { try await state.waitForTest("third", prompt: 500, maxTokens: 500) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(state.cancelQueued("third"))
        await #expect(throws: CancellationError.self) { try await cancelled.value }
    }

    @Test func deadWorkersBreakTheirRoutesAndSilenceIsNoticed() throws {
        let state = ClusterState(model: Self.model)
        _ = try state.register(Self.registration("a"))
        _ = try state.register(Self.registration("bb"))
        _ = state.apply(FallbackPlanner.plan(state.planCandidates(), layerCount: 4, epoch: state.nextEpoch()))
        Self.serve(state, ["a", "bb"])
        _ = try state.tryAdmit("r", prompt: 4, maxTokens: 4).get()
        #expect(state.markDead("bb") == ["r"])
        #expect(state.planCandidates().map(\.id) == ["a"])
        // A new plan without bb moves a's layers: the route breaks.
        #expect(state.apply(FallbackPlanner.plan(state.planCandidates(), layerCount: 4, epoch: state.nextEpoch())) == ["r"])
        let later = ContinuousClock.now + .seconds(3)
        #expect(state.sweep(now: later).isEmpty)
        #expect(state.status(activeRequests: 0, now: later).workers.first { $0.workerID == "a" }?.health == .suspect)
        #expect(state.sweep(now: later + .seconds(3)) == ["a"])
    }
}

extension ClusterState {
    /// The queue as the engine uses it, for tests.
    func waitForTest(_ key: String, prompt: Int, maxTokens: Int) async throws -> [Hop] {
        try await withCheckedThrowingContinuation { enqueueForTest(key, prompt: prompt, maxTokens: maxTokens, waiter: $0) }
    }
}
