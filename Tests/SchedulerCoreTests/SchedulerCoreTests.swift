import SchedulerCore
import Testing
import Wire

struct AdmissionQueueTests {
    @Test func firstComeFirstServedAndBounded() {
        var queue = AdmissionQueue<Int>(limit: 2)
        let big = queue.append(key: "big", prompt: 500, maxTokens: 10, waiter: 1)
        let small = queue.append(key: "small", prompt: 5, maxTokens: 10, waiter: 2)
        #expect(big && small && queue.isFull)
        let third = queue.append(key: "third", prompt: 5, maxTokens: 10, waiter: 3)
        #expect(!third)
        #expect(queue.count == 2 && queue.position(of: "small") == 1 && queue.head?.key == "big")
        let head = queue.removeHead()
        #expect(head?.key == "big")
        #expect(queue.position(of: "small") == 0 && !queue.isFull)
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

    /// The plan asks for the serving objective with the budget the scheduler was given.
    @Test func placementRequestAsksForTheServingObjectiveWithTheBudget() throws {
        var settings = SchedulerSettings()
        settings.planBudget = 7
        let state = ClusterState(model: ModelInfo(name: "llama2-70b", numLayers: 80), settings: settings)
        _ = try state.register(Self.registration("a"))
        let request = state.placementRequest(budgetSeconds: settings.planBudget)
        #expect(request.objective == .serving && request.budgetSeconds == 7)
    }

    @Test func placementRequestCarriesTheProfilesWorkersMeasured() throws {
        let state = ClusterState(model: Self.model)
        let measured = MeasuredProfile(prompt: [LatencyPoint(tokens: 8, seconds: 1e-3), LatencyPoint(tokens: 32, seconds: 3e-3)],
                                       decode: [LatencyPoint(tokens: 1, seconds: 1e-4), LatencyPoint(tokens: 4, seconds: 2e-4)],
                                       maxLayers: 3, kvCapacityEntries: 3000)
        var cpu = Self.registration("c")
        cpu.gpuType = "CPU"
        cpu.profile = measured
        _ = try state.register(cpu)
        _ = try state.register(Self.registration("d"))
        let nodes = state.placementRequest(budgetSeconds: 3).cluster?.nodes ?? []
        #expect(nodes.map(\.name) == ["c", "d"])
        #expect(nodes.first?.measured == measured)
        #expect(nodes.last?.measured == nil)
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
        #expect(state.ledger.reservedByNode.isEmpty)
        #expect(!state.heartbeat(HeartbeatRequest(workerID: "ghost")).0.known)
    }

    /// Two pipelines (a→b, c→d) plus a thin arc a→d carrying 2% of a's outflow.
    static let twoPipelines = Plan(epoch: 1, assignments: ["a": 0..<2, "b": 2..<4, "c": 0..<2, "d": 2..<4],
                                   arcs: [PlanArc(from: "source", to: "a", flow: 10), PlanArc(from: "source", to: "c", flow: 10),
                                          PlanArc(from: "a", to: "b", flow: 9.8), PlanArc(from: "a", to: "d", flow: 0.2),
                                          PlanArc(from: "c", to: "d", flow: 10),
                                          PlanArc(from: "b", to: "sink", flow: 9.8), PlanArc(from: "d", to: "sink", flow: 10.2)])

    @Test func liveRoutesFollowThePlansFlowThroughTheRoutingCore() throws {
        let state = ClusterState(model: Self.model)
        for id in ["a", "b", "c", "d"] { _ = try state.register(Self.registration(id, kv: 1_000_000)) }
        _ = state.apply(Self.twoPipelines)
        Self.serve(state, ["a", "b", "c", "d"])
        var seen: [[String]] = []
        for i in 0..<20 {
            let route = try state.tryAdmit("r\(i)", prompt: 10, maxTokens: 10).get()
            seen.append(route.map(\.workerID))
            #expect(route.first?.layers.lowerBound == 0 && route.last?.layers.upperBound == 4)
        }
        #expect(seen.filter { $0 == ["a", "b"] }.count == 10)
        #expect(seen.filter { $0 == ["c", "d"] }.count == 10)
        #expect(!seen.contains(["a", "d"]))   // 2% < 5% of a's outflow
        // b stops serving: everything goes by c → d, and the refusal says why once d is full too.
        _ = state.heartbeat(HeartbeatRequest(workerID: "b", planEpoch: 0))
        #expect(try state.tryAdmit("x", prompt: 10, maxTokens: 10).get().map(\.workerID) == ["c", "d"])
        guard case .failure(let refusal) = state.tryAdmit("y", prompt: 200_000, maxTokens: 10) else { Issue.record("admitted past KV room"); return }
        #expect(refusal.description.contains("no KV room"), "\(refusal)")
    }

    /// The flow-blind policies route over every arc of the layout, flow or not, as the simulator
    /// routes them: random takes c → b, which the plan's flow leaves empty, and a → d, masked
    /// under IWRR (2% < 5% of a's outflow).
    @Test func randomRoutesOverEveryArcOfTheLayout() throws {
        var settings = SchedulerSettings()
        settings.routing = .random
        let state = ClusterState(model: Self.model, settings: settings)
        for id in ["a", "b", "c", "d"] { _ = try state.register(Self.registration(id, kv: 1_000_000)) }
        _ = state.apply(Self.twoPipelines)
        Self.serve(state, ["a", "b", "c", "d"])
        var seen = Set<[String]>()
        for i in 0..<40 {
            seen.insert(try state.tryAdmit("r\(i)", prompt: 10, maxTokens: 10).get().map(\.workerID))
            state.release("r\(i)")
        }
        #expect(seen == [["a", "b"], ["a", "d"], ["c", "b"], ["c", "d"]])
    }

    /// Swarm routing weighs each arc by its own hop's time, as the workers time every hop: with
    /// the second hop 4x slower on c than on b and the first hop alike, b gets about 4x the
    /// requests. Charging every hop the whole step's time (1.1 s against 1.4 s) would split them
    /// nearly evenly.
    @Test func swarmLearnsEachHopsOwnTime() throws {
        var settings = SchedulerSettings()
        settings.routing = .swarm
        let state = ClusterState(model: Self.model, settings: settings)
        for id in ["a", "b", "c"] { _ = try state.register(Self.registration(id, kv: 1_000_000)) }
        _ = state.apply(Plan(epoch: 1, assignments: ["a": 0..<2, "b": 2..<4, "c": 2..<4],
                             arcs: [PlanArc(from: "source", to: "a", flow: 20), PlanArc(from: "a", to: "b", flow: 10), PlanArc(from: "a", to: "c", flow: 10),
                                    PlanArc(from: "b", to: "sink", flow: 10), PlanArc(from: "c", to: "sink", flow: 10)]))
        Self.serve(state, ["a", "b", "c"])
        var second: [String: Int] = [:]
        for i in 0..<100 {
            let route = try state.tryAdmit("r\(i)", prompt: 10, maxTokens: 10).get().map(\.workerID)
            second[route[1], default: 0] += 1
            state.observe("r\(i)", hopSeconds: [1.0, route[1] == "b" ? 0.1 : 0.4])
            state.release("r\(i)")
        }
        #expect(second["b", default: 0] >= 3 * second["c", default: 0], "\(second)")
        #expect(second["c", default: 0] >= 10, "\(second)")
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
        let cancelled = Task { try await state.waitForTest("third", prompt: 400, maxTokens: 400) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(state.cancelQueued("third"))
        await #expect(throws: CancellationError.self) { try await cancelled.value }
    }

    /// The cluster shrinks under a queued request that then can never fit: it is failed with the
    /// reason, and the request behind it is served once room frees (no head-of-line blocking).
    @Test func aRequestThatCanNoLongerFitIsFailedAndTheOnesBehindAreServed() async throws {
        let state = ClusterState(model: Self.model)
        _ = try state.register(Self.registration("a"))
        _ = try state.register(Self.registration("bb"))
        _ = state.apply(FallbackPlanner.plan(state.planCandidates(), layerCount: 4, epoch: state.nextEpoch()))
        Self.serve(state, ["a", "bb"])              // 1000 entries per layer: 900 tokens fit
        _ = try state.tryAdmit("first", prompt: 400, maxTokens: 400).get()
        let huge = Task { try await state.waitForTest("huge", prompt: 300, maxTokens: 300) }
        try await Task.sleep(for: .milliseconds(30))
        let small = Task { try await state.waitForTest("small", prompt: 50, maxTokens: 50) }
        try await Task.sleep(for: .milliseconds(30))
        #expect(state.queuePosition("huge") == 0 && state.queuePosition("small") == 1)
        // bb leaves; a now holds all 4 layers with 500 entries per layer (450 tokens fit).
        #expect(state.markDead("bb") == ["first"])
        #expect(state.neverFits(prompt: 300, maxTokens: 300) == nil)   // the plan still counts bb: a new one is coming
        #expect(state.apply(FallbackPlanner.plan(state.planCandidates(), layerCount: 4, epoch: state.nextEpoch())) == ["first"])
        state.heartbeat(HeartbeatRequest(workerID: "a", stats: WorkerStats(layers: LayerRange(start: 0, end: 4), kvCapacityEntries: 2000),
                                         planEpoch: state.plan.epoch)).1.resume()
        await #expect(throws: AdmissionError.self) { try await huge.value }
        #expect(state.queuePosition("small") == 0)   // first still holds room on a
        state.release("first")
        #expect(try await small.value.map(\.workerID) == ["a"])
        #expect(state.neverFits(prompt: 300, maxTokens: 300)?.contains("no KV room") == true)
    }

    @Test func aFullQueueRefusesNewRequestsButNotReroutedOnes() async throws {
        var settings = SchedulerSettings()
        settings.queueLimit = 1
        let state = ClusterState(model: Self.model, settings: settings)
        let first = Task { try await state.waitForTest("one", prompt: 1, maxTokens: 1) }
        try await Task.sleep(for: .milliseconds(30))
        #expect(state.queueRefusals == 0)
        await #expect(throws: AdmissionError.queueFull(limit: 1)) { try await state.waitForTest("two", prompt: 1, maxTokens: 1) }
        #expect(state.refusesNewRequest())
        #expect(state.queueRefusals == 2)   // "two", and the newcomer just asked about: the stat counts both
        let rerouted = Task { try await withCheckedThrowingContinuation { state.enqueueForTest("three", prompt: 1, maxTokens: 1, rerouted: true, waiter: $0) } }
        try await Task.sleep(for: .milliseconds(30))
        #expect(state.queuePosition("three") == 1)
        #expect(state.cancelQueued("one") && state.cancelQueued("three"))
        _ = await (first.result, rerouted.result)
    }

    /// A live worker registering again is a new process: it is not trusted to hold its layers,
    /// and the requests routed through the old process are handed back for re-routing.
    @Test func aRestartedWorkerIsANewIncarnation() throws {
        let state = ClusterState(model: Self.model)
        _ = try state.register(Self.registration("a"))
        _ = try state.register(Self.registration("bb"))
        _ = state.apply(FallbackPlanner.plan(state.planCandidates(), layerCount: 4, epoch: state.nextEpoch()))
        Self.serve(state, ["a", "bb"])
        _ = try state.tryAdmit("r", prompt: 4, maxTokens: 4).get()
        let again = try state.register(Self.registration("bb"))
        #expect(again.rerouted == ["r"])
        state.release("r")
        #expect(!again.changed)   // same address and capacity: the plan stands
        #expect(again.0.assignment == LayerRange(start: 2, end: 4))
        #expect(state.status(activeRequests: 0).workers.first { $0.workerID == "bb" }?.health == .loading)
        if case .success = state.tryAdmit("s", prompt: 4, maxTokens: 4) { Issue.record("routed through a worker that has not reloaded") }
        Self.serve(state, ["bb"])
        #expect(try state.tryAdmit("t", prompt: 4, maxTokens: 4).get().map(\.workerID) == ["a", "bb"])
        #expect(try state.register(Self.registration("a")).rerouted == ["t"])
    }

    /// A re-plan reloads only the workers whose layers move: the others keep serving (and
    /// being routed to) without waiting for a heartbeat, and only routes through a moved hop break.
    @Test func aPlanThatKeepsAWorkersLayersKeepsItServing() throws {
        let state = ClusterState(model: Self.model)
        for id in ["a", "b", "c"] { _ = try state.register(Self.registration(id)) }
        _ = state.apply(Plan(epoch: state.nextEpoch(), assignments: ["a": 0..<2, "b": 2..<4, "c": 0..<4],
                             arcs: [PlanArc(from: "source", to: "a", flow: 1), PlanArc(from: "a", to: "b", flow: 1), PlanArc(from: "b", to: "sink", flow: 1),
                                    PlanArc(from: "source", to: "c", flow: 1), PlanArc(from: "c", to: "sink", flow: 1)]))
        Self.serve(state, ["a", "b", "c"])
        let routes = try (0..<4).map { try state.tryAdmit("r\($0)", prompt: 4, maxTokens: 4).get().map(\.workerID) }
        #expect(Set(routes) == [["a", "b"], ["c"]])
        // c's layers move; a and b keep theirs.
        let broken = state.apply(Plan(epoch: state.nextEpoch(), assignments: ["a": 0..<2, "b": 2..<4, "c": 0..<2],
                                      arcs: [PlanArc(from: "source", to: "a", flow: 1), PlanArc(from: "a", to: "b", flow: 1),
                                             PlanArc(from: "b", to: "sink", flow: 1), PlanArc(from: "source", to: "c", flow: 1), PlanArc(from: "c", to: "b", flow: 1)]))
        #expect(broken == zip(0..<4, routes).filter { $0.1 == ["c"] }.map { "r\($0.0)" })
        let health = Dictionary(uniqueKeysWithValues: state.status(activeRequests: 0).workers.map { ($0.workerID, $0.health) })
        #expect(health == ["a": .serving, "b": .serving, "c": .loading])
        // A heartbeat sent before a and b heard of the new plan does not take them out of service.
        Self.serve(state, ["a"])
        _ = state.heartbeat(HeartbeatRequest(workerID: "b", stats: WorkerStats(layers: LayerRange(start: 2, end: 4), kvCapacityEntries: 2000), planEpoch: 1))
        #expect(state.status(activeRequests: 0).workers.filter { $0.health == .serving }.map(\.workerID) == ["a", "b"])
        #expect(try state.tryAdmit("new", prompt: 4, maxTokens: 4).get().map(\.workerID) == ["a", "b"])
    }

    /// A worker leaving on purpose: while it drains, new routes avoid it and plans leave it out,
    /// yet routes through it go on; gone, it is forgotten and what still ran through it is returned.
    @Test func aDrainingWorkerKeepsItsRoutesButGetsNoNewOnes() throws {
        let state = ClusterState(model: Self.model)
        for id in ["a", "b", "c"] { _ = try state.register(Self.registration(id)) }
        _ = state.apply(Plan(epoch: state.nextEpoch(), assignments: ["a": 0..<4, "b": 0..<4],
                             arcs: [PlanArc(from: "source", to: "a", flow: 1), PlanArc(from: "a", to: "sink", flow: 1),
                                    PlanArc(from: "source", to: "b", flow: 1), PlanArc(from: "b", to: "sink", flow: 1)]))
        Self.serve(state, ["a", "b"])
        let routes = try (0..<2).map { try state.tryAdmit("r\($0)", prompt: 4, maxTokens: 4).get().map(\.workerID) }
        #expect(Set(routes) == [["a"], ["b"]])
        let onB = routes[0] == ["b"] ? "r0" : "r1"
        let leaving = state.leave("b", draining: true)
        #expect(leaving.known && leaving.inPlan && leaving.routes == [onB])
        #expect(state.planCandidates().map(\.id) == ["a", "c"])
        #expect(try state.tryAdmit("x", prompt: 4, maxTokens: 4).get() == [Hop(workerID: "a", address: "127.0.0.1:1001", layers: 0..<4)])
        // The plan without b breaks no route: b keeps its layers until it leaves; heartbeats keep it draining.
        #expect(state.apply(Plan(epoch: state.nextEpoch(), assignments: ["a": 0..<4, "c": 0..<4],
                                 arcs: [PlanArc(from: "source", to: "a", flow: 1), PlanArc(from: "a", to: "sink", flow: 1),
                                        PlanArc(from: "source", to: "c", flow: 1), PlanArc(from: "c", to: "sink", flow: 1)])).isEmpty)
        let beat = state.heartbeat(HeartbeatRequest(workerID: "b", stats: WorkerStats(layers: LayerRange(start: 0, end: 4), kvCapacityEntries: 4000), planEpoch: 1)).0
        #expect(beat.known && !beat.reassigned)
        #expect(state.status(activeRequests: 0).workers.first { $0.workerID == "b" }?.health == .draining)
        #expect(state.sweep(now: .now + .seconds(3)).isEmpty && state.status(activeRequests: 0).workers.first { $0.workerID == "b" }?.health == .draining)
        let gone = state.leave("b", draining: false)
        #expect(gone.known && !gone.inPlan && gone.routes == [onB])
        #expect(state.status(activeRequests: 0).workers.map(\.workerID) == ["a", "c"])
        #expect(!state.leave("b", draining: false).known)
    }

    /// Links placement gets: measured between the workers (the slower direction), declared in a
    /// cluster file where it says so (that wins), else the stated 1 GB/s default; a worker at a new
    /// address is measured afresh.
    @Test func placementGetsMeasuredAndDeclaredLinks() throws {
        var settings = SchedulerSettings()
        settings.declaredLinks = [ClusterLink(fromNode: "a", toNode: "c", bandwidthBytesPerSecond: 5e6, latencySeconds: 0.05),
                                  ClusterLink(fromNode: "source", toNode: "a", bandwidthBytesPerSecond: 7e6)]
        let state = ClusterState(model: Self.model, settings: settings)
        for (n, id) in ["a", "b", "c"].enumerated() {
            var registration = Self.registration(id)
            registration.address = "127.0.0.1:\(2000 + n)"
            _ = try state.register(registration)
        }
        let ends = Dictionary(uniqueKeysWithValues: state.status(activeRequests: 0).workers.map { ($0.workerID, LinkTable.End(id: $0.workerID, address: $0.address)) })
        let a = try #require(ends["a"]), b = try #require(ends["b"]), c = try #require(ends["c"])
        // Every worker is asked for every peer but the declared pair a–c.
        let asked = Dictionary(uniqueKeysWithValues: state.linksToMeasure().map { ($0.from.id, $0.to.map(\.id)) })
        #expect(asked == ["a": ["b"], "b": ["a", "c"], "c": ["b"]])
        state.recordLinks(from: a, [LinkMeasurement(address: b.address, latencySeconds: 0.001, bandwidthBytesPerSecond: 2e8),
                                    LinkMeasurement(address: "10.9.9.9:1", latencySeconds: 0.001, bandwidthBytesPerSecond: 1e9)])
        state.recordLinks(from: b, [LinkMeasurement(address: a.address, latencySeconds: 0.003, bandwidthBytesPerSecond: 3e8),
                                    LinkMeasurement(address: c.address, error: "UNAVAILABLE")])
        #expect(state.linksToMeasure().map { $0.from.id }.sorted() == ["b", "c"])
        let links = state.placementRequest(budgetSeconds: 1).cluster?.links ?? []
        func link(_ x: String, _ y: String) -> ClusterLink? { links.first { Set([$0.fromNode, $0.toNode]) == Set([x, y]) } }
        #expect(link("a", "b")?.bandwidthBytesPerSecond == 2e8 && link("a", "b")?.latencySeconds == 0.003)   // the slower way
        #expect(link("a", "c")?.bandwidthBytesPerSecond == 5e6 && link("a", "c")?.latencySeconds == 0.05)    // declared
        #expect(link("b", "c")?.bandwidthBytesPerSecond == 1e9)                                              // not measured
        #expect(link("source", "a")?.bandwidthBytesPerSecond == 7e6 && link("source", "b")?.bandwidthBytesPerSecond == 1e9)
        #expect(links.count == 9 && links.filter { Set([$0.fromNode, $0.toNode]) == Set(["a", "c"]) }.count == 1)
        // ClusterStatus shows the same links and where each comes from (`lattice status`).
        let shown = state.status(activeRequests: 0).links
        func source(_ x: String, _ y: String) -> String? { shown.first { Set([$0.fromNode, $0.toNode]) == Set([x, y]) }?.source }
        #expect(shown.count == 9)
        #expect(source("a", "b") == "measured" && source("a", "c") == "declared" && source("b", "c") == "assumed" && source("source", "a") == "declared")
        #expect(shown.first { Set([$0.fromNode, $0.toNode]) == Set(["a", "b"]) }?.bandwidthBytesPerSecond == 2e8)
        // b comes back at another address: its links are measured again.
        var moved = Self.registration("b")
        moved.address = "127.0.0.1:2999"
        _ = try state.register(moved)
        #expect(state.linksToMeasure().first { $0.from.id == "a" }?.to.map(\.address) == ["127.0.0.1:2999"])
    }

    /// Prompts do not flood a slow link: with a 2 s window on 10 kB/s links, a 100-token prompt
    /// (hidden 64: 13.2 kB) takes each pipeline's a → b or c → d link, the next request
    /// waits in the queue with the reason, and the first token of one of them admits it.
    @Test func promptsWaitForRoomOnSlowLinks() async throws {
        var settings = SchedulerSettings()
        settings.declaredLinks = [ClusterLink(fromNode: "a", toNode: "b", bandwidthBytesPerSecond: 1e4),
                                  ClusterLink(fromNode: "c", toNode: "d", bandwidthBytesPerSecond: 1e4)]
        let state = ClusterState(model: ModelInfo(name: "tiny", numLayers: 4, hiddenSize: 64, vocabSize: 256), settings: settings)
        for id in ["a", "b", "c", "d"] { _ = try state.register(Self.registration(id, kv: 1_000_000)) }
        _ = state.apply(Plan(epoch: 1, assignments: ["a": 0..<2, "b": 2..<4, "c": 0..<2, "d": 2..<4],
                             arcs: [PlanArc(from: "source", to: "a", flow: 10), PlanArc(from: "source", to: "c", flow: 10),
                                    PlanArc(from: "a", to: "b", flow: 10), PlanArc(from: "c", to: "d", flow: 10),
                                    PlanArc(from: "b", to: "sink", flow: 10), PlanArc(from: "d", to: "sink", flow: 10)]))
        Self.serve(state, ["a", "b", "c", "d"])
        #expect(try state.tryAdmit("r0", prompt: 100, maxTokens: 10).get().map(\.workerID) == ["a", "b"])
        #expect(try state.tryAdmit("r1", prompt: 100, maxTokens: 10).get().map(\.workerID) == ["c", "d"])
        #expect(state.promptBytesByLink[.init(from: "a", to: "b")] == 13_200)
        guard case .failure(let refusal) = state.tryAdmit("r2", prompt: 100, maxTokens: 10) else { Issue.record("flooded a slow link"); return }
        #expect(refusal.description.contains("carries its share of prompts"), "\(refusal)")
        let waiting = Task { try await state.waitForTest("r2", prompt: 100, maxTokens: 10) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(state.queuePosition("r2") == 0)
        state.promptThrough("r0")   // r0 decodes on: its KV stays, its prompt is off the link
        #expect(try await waiting.value.map(\.workerID) == ["a", "b"])
        #expect(state.ledger.requests(on: "a").sorted() == ["r0", "r2"])
        state.release("r1")
        #expect(state.promptBytesByLink[.init(from: "c", to: "d")] == nil)
    }

    /// A cluster file names each link once, by its two ends; prompts cross it either way, and the
    /// window caps both (the simulator, placement and the emulated workers take a link both ways).
    @Test func aLinkDeclaredOnceCapsPromptsBothWays() throws {
        var settings = SchedulerSettings()
        settings.declaredLinks = [ClusterLink(fromNode: "b", toNode: "a", bandwidthBytesPerSecond: 1e4)]
        let state = ClusterState(model: ModelInfo(name: "tiny", numLayers: 4, hiddenSize: 64, vocabSize: 256), settings: settings)
        for id in ["a", "b"] { _ = try state.register(Self.registration(id, kv: 1_000_000)) }
        _ = state.apply(Plan(epoch: 1, assignments: ["a": 0..<2, "b": 2..<4],
                             arcs: [PlanArc(from: "source", to: "a", flow: 10), PlanArc(from: "a", to: "b", flow: 10), PlanArc(from: "b", to: "sink", flow: 10)]))
        Self.serve(state, ["a", "b"])
        // 100 tokens of 132 bytes: 13,200 bytes a prompt, against 2 s x 10 kB/s = 20,000.
        #expect(try state.tryAdmit("r0", prompt: 100, maxTokens: 10).get().map(\.workerID) == ["a", "b"])
        guard case .failure(let refusal) = state.tryAdmit("r1", prompt: 100, maxTokens: 10) else {
            Issue.record("a second prompt went onto a -> b past its window: only b -> a, as declared, was capped"); return
        }
        #expect(refusal.description.contains("carries its share of prompts"), "\(refusal)")
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
