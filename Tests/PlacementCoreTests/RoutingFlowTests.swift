import Foundation
import Testing
@testable import PlacementCore

/// The flow the runtime routes over: a maximum flow, and of those the one a token crosses fastest.
@Suite struct RoutingFlowTests {
    /// Two ways from a to the sink's single arc (capacity 4): one arc straight there (cost 10) and
    /// three arcs round (cost 1 each). Dinic's level graph fills the one-arc way first; the least-cost
    /// flow sends all 4 round, and a demand of 6 spills the excess 2 onto the direct arc.
    @Test(arguments: [(4.0, 0.0), (6.0, 2.0)])
    func leastCostFlowTakesTheCheapWayFirst(sinkCapacity: Double, direct: Double) {
        func network() -> (FlowNetwork, direct: Int, cost: [Double]) {
            var net = FlowNetwork(vertexCount: 6)
            var cost: [Double] = []
            func arc(_ u: Int, _ v: Int, _ capacity: Double, _ c: Double) -> Int {
                cost.append(c)
                return net.addArc(u, v, capacity: capacity)
            }
            _ = arc(0, 2, 10, 0)
            let straight = arc(2, 5, 10, 10)
            _ = arc(2, 3, 4, 1)
            _ = arc(3, 4, 4, 1)
            _ = arc(4, 5, 4, 1)
            _ = arc(5, 1, sinkCapacity, 0)
            return (net, straight, cost)
        }
        var dinic = network()
        #expect(dinic.0.maxFlow(from: 0, to: 1) == sinkCapacity)
        #expect(dinic.0.flow(onArc: dinic.direct) == sinkCapacity)
        var cheap = network()
        #expect(abs(cheap.0.leastCostMaxFlow(from: 0, to: 1, cost: cheap.cost) - sinkCapacity) < 1e-9)
        #expect(abs(cheap.0.flow(onArc: cheap.direct) - direct) < 1e-9)
    }

    /// Seconds per token summed over the flow: Σ flow × (latency + 1/capacity), as `routingFlow` weighs arcs.
    static func time(_ problem: PlacementProblem, _ placement: Placement, _ flow: FlowResult) -> Double {
        let wire = problem.model.tokenSize + problem.model.activationSize
        var total = 0.0
        for arc in flow.arcFlows {
            guard let link = problem.arcs.first(where: { $0.from.description == arc.from && $0.to.description == arc.to }) else { continue }
            let bytes = arc.from == "source" || arc.to == "sink" ? problem.model.tokenSize : wire
            total += arc.tokensPerSecond * (link.latencySeconds + bytes / link.bandwidthBytesPerSecond)
        }
        for (i, f) in flow.nodeFlows.enumerated() where f > 0 {
            guard let range = placement.ranges[i] else { continue }
            let node = problem.nodes[i]
            total += f * (1 / node.throughput(layers: range.count) + wire / node.nicInBytesPerSecond + wire / node.nicOutBytesPerSecond)
        }
        return total
    }

    /// On geo24's Helix layout, two branches run layers 1-36 into one chain that carries less than
    /// both; the routing flow keeps the maximum flow's value and takes the quicker branch (fewer
    /// cross-region links), where Dinic's flow may split otherwise: its time is no more than Dinic's.
    @Test(arguments: ["single24", "geo24", "cluster42"])
    func routingFlowIsAMaximumFlowOfLeastTime(cluster: String) throws {
        let problem = try TestData.problem(cluster, reference: true)
        let placement = try LayoutFile.load(path: TestData.layout("\(cluster)_helix_milp"), nodeCount: problem.nodes.count)
        let dinic = FlowScorer.runtimeFlow(problem, placement, .strict)
        let routed = FlowScorer.routingFlow(problem, placement, .strict)
        #expect(abs(routed.value - dinic.value) < 1e-6 * dinic.value, "\(routed.value) vs \(dinic.value)")
        let out = routed.arcFlows.filter { $0.from == "source" }.reduce(0) { $0 + $1.tokensPerSecond }
        #expect(abs(out - routed.value) < 1e-6 * routed.value)
        for (i, flow) in routed.nodeFlows.enumerated() {
            let inflow = routed.arcFlows.filter { $0.to == "\(i)" }.reduce(0) { $0 + $1.tokensPerSecond }
            #expect(abs(inflow - flow) < 1e-6 * routed.value)
        }
        #expect(Self.time(problem, placement, routed) <= Self.time(problem, placement, dinic) * (1 + 1e-9))
    }
}
