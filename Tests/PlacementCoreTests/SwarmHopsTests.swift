import Testing
@testable import PlacementCore

/// Swarm in the simulator's artifact mode picks each hop as the prompt leaves a node, as the Helix
/// artifact's Swarm scheduler does; in the live-like mode (batched hops) it routes whole at
/// admission, as our live scheduler must.
@Suite struct SwarmHopsTests {
    /// Node a [0,1) then b or c [1,2); every link 10 ms. The source → a link takes one 10-token
    /// prompt's token ids (20 bytes) a second, so prompts leave a about 1 s apart; a → b is fast,
    /// a → c carries a prompt's activations (10 × 1002 bytes) in 1 s. Each node computes a prompt
    /// in 10 ms (1 ms a token). Returns where the first eight queries' prompts went after a.
    static func run(_ hops: HopMessages) throws -> [String] {
        let model = ModelSpec(name: "tiny", profileName: "tiny", numLayers: 2, hiddenSize: 500, layerParamBytes: 1)
        let nodes = ["a", "b", "c"].map {
            PlacementProblem.Node(name: $0, type: "X", region: nil, throughput: [1000], kvCapacity: [100_000], promptMaxRequests: [2],
                                  nicInBytesPerSecond: 1e12, nicOutBytesPerSecond: 1e12)
        }
        func arc(_ from: Endpoint, _ to: Endpoint, _ bandwidth: Double) -> PlacementProblem.Arc {
            PlacementProblem.Arc(from: from, to: to, bandwidthBytesPerSecond: bandwidth, latencySeconds: 0.01)
        }
        let problem = PlacementProblem(clusterName: "fork", model: model, nodes: nodes,
                                       arcs: [arc(.source, .node(0), 20), arc(.node(0), .node(1), 1e9), arc(.node(0), .node(2), 1e4),
                                              arc(.node(1), .sink, 1e9), arc(.node(2), .sink, 1e9)])
        let placement = Placement(ranges: [LayerRange(start: 0, end: 1), LayerRange(start: 1, end: 2), LayerRange(start: 1, end: 2)])
        var config = SimulationConfig(mode: .offline, routing: .swarm)
        config.artifactQueries = 8
        config.warmupSeconds = 0
        config.measureSeconds = 9
        config.hopMessages = hops
        var engine = try SimulationEngine(problem: problem, placement: placement, flows: FlowScorer.runtimeFlow(problem, placement, .strict),
                                          connectivity: .strict, workload: Workload(inputLengths: [10], outputLengths: [0], arrivalTrace: []),
                                          config: config, profiles: ["X": NodeBatchTests.profile])
        engine.run()
        // The second hop of the first eight queries (all admitted, 0.1 s apart, before any hop time is back).
        return engine.requests.prefix(8).map { $0.route.count == 2 ? ["a", "b", "c"][$0.route[1]] : "unrouted" }
    }

    /// Per hop: the first leaves a at ~1.02 s for b (a tie goes to the lower index) and its hop
    /// into b (~0.02 s) is averaged in at ~1.04 s (0.8 × 0.02 + 0.2 × 0.05 = 0.026); the second
    /// goes to c (priority 0.05 < b's 0.10), its hop (~1.02 s, average 0.83) back at ~3.04 s;
    /// the third finds a tie (0.10 each) and takes b (0.126 after); the fourth takes c (0.10), which
    /// moves c to 0.93; b's priority then rises 0.026 a pick and the rest go to b. Whole at
    /// admission, all eight are routed before the first hop time is back and alternate.
    @Test func swarmPicksEachHopAsThePromptLeavesInTheArtifactMode() throws {
        #expect(try Self.run(.request) == ["b", "c", "b", "c", "b", "b", "b", "b"])
        #expect(try Self.run(.batch) == ["b", "c", "b", "c", "b", "c", "b", "c"])
    }

    /// A prompt the next stage cannot take (3000 tokens; a takes 2 × 2048 a batch, b only 1 × 2048)
    /// is refused when it leaves a, as a whole route would have been at admission: what it held on
    /// a is freed and it is not replaced, so with two queries in flight both are refused and the
    /// run goes quiet.
    @Test func aPromptNoNextNodeTakesIsRefusedWhereItStands() throws {
        let model = ModelSpec(name: "tiny", profileName: "tiny", numLayers: 2, hiddenSize: 500, layerParamBytes: 1)
        let nodes = [("a", 2), ("b", 1)].map {
            PlacementProblem.Node(name: $0.0, type: "X", region: nil, throughput: [1000], kvCapacity: [100_000], promptMaxRequests: [$0.1],
                                  nicInBytesPerSecond: 1e12, nicOutBytesPerSecond: 1e12)
        }
        let arcs = [(Endpoint.source, Endpoint.node(0)), (.node(0), .node(1)), (.node(1), .sink)].map {
            PlacementProblem.Arc(from: $0.0, to: $0.1, bandwidthBytesPerSecond: 1e9, latencySeconds: 0.001)
        }
        let problem = PlacementProblem(clusterName: "narrow", model: model, nodes: nodes, arcs: arcs)
        let placement = Placement(ranges: [LayerRange(start: 0, end: 1), LayerRange(start: 1, end: 2)])
        var config = SimulationConfig(mode: .offline, routing: .swarm)
        config.artifactQueries = 2
        config.warmupSeconds = 0
        config.measureSeconds = 30
        var engine = try SimulationEngine(problem: problem, placement: placement, flows: FlowScorer.runtimeFlow(problem, placement, .strict),
                                          connectivity: .strict, workload: Workload(inputLengths: [3000], outputLengths: [1], arrivalTrace: []),
                                          config: config, profiles: ["X": NodeBatchTests.profile])
        engine.run()
        #expect(engine.requests.count == 2 && engine.rejected == 2)
        #expect(engine.requests.allSatisfy { $0.route == [0] })
        #expect(engine.kvHeld == [0, 0] && engine.promptLatencies.isEmpty)
    }

    /// Per-hop routes leave nothing reserved or held along the route at admission, which batched
    /// hops, a closed loop and the prompt window need: asked for together, they are refused.
    @Test func perHopRoutesNeedTheArtifactsMode() {
        var config = SimulationConfig(mode: .offline, routing: .swarm)
        config.swarmRoutes = .perHop
        #expect(throws: Never.self) { try config.validate() }
        config.hopMessages = .batch
        #expect(throws: PlacementError.self) { try config.validate() }
        config.hopMessages = .request
        config.offlineQueries = 4
        #expect(throws: PlacementError.self) { try config.validate() }
    }
}
