import DeterministicRandom
@testable import PlacementCore
import Routing
import SchedulerCore
import Testing
import Wire

/// The live scheduler and the simulator's live-like mode route Swarm with the same code at the same
/// moment (the whole route at admission, `Router.route`): given the same layout, admissions and hop times,
/// they pick the same hops. Two stages of two nodes each: a choice at the source and at the middle.
@Suite struct SwarmParityTests {
    static let names = ["a", "b", "c", "d"]
    static let ranges = [0..<2, 0..<2, 2..<4, 2..<4]

    /// The simulator's engine on the layout (nodes by index in `names` order, every link present),
    /// in its live-like mode (batched hops), where Swarm routes whole at admission as live serving does.
    static func simulator(names: [String] = names, ranges: [Range<Int>] = ranges) throws -> SimulationEngine {
        let model = ModelSpec(name: "tiny", profileName: "tiny", numLayers: 4, hiddenSize: 8, layerParamBytes: 1)
        let nodes = names.map {
            PlacementProblem.Node(name: $0, type: "X", region: nil, throughput: [1000, 1000], kvCapacity: [1 << 30, 1 << 30], promptMaxRequests: [1, 1],
                                  nicInBytesPerSecond: 1e12, nicOutBytesPerSecond: 1e12)
        }
        let inner: [Endpoint] = names.indices.map { .node($0) }
        let arcs = ([.source] + inner).flatMap { from in
            (inner + [.sink]).filter { $0 != from }.map { PlacementProblem.Arc(from: from, to: $0, bandwidthBytesPerSecond: 1e9, latencySeconds: 0.001) }
        }
        let problem = PlacementProblem(clusterName: "parity", model: model, nodes: nodes, arcs: arcs)
        var liveLike = SimulationConfig(mode: .offline, routing: .swarm)
        liveLike.hopMessages = .batch
        let placement = Placement(ranges: ranges.map { LayerRange(start: $0.lowerBound, end: $0.upperBound) })
        let profile = GPUProfile(type: "X", prompt: LatencyCurve(points: [(0, 0), (1000, 1.0)]), decode: LatencyCurve(points: [(0, 0), (100, 0.1)]),
                                 capacity: GPUCapacityTable(maxLayers: 2, kvCapacity: [1 << 30, 1 << 30], promptMaxRequests: [1, 1]))
        return try SimulationEngine(problem: problem, placement: placement, flows: FlowScorer.runtimeFlow(problem, placement, .strict),
                                    connectivity: .strict, workload: Workload(inputLengths: [10], outputLengths: [10], arrivalTrace: []),
                                    config: liveLike, profiles: ["X": profile])
    }

    @Test func liveAndSimulatedSwarmPickTheSameHops() throws {
        var settings = SchedulerSettings()
        settings.routing = .swarm
        let live = ClusterState(model: ModelInfo(name: "tiny", numLayers: 4, vocabSize: 256), settings: settings)
        for id in Self.names { _ = try live.register(ClusterStateTests.registration(id, kv: 1_000_000)) }
        _ = live.apply(Plan(epoch: 1, assignments: Dictionary(uniqueKeysWithValues: zip(Self.names, Self.ranges)), arcs: []))
        ClusterStateTests.serve(live, Self.names)
        var sim = try Self.simulator()

        var rng = SplitMix64(seed: 7)
        var liveRoutes: [[String]] = [], simRoutes: [[String]] = []
        for i in 0..<40 {
            liveRoutes.append(try live.tryAdmit("r\(i)", prompt: 10, maxTokens: 10).get().map(\.workerID))
            sim.requests.append(.init(input: 10, output: 10))
            let r = sim.requests.count - 1
            let routed = sim.route(r)
            #expect(routed)
            simRoutes.append(sim.requests[r].route.map { Self.names[$0] })
            // The same measured hop times reach both (the simulator's nodeDone observes each hop so).
            let seconds = (0..<2).map { _ in Double(rng.next() % 1000) / 1000 }
            live.observe("r\(i)", hopSeconds: seconds)
            for (hop, t) in seconds.enumerated() { sim.router.observe(sim.requests[r].path, hop: hop, seconds: t) }
            live.release("r\(i)")
        }
        #expect(liveRoutes == simRoutes)
        // The hop times steered the choice: not one fixed route or a plain alternation.
        #expect(Set(liveRoutes).count == 4, "\(Set(liveRoutes))")
    }

    /// Live workers are known by id ("node-<i>" for a cluster file's node i) and simulated nodes by
    /// index: ties must break the same way in both (`NodeOrder`), also past node-9, where the ids'
    /// string order ("node-10" before "node-2") is not the indices' order.
    @Test func tiesBreakInTheSameOrderLiveAndSimulated() throws {
        let names = (0..<12).map { "node-\($0)" }
        let ranges = Array(repeating: 0..<2, count: 6) + Array(repeating: 2..<4, count: 6)
        var settings = SchedulerSettings()
        settings.routing = .swarm
        let live = ClusterState(model: ModelInfo(name: "tiny", numLayers: 4, vocabSize: 256), settings: settings)
        for id in names { _ = try live.register(ClusterStateTests.registration(id, kv: 1_000_000)) }
        _ = live.apply(Plan(epoch: 1, assignments: Dictionary(uniqueKeysWithValues: zip(names, ranges)), arcs: []))
        ClusterStateTests.serve(live, names)
        var sim = try Self.simulator(names: names, ranges: ranges)
        var liveRoutes: [[String]] = [], simRoutes: [[String]] = []
        for i in 0..<12 {
            // No hop time observed: every pick is a tie broken by the order alone.
            liveRoutes.append(try live.tryAdmit("r\(i)", prompt: 10, maxTokens: 10).get().map(\.workerID))
            live.release("r\(i)")
            sim.requests.append(.init(input: 10, output: 10))
            let routed = sim.route(sim.requests.count - 1)
            #expect(routed)
            simRoutes.append(sim.requests[sim.requests.count - 1].route.map { names[$0] })
        }
        #expect(liveRoutes == simRoutes)
        #expect(liveRoutes.prefix(6).map(\.first) == ["node-0", "node-1", "node-2", "node-3", "node-4", "node-5"])
    }
}
