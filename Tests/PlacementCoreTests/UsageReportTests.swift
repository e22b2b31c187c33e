import Foundation
import Testing
@testable import PlacementCore

@Suite struct UsageReportTests {
    /// A short offline run reports, for every node holding layers, how busy it was and how full its
    /// KV cache got: busy shares within (0, 1], KV held within capacity (admission keeps the
    /// expectation below 0.85; a query longer than expected may hold a little more).
    @Test func simulationReportsUtilisationAndKVPerNode() throws {
        let problem = try TestData.problem("single24", reference: true)
        let placement = try LayoutFile.load(path: TestData.layout("single24_helix_milp"), nodeCount: problem.nodes.count)
        let workload = try Workload.load(directory: TestData.directory + "/helix/workload")
        var config = SimulationConfig(mode: .offline)
        config.warmupSeconds = 20
        config.measureSeconds = 30
        let report = try Simulator.run(problem: problem, placement: placement, connectivity: .partial, workload: workload, config: config,
                                       dataDirectory: TestData.directory)
        let serving = placement.ranges.indices.filter { placement.ranges[$0] != nil }
        #expect(report.nodes.map(\.node) == serving)
        let routed = FlowScorer.runtimeFlow(problem, placement, .partial).nodeFlows
        for usage in report.nodes {
            #expect(usage.utilisation <= 1 + 1e-9 && usage.kvMean <= usage.kvPeak + 1e-12 && usage.kvPeak <= 1 + 1e-9, "\(usage)")
            if routed[usage.node] > 0.05 * (routed.max() ?? 0) { #expect(usage.utilisation > 0.01 && usage.kvPeak > 0, "\(usage)") }
        }
        #expect(report.nodeTable.split(separator: "\n").count == serving.count + 1)
        // Every decode step starts at a node holding layer 0, once: their decode steps per second
        // are the decode rate (up to the steps in flight at the window's edges, ~one 2 s lap of 30 s).
        let firstStages = report.nodes.filter { placement.ranges[$0.node]?.start == 0 }
        let decodeSteps = firstStages.reduce(0) { $0 + $1.batchesPerSecond * $1.meanBatchDecodes }
        #expect(!firstStages.isEmpty && abs(decodeSteps / report.decodeTokensPerSecond - 1) < 0.1, "\(decodeSteps) vs \(report.decodeTokensPerSecond)")
        #expect(report.nodes.allSatisfy { $0.batchesPerSecond == 0 || $0.meanBatchTokens >= $0.meanBatchDecodes }, "\(report.nodes)")
        // A decode at a first stage runs all of its layers, so it spends at least their decode time
        // at the profile's fastest batch there; and a hop is a part of a decode step, so its mean is
        // below the steps' mean.
        let profiles = try GPUProfile.loadAll(problem: problem, dataDirectory: TestData.directory)
        let stepMean = try #require(report.decodeLatency["mean"])
        for usage in firstStages {
            let profile = try #require(profiles[usage.type])
            let fastest = try #require(profile.decode.points.first { $0.tokens > 0 }).seconds
            #expect(usage.meanDecodeSeconds >= Double(usage.layers) * fastest && usage.meanDecodeSeconds < stepMean, "\(usage), step \(stepMean)")
        }
        #expect(report.nodes.allSatisfy { $0.batchesPerSecond == 0 || ($0.meanDecodeSeconds > 0 && $0.meanDecodeSeconds < stepMean) }, "\(report.nodes)")
    }

    /// The drawing joins pipeline stages: one line per node-to-node arc that carries flow.
    @Test func drawingShowsPipelinesAndUtilisation() throws {
        let problem = try TestData.problem("single24", reference: true)
        let placement = try LayoutFile.load(path: TestData.layout("single24_helix_milp"), nodeCount: problem.nodes.count)
        let result = Planner.score(problem, placement, .partial)
        let stages = result.flows.arcFlows.filter { Int($0.from) != nil && Int($0.to) != nil }.count
        let svg = PlacementDrawing.svg(problem: problem, result: result, utilisation: [0: 0.5])
        #expect(stages > 0)
        #expect(svg.components(separatedBy: "<line").count - 1 == stages + 9)  // + the 9 grid lines (layers 0, 10, …, 80)
        #expect(svg.contains("busy 50%"))
    }
}
