import Foundation
import Testing
@testable import PlacementCore

@Suite struct SimulatorTests {
    @Test func offlineSimulationOfPublishedLayoutIsNearPublished() throws {
        let problem = try TestData.problem("single24", reference: true)
        let placement = try LayoutFile.load(path: TestData.layout("single24_helix_milp"), nodeCount: problem.nodes.count)
        let workload = try Workload.load(directory: TestData.directory + "/helix/workload")
        var config = SimulationConfig(mode: .offline)
        config.measureSeconds = 120
        let report = try Simulator.run(problem: problem, placement: placement, connectivity: .partial, workload: workload, config: config,
                                       dataDirectory: TestData.directory)
        // The artifact's simulator gives 252.1 decode tokens/s (600 s window); ours must be in its neighbourhood.
        #expect(report.decodeTokensPerSecond > 150 && report.decodeTokensPerSecond < 350, "\(report.decodeTokensPerSecond)")
        #expect((report.decodeLatency["p50"] ?? 0) > 0)
    }

    @Test(arguments: RoutingPolicy.allCases)
    func everyRoutingPolicyServes(policy: RoutingPolicy) throws {
        let problem = try TestData.problem("single24", reference: true)
        let placement = try LayoutFile.load(path: TestData.layout("single24_helix_milp"), nodeCount: problem.nodes.count)
        let workload = try Workload.load(directory: TestData.directory + "/helix/workload")
        var config = SimulationConfig(mode: .online, routing: policy)
        config.measureSeconds = 60
        let report = try Simulator.run(problem: problem, placement: placement, connectivity: .partial, workload: workload, config: config,
                                       dataDirectory: TestData.directory)
        #expect(report.decodeTokensPerSecond > 0)
    }
}
