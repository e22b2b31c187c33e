import Foundation
import Testing
@testable import PlacementCore

/// The serving model's prompt latency under the offline feeder's closed population of prompts,
/// by hand on a two-node chain.
@Suite struct PromptQueueingTests {
    /// a → b over a 400 kB/s link: a 100-token prompt's activations (1000 bytes a token) hold it
    /// 100 × 1000 / 4e5 = 0.25 s, more than either node's one layer (100 tokens at 1 ms a token:
    /// 0.1 s) or the source link (100 × 2 / 1e6). With 20 prompts in flight the link completes
    /// one every 0.25 s, so a prompt takes 20 × 0.25 = 5 s; alone, it takes its path. Nodes serve
    /// 300 tokens/s, so the flow (300) loads the link to 0.75, not to its capacity (400).
    static func slowLinkChain() throws -> ServingModel {
        func node(_ name: String) -> PlacementProblem.Node {
            PlacementProblem.Node(name: name, type: "X", region: nil, throughput: [300], kvCapacity: [100_000], promptMaxRequests: [2],
                                  nicInBytesPerSecond: 1e12, nicOutBytesPerSecond: 1e12)
        }
        func arc(_ from: Endpoint, _ to: Endpoint, _ bandwidth: Double) -> PlacementProblem.Arc {
            PlacementProblem.Arc(from: from, to: to, bandwidthBytesPerSecond: bandwidth, latencySeconds: 0.01)
        }
        let problem = PlacementProblem(clusterName: "slow-link", model: SimulatorModelTests.model, nodes: [node("a"), node("b")],
                                       arcs: [arc(.source, .node(0), 1e6), arc(.node(0), .node(1), 4e5), arc(.node(1), .sink, 1e6)])
        var model = try ServingModel(problem: problem, connectivity: .strict, profiles: ["X": NodeBatchTests.profile])
        model.meanInput = 100
        model.meanOutput = 3
        return model
    }

    static let placement = Placement(ranges: [LayerRange(start: 0, end: 1), LayerRange(start: 1, end: 2)])

    @Test func twentyPromptsQueueOnTheSlowLink() throws {
        var model = try Self.slowLinkChain()
        #expect(abs(model.predict(Self.placement).promptLatencySeconds - 5.0) < 1e-9)
        model.promptPopulation = 1
        let alone = model.predict(Self.placement).promptLatencySeconds
        // The path: both nodes' layer (0.1 s each), the slow link (0.25 s), three link latencies, and
        // the M/G/1 wait behind prompts at 0.75 load, (300/103) · 0.25² / (2 · 0.25) = 0.364 s.
        #expect(alone >= 0.45 + 0.03 + 0.364 - 1e-3 && alone < 1, "alone \(alone)")
    }

    /// Demand adds up per resource; the busiest one bounds the population's latency.
    @Test func theBusiestResourceBoundsTheLatency() {
        var demand = PromptDemand()
        demand.add(node: 0, seconds: 0.2)
        demand.add(node: 0, seconds: 0.1)
        demand.add(link: 7, seconds: 0.25)
        #expect(abs(demand.bottleneck - 0.3) < 1e-12)
        #expect(abs(demand.latency(path: 1.0, population: 20) - 6.0) < 1e-12)
        #expect(demand.latency(path: 1.0, population: 2) == 1.0, "0.6 s of queueing is less than the path")
        #expect(PromptDemand().latency(path: 0.5, population: 20) == 0.5)
    }
}
