import Testing
@testable import PlacementCore

/// How a node's outputs reach the next (`HopMessages`): one request per transfer, as Helix's
/// simulator sends them (an idle node starts on the first to arrive, alone), or one message for
/// the batch, as a live worker's Forward (the next node batches them together).
@Suite struct BatchedHopsTests {
    /// Two nodes of two layers each, in a chain, five requests in their decode steps.
    static func engine(_ messages: HopMessages) throws -> SimulationEngine {
        let model = ModelSpec(name: "tiny", profileName: "tiny", numLayers: 4, hiddenSize: 8, layerParamBytes: 1)
        let nodes = ["a", "b"].map {
            PlacementProblem.Node(name: $0, type: "X", region: nil, throughput: [1000, 1000], kvCapacity: [1 << 30, 1 << 30], promptMaxRequests: [1, 1],
                                  nicInBytesPerSecond: 1e9, nicOutBytesPerSecond: 1e9)
        }
        let inner: [Endpoint] = [.node(0), .node(1)]
        let arcs = ([.source] + inner).flatMap { from in
            (inner + [.sink]).filter { $0 != from }.map { PlacementProblem.Arc(from: from, to: $0, bandwidthBytesPerSecond: 1e6, latencySeconds: 0.001) }
        }
        let problem = PlacementProblem(clusterName: "chain", model: model, nodes: nodes, arcs: arcs)
        let placement = Placement(ranges: [LayerRange(start: 0, end: 2), LayerRange(start: 2, end: 4)])
        let profile = GPUProfile(type: "X", prompt: LatencyCurve(points: [(0, 0), (1000, 1.0)]), decode: LatencyCurve(points: [(0, 0), (100, 0.1)]),
                                 capacity: GPUCapacityTable(maxLayers: 2, kvCapacity: [1 << 30, 1 << 30], promptMaxRequests: [1, 1]))
        var config = SimulationConfig(mode: .offline, routing: .swarm)
        config.hopMessages = messages
        // The whole route now, in both modes: the decode steps below are set up along it.
        config.swarmRoutes = .admission
        var sim = try SimulationEngine(problem: problem, placement: placement, flows: FlowScorer.runtimeFlow(problem, placement, .strict),
                                       connectivity: .strict, workload: Workload(inputLengths: [10], outputLengths: [10], arrivalTrace: []),
                                       config: config, profiles: ["X": profile])
        for r in 0..<5 {
            sim.requests.append(.init(input: 10, output: 10))
            let routed = sim.route(r)
            #expect(routed)
            sim.requests[r].produced = 3
        }
        // Node a has just run the five requests' decode steps together.
        sim.heap = EventHeap()
        sim.now = 1
        sim.busy[0] = true
        sim.inFlight[0] = (0..<5).map { NodeBatch.Item(request: $0, hop: 0, tokens: 1, isPrompt: false, context: 12, firstLayer: 0) }
        sim.nodeDone(0)
        return sim
    }

    @Test func perRequestTransfersSplitTheBatchAtTheNextNode() throws {
        var sim = try Self.engine(.request)
        var arrivals: [(time: Double, request: Int, hop: Int)] = []
        while let event = sim.heap.pop() {
            guard case .arrive(let r, let hop) = event.kind else { Issue.record("unexpected \(event.kind)"); continue }
            arrivals.append((event.time, r, hop))
        }
        // One transfer after another over the 1 MB/s link, and b starts on the first alone.
        #expect(arrivals.count == 5 && Set(arrivals.map(\.time)).count == 5)
        let first = try #require(arrivals.first)
        sim.now = first.time
        sim.arrive(request: first.request, hop: first.hop)
        #expect(sim.inFlight[1].count == 1)
    }

    @Test func batchedHopsArriveAndRunTogether() throws {
        var sim = try Self.engine(.batch)
        let popped = sim.heap.pop(), next = sim.heap.pop()
        let event = try #require(popped)
        #expect(next == nil)
        guard case .arriveTogether(let arrivals) = event.kind else { Issue.record("expected one message, got \(event.kind)"); return }
        #expect(arrivals.map(\.request) == [0, 1, 2, 3, 4] && arrivals.allSatisfy { $0.hop == 1 })
        // One transfer of the five steps' bytes, then the latency.
        #expect(abs(event.time - (1 + 5 * sim.hopBytes(1) / 1e6 + 0.001)) < 1e-9)
        sim.now = event.time
        sim.arriveTogether(arrivals)
        #expect(sim.inFlight[1].count == 5)
    }
}
