import Wire

/// One value of every service message with every field away from its default (oneofs: each case
/// in some sample). The cross-language test checks in Python that no field was left at default.
enum Samples {
    static let point = LatencyPoint(tokens: 4, seconds: 0.00025)
    static let measured = MeasuredProfile(prompt: [LatencyPoint(tokens: 8, seconds: 0.0015), LatencyPoint(tokens: 32, seconds: 0.004)],
                                          decode: [LatencyPoint(tokens: 1, seconds: 0.0001), point], maxLayers: 14, kvCapacityEntries: 57_344)
    static let node = ClusterNode(
        name: "a100-0", gpuType: "A100-40G", gpuCount: 2, gpuMemoryBytes: 42_949_672_960,
        nicInBytesPerSecond: 1.25e9, nicOutBytesPerSecond: 1.0e9, region: "us-east", measured: measured)
    static let link = ClusterLink(
        fromNode: "source", toNode: "a100-0", bandwidthBytesPerSecond: 1e9, latencySeconds: 0.001, oneWay: true)
    static let cluster = Cluster(
        name: "single24", nodes: [node, ClusterNode(name: "t4-1", gpuType: "T4", gpuCount: 1, gpuMemoryBytes: 16 << 30,
                                                   nicInBytesPerSecond: 5e8, nicOutBytesPerSecond: 5e8, region: "eu", measured: measured)],
        links: [link, ClusterLink(fromNode: "a100-0", toNode: "t4-1", bandwidthBytesPerSecond: 1.25e8, latencySeconds: 0.05, oneWay: false)],
        fileText: "[NodeNames]\ntotal_compute_nodes=2\n", fileFormat: .helixIni)
    static let model = ModelSpec(name: "llama2-70b", configJSON: #"{"num_hidden_layers": 80, "hidden_size": 8192}"#)
    static let range = NodeRange(node: 3, nodeName: "t4-3", start: 7, end: 11)
    static let layout = Layout(ranges: [range, NodeRange(node: 0, nodeName: "a100-0", start: 0, end: 7)],
                               fileText: "[Solution]\ncompute_node_3=[7, 8, 9, 10]\n")
    static let flow = ArcFlow(fromNode: "a100-0", toNode: "sink", tokensPerSecond: 1289.56, capacityTokensPerSecond: 4.2e5)
    static let progress = PlanProgress(elapsedSeconds: 12.5, bestObjective: 1612.3, bound: 2210.9, gap: 0.371, phase: "milp")
    static let solveStats = SolveStats(
        solveSeconds: 59.8, methodUsed: "milp(warm: heuristic)", stopReason: "budget", milpNodes: 123_456,
        lpIterations: 9_876_543, heuristicMoves: 31_337, variables: 4_321, constraints: 8_765, linksPruned: 97)
    static let planResult = PlanResult(
        placement: [range], flows: [flow, ArcFlow(fromNode: "source", toNode: "a100-0", tokensPerSecond: 7.5, capacityTokensPerSecond: 5e8)],
        objectiveTokensPerSecond: 1612.3, upperBoundTokensPerSecond: 2210.9, gap: 0.371, stats: solveStats)
    static let latency = LatencySummary(
        count: 16_657, meanSeconds: 1.5, p50Seconds: 1.2, p90Seconds: 2.5, p95Seconds: 3.25, p99Seconds: 6.5, maxSeconds: 11.75)
    static let layers = LayerRange(start: 20, end: 40)
    static let modelInfo = ModelInfo(
        name: "tiny", modelDir: "/var/lib/lattice/models/tiny", numLayers: 8, hiddenSize: 256, vocabSize: 32_000,
        numHeads: 8, numKVHeads: 2, bosTokenID: 1, eosTokenID: 2)
    static let sampling = SamplingParams(greedy: true, temperature: 0.75, topP: 0.875, seed: 0xDEAD_BEEF_CAFE, topK: 40)
    static let workerStats = WorkerStats(
        layers: layers, kvUsedEntries: 123_456, kvCapacityEntries: 9_000_000, activeRequests: 17, queuedItems: 3,
        meanBatchTokens: 24.5, prefillTokensPerSecond: 4_096.25, decodeTokensPerSecond: 812.5, forwardCalls: 100_000,
        forwardRejected: 4, weightBytes: 5_000_000, kvBytes: 6_000)
    static let token = GenerateToken(tokenID: 31_999, text: "héllo ✓", index: 5, logprob: -0.125)
    static let finished = GenerateFinished(
        reason: .maxTokens, promptTokens: 763, generatedTokens: 232, queueSeconds: 0.25, firstTokenSeconds: 0.5,
        totalSeconds: 9.75, decodeTokensPerSecond: 25.5, detail: "route w1 -> w2", route: ["w1", "w2"])
    static let hidden = HiddenStates(data: [0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B], dtype: .float16, shape: [1, 3])
    static let hop = RouteHop(address: "10.0.0.7:7001", start: 40, end: 80, workerID: "w7")
    static let forwardItem = ForwardItem(
        requestID: "req-42", positions: [0, 1, 2], tokenIDs: [1, 15_043, 3_186], hidden: hidden, start: 20, end: 40,
        route: [hop, RouteHop(address: "[::1]:7002", start: 80, end: 80, workerID: "w8")], replyTo: "127.0.0.1:7000",
        sampling: sampling, prefill: true, step: 9, loop: [RouteHop(address: "10.0.0.1:7001", start: 10, end: 20, workerID: "w1"), hop],
        maxNewTokens: 64, stopTokenIDs: [2, 128_001], routeHeld: true, hopSeconds: [0.125, 0.0625])
    static let forwardResult = ForwardResult(requestID: "req-42", tokenID: 29_871, logprob: -2.5, position: 3, step: 9,
                                             error: "kv full on w7", hopSeconds: [0.25, 0.5])
    static let loadResult = LoadLayersResult(
        loaded: layers, model: modelInfo, weightBytes: 3 << 30, memoryBytes: 5 << 30, kvCapacityEntries: 1_234_567,
        loadSeconds: 2.25, firstStage: true, lastStage: true)
    static let gateCount = GateCount(gate: "cx", count: 1_024)
    static let optimizeResult = OptimizeResult(
        qasm: "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncx q[0],q[1];\n",
        countsBefore: [gateCount, GateCount(gate: "rz", count: 77)], countsAfter: [GateCount(gate: "h", count: 3)],
        costBefore: 1_101, costAfter: 803, seconds: 10.5, verdict: .verifiedSimulation,
        verdictDetail: "64 random states, max deviation 3e-12", qubits: 24, methodUsed: "search")

    /// Every sample, as the existential the catalog works with.
    static let all: [any CBridged] = [
        point, measured,
        node, link, cluster, model, range, layout, flow,
        PlanRequest(cluster: cluster, model: model, method: .separatePipelines, budgetSeconds: 60, seed: 7, variant: .strict, objective: .flow, maxEvaluations: 40),
        progress, solveStats, planResult,
        PlanEvent(event: .progress(progress)), PlanEvent(event: .result(planResult)),
        SimulateRequest(
            cluster: cluster, model: model, layout: layout, method: .swarm, planBudgetSeconds: 30, mode: .online,
            routing: .shortestQueue, warmupSeconds: 60, durationSeconds: 600, arrivalTokensPerSecond: 1_500, seed: 3,
            variant: .strict),
        latency,
        SimulateResponse(
            decodeTokensPerSecond: 1_207.5, promptTokensPerSecond: 3_950.25, promptLatency: latency,
            decodeLatency: LatencySummary(count: 5, meanSeconds: 0.5, p50Seconds: 0.25, p90Seconds: 0.75, p95Seconds: 1,
                                          p99Seconds: 1.5, maxSeconds: 2),
            requestsFinished: 2_400, decodeTokens: 556_800, simulatedSeconds: 600, wallSeconds: 12.5, layout: layout),
        ScoreRequest(cluster: cluster, model: model, layout: layout, variant: .strict),
        ScoreResponse(objectiveTokensPerSecond: 1_289.56, upperBoundTokensPerSecond: 2_000.5, flows: [flow], placement: [range]),

        RegisterWorkerRequest(
            workerID: "w7", address: "10.0.0.7:7001", backend: .emulated, gpuType: "L4", memoryBytes: 24 << 30,
            layerCapacity: 7, kvCapacityEntries: 2_000_000, region: "us-west", nicInBytesPerSecond: 1.25e9,
            nicOutBytesPerSecond: 1.0e9, profile: measured),
        RegisterWorkerResponse(assignment: layers, model: modelInfo, planEpoch: 12, heartbeatIntervalSeconds: 0.5),
        HeartbeatRequest(workerID: "w7", stats: workerStats, planEpoch: 12),
        DeregisterWorkerRequest(workerID: "w7", draining: true),
        MeasureLinksRequest(addresses: ["10.0.0.8:7001", "10.0.0.9:7001"], probeBytes: 262_144),
        LinkMeasurement(address: "10.0.0.9:7001", latencySeconds: 0.0004, bandwidthBytesPerSecond: 9.5e8, error: "not measured: probe timed out"),
        MeasureLinksResponse(links: [LinkMeasurement(address: "10.0.0.8:7001", latencySeconds: 0.002, bandwidthBytesPerSecond: 1.2e9,
                                                     error: "the peer received 10 of 65536 probe bytes")]),
        ProbeRequest(payload: [1, 2, 3, 4]), ProbeResponse(receivedBytes: 4),
        DeregisterWorkerResponse(known: true, activeRequests: 3),
        HeartbeatResponse(known: true, reassigned: true, assignment: layers, model: modelInfo, planEpoch: 13),
        GenerateRequest(
            prompt: "Once upon a time", promptTokenIDs: [1, 9_038, 2_501], maxTokens: 128, sampling: sampling,
            deadlineMs: 30_000, requestID: "client-1", stopTokenIDs: [13, 29_889], ignoreEOS: true, chat: true),
        GenerateQueued(queuePosition: 4, reason: "every route is out of KV room"), token, finished,
        GenerateEvent(requestID: "req-42", event: .queued(GenerateQueued(queuePosition: 2, reason: "no plan covers the model yet"))),
        GenerateEvent(requestID: "req-42", event: .token(token)),
        GenerateEvent(requestID: "req-42", event: .finished(finished)),
        CancelRequest(requestID: "req-42"), CancelResponse(found: true),
        ClusterStatusRequest(),
        WorkerStatus(
            workerID: "w7", address: "10.0.0.7:7001", backend: .emulated, gpuType: "L4", layers: layers, health: .suspect,
            kvUsedEntries: 5_000, kvCapacityEntries: 2_000_000, activeRequests: 6, lastHeartbeatAgeSeconds: 1.75),
        ClusterStatusResponse(
            workers: [WorkerStatus(workerID: "w1", address: "127.0.0.1:7001", backend: .emulated, gpuType: "T4",
                                   layers: LayerRange(start: 1, end: 4), health: .serving, kvUsedEntries: 1,
                                   kvCapacityEntries: 2, activeRequests: 1, lastHeartbeatAgeSeconds: 0.1)],
            flows: [flow], queueLength: 3, activeRequests: 9, planEpoch: 4, objectiveTokensPerSecond: 812.5, model: modelInfo,
            links: [LinkStatus(fromNode: "w1", toNode: "w2", bandwidthBytesPerSecond: 1.25e9, latencySeconds: 0.0002, source: "measured")]),
        LinkStatus(fromNode: "source", toNode: "w1", bandwidthBytesPerSecond: 1e9, latencySeconds: 0.001, source: "declared"),

        layers, modelInfo, sampling,
        LoadLayersRequest(modelDir: "/models/tiny", modelName: "llama2-70b", start: 4, end: 12, backend: .emulated, gpuType: "T4x2"),
        LoadProgress(layersLoaded: 3, layersTotal: 8, bytesLoaded: 1 << 30, elapsedSeconds: 0.75, phase: "reading"),
        loadResult,
        LoadLayersEvent(event: .progress(LoadProgress(layersLoaded: 1, layersTotal: 2, bytesLoaded: 5, elapsedSeconds: 0.5,
                                                      phase: "converting"))),
        LoadLayersEvent(event: .result(loadResult)),
        hidden, hop, forwardItem,
        ForwardRequest(items: [forwardItem, ForwardItem(requestID: "req-43", positions: [7], tokenIDs: [99], step: 1)]),
        ForwardResponse(accepted: 2, kvUsedEntries: 4_096),
        forwardResult,
        ForwardResultRequest(results: [forwardResult, ForwardResult(requestID: "req-43", tokenID: 5)]),
        ForwardResultResponse(),
        ReleaseRequest(requestIDs: ["req-42", "req-43"]),
        ReleaseResponse(released: 2, kvUsedEntries: 1_000),
        workerStats,

        OptimizeRequest(
            qasm: "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[3];\nccx q[0],q[1],q[2];\n", gateSet: .cliffordT,
            cost: .depth, budgetSeconds: 10, method: "search", seed: 11, threads: 2),
        OptimizeProgress(elapsedSeconds: 2.5, bestCost: 803, currentCost: 811, circuitsExplored: 65_536, phase: "search"),
        gateCount, optimizeResult,
        OptimizeEvent(event: .progress(OptimizeProgress(elapsedSeconds: 1, bestCost: 2, currentCost: 3, circuitsExplored: 4,
                                                        phase: "verify"))),
        OptimizeEvent(event: .result(optimizeResult)),
    ]
}
