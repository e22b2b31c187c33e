import Foundation
import Testing
@testable import PlacementCore

@Suite struct ScoringTests {
    /// The published Helix MILP objectives, recomputed from the published layouts alone.
    @Test(arguments: [("single24", 1289.56), ("geo24", 1212.18), ("cluster42", 4137.55)])
    func publishedLayoutsScorePublishedObjectives(cluster: String, published: Double) throws {
        // With the artifact's tables and with our own throughput model alike.
        for reference in [true, false] {
            let problem = try TestData.problem(cluster, reference: reference)
            let placement = try LayoutFile.load(path: TestData.layout("\(cluster)_helix_milp"), nodeCount: problem.nodes.count)
            try placement.validate(for: problem)
            for connectivity in Connectivity.allCases {
                let value = FlowScorer.objective(problem, placement, connectivity)
                #expect(abs(value - published) < 0.01, "\(cluster) \(connectivity) reference \(reference): \(value) vs \(published)")
            }
        }
    }

    @Test func upperBoundMatchesPublished() throws {
        let problem = try TestData.problem("single24", reference: true)
        #expect(abs(problem.upperBound - 2803.86) < 0.01, "\(problem.upperBound)")
    }

    /// Flow conservation and capacities hold on the per-arc flows; the runtime graph never beats the MILP graph.
    @Test func arcFlowsAreConsistent() throws {
        let problem = try TestData.problem("single24", reference: true)
        let placement = try LayoutFile.load(path: TestData.layout("single24_helix_milp"), nodeCount: problem.nodes.count)
        let result = FlowScorer.milpFlow(problem, placement, .partial)
        let out = result.arcFlows.filter { $0.from == "source" }.reduce(0) { $0 + $1.tokensPerSecond }
        let sunk = result.arcFlows.filter { $0.to == "sink" }.reduce(0) { $0 + $1.tokensPerSecond }
        #expect(abs(out - result.value) < 1e-6 && abs(sunk - result.value) < 1e-6)
        for (i, flow) in result.nodeFlows.enumerated() {
            let inflow = result.arcFlows.filter { $0.to == "\(i)" }.reduce(0) { $0 + $1.tokensPerSecond }
            let outflow = result.arcFlows.filter { $0.from == "\(i)" }.reduce(0) { $0 + $1.tokensPerSecond }
            #expect(abs(inflow - flow) < 1e-6 && abs(outflow - flow) < 1e-6)
            if let r = placement.ranges[i] { #expect(flow <= problem.nodes[i].throughput(layers: r.count) + 1e-9) }
        }
        let runtime = FlowScorer.runtimeFlow(problem, placement, .partial)
        #expect(runtime.value <= result.value + 1e-6)
        #expect(runtime.value > 0.9 * result.value)
    }

    @Test func maxFlowOnASmallGraph() {
        var net = FlowNetwork(vertexCount: 4)
        let a = net.addArc(0, 2, capacity: 3)
        net.addArc(0, 3, capacity: 2)
        net.addArc(2, 3, capacity: 5)
        net.addArc(2, 1, capacity: 2)
        net.addArc(3, 1, capacity: 3)
        #expect(net.maxFlow(from: 0, to: 1) == 5)
        #expect(net.flow(onArc: a) == 3)
    }
}
