import DeterministicRandom
import Foundation
import Testing
@testable import PlacementCore

@Suite struct SimulatorTests {
    /// Given flows replace the max flow the simulator computes: a and b both hold layer 0, c layer
    /// 1; all flow through a leaves b idle and all through b leaves a idle. An arc naming a node the
    /// cluster lacks is refused, naming the arc.
    @Test func givenFlowsSteerTheRouting() throws {
        let (chain, _) = SimulatorModelTests.chain()
        var nodes = chain.nodes
        nodes.insert(nodes[0], at: 1)
        let link = { (from: Endpoint, to: Endpoint) in PlacementProblem.Arc(from: from, to: to, bandwidthBytesPerSecond: 1e6, latencySeconds: 0.01) }
        let problem = PlacementProblem(clusterName: "fork", model: SimulatorModelTests.model, nodes: nodes,
                                       arcs: [link(.source, .node(0)), link(.source, .node(1)), link(.node(0), .node(2)), link(.node(1), .node(2)), link(.node(2), .sink)])
        let placement = Placement(ranges: [LayerRange(start: 0, end: 1), LayerRange(start: 0, end: 1), LayerRange(start: 1, end: 2)])
        func busy(through first: String) throws -> [Double] {
            var config = SimulationConfig(mode: .offline)
            config.measureSeconds = 20
            config.arcFlows = [ArcFlow(from: "source", to: first, tokensPerSecond: 500), ArcFlow(from: first, to: "2", tokensPerSecond: 500),
                               ArcFlow(from: "2", to: "sink", tokensPerSecond: 500)]
            let report = try Simulator.run(problem: problem, placement: placement, connectivity: .strict,
                                           workload: Workload(inputLengths: [100], outputLengths: [3], arrivalTrace: []),
                                           config: config, profiles: ["X": NodeBatchTests.profile])
            return report.nodes.sorted { $0.node < $1.node }.map(\.utilisation)
        }
        let viaA = try busy(through: "0"), viaB = try busy(through: "1")
        #expect(viaA.count == 3 && viaA[0] > 0.01 && viaA[1] == 0 && viaA[2] > 0.01, "\(viaA)")
        #expect(viaB.count == 3 && viaB[0] == 0 && viaB[1] > 0.01, "\(viaB)")
        do {
            _ = try [ArcFlow(from: "0", to: "5", tokensPerSecond: 1)].replacing(FlowScorer.runtimeFlow(problem, placement, .strict), nodeCount: 3)
            Issue.record("an arc to node 5 of 3 was accepted")
        } catch let error as PlacementError {
            #expect(error.description.contains("0 -> 5"), "\(error)")
        }
    }

    /// geo24's source and sink links take ~50 ms each way. Decode looping on the workers (as the
    /// live runtime does) skips them: each step pays the last hop's link to the first instead,
    /// so steps are shorter and, with as many requests decoding, more tokens come out.
    @Test func decodeOnTheWorkersSkipsTheSourceAndSinkLinks() throws {
        let problem = try TestData.problem("geo24", reference: true)
        let placement = try LayoutFile.load(path: TestData.layout("geo24_helix_milp"), nodeCount: problem.nodes.count)
        let workload = try Workload.load(directory: TestData.directory + "/helix/workload")
        func run(_ loop: DecodeLoop) throws -> SimulationReport {
            var config = SimulationConfig(mode: .offline)
            config.measureSeconds = 240   // past the first prompts' burst, when decode steps dominate
            config.decodeLoop = loop
            return try Simulator.run(problem: problem, placement: placement, connectivity: .partial, workload: workload, config: config,
                                     dataDirectory: TestData.directory)
        }
        let coordinator = try run(.coordinator), workers = try run(.workers)
        let saved = (coordinator.decodeLatency["p50"] ?? 0) - (workers.decodeLatency["p50"] ?? 0)
        // Measured: p50 0.922 s through the coordinator, 0.873 s on the workers; 98.3 and 105.3 tokens/s.
        #expect(saved > 0.02 && saved < 0.2, "decode p50 \(coordinator.decodeLatency["p50"] ?? 0) s through the coordinator, \(workers.decodeLatency["p50"] ?? 0) s on the workers")
        #expect(workers.decodeTokensPerSecond > coordinator.decodeTokensPerSecond,
                "\(workers.decodeTokensPerSecond) decode tokens/s on the workers, \(coordinator.decodeTokensPerSecond) through the coordinator")
    }

    /// Offline IWRR with a number of queries is a closed loop like a live client's: that many
    /// requests in flight (by Little's law, decode tokens/s × mean time per token is about the
    /// number decoding), not the artifact's KV-driven feeder, which runs hundreds more.
    @Test func closedLoopKeepsItsQueriesInFlight() throws {
        let problem = try TestData.problem("single24", reference: true)
        let placement = try LayoutFile.load(path: TestData.layout("single24_helix_milp"), nodeCount: problem.nodes.count)
        var workload = try Workload.load(directory: TestData.directory + "/helix/workload")
        workload.inputLengths = workload.inputLengths.map { min($0, 256) }
        workload.outputLengths = workload.outputLengths.map { min($0, 64) }
        func decoding(_ queries: Int?) throws -> Double {
            var config = SimulationConfig(mode: .offline)
            config.offlineQueries = queries
            config.warmupSeconds = 30
            config.measureSeconds = 60
            let report = try Simulator.run(problem: problem, placement: placement, connectivity: .partial, workload: workload, config: config,
                                           dataDirectory: TestData.directory)
            return report.decodeTokensPerSecond * (report.decodeLatency["mean"] ?? 0)
        }
        let forty = try decoding(40), feeder = try decoding(nil)
        // A query spends one of its ~60 iterations on its prompt.
        #expect(forty > 0.85 * 40 && forty <= 40, "\(forty) decoding with 40 queries in the loop")
        #expect(feeder > 200, "\(feeder) decoding under the artifact's feeder")
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

    /// Regression: a zero-rate bucket in the trace (bucket 5) used to end all arrivals after ~18 s.
    @Test func onlineArrivalsCoverTheWholeRunAtTheTargetRate() throws {
        let workload = try Workload.load(directory: TestData.directory + "/helix/workload")
        var rng = SplitMix64(plannerSeed: 1)
        let times = workload.arrivalTimes(tokenRate: 2150, duration: 1800, using: &rng)
        let expected = 2150 / (workload.meanInput + workload.meanOutput) * 1800
        #expect(abs(Double(times.count) - expected) < 0.05 * expected, "\(times.count) arrivals, expected about \(expected)")
        #expect((times.last ?? 0) > 1790, "last arrival at \(times.last ?? 0) s")
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 <= $1 })
    }

    /// Online at a rate the layout carries (the artifact's 700 tokens/s for single24's Helix layout),
    /// decode tokens finish at about the offered decode rate: rate × mean output / (mean input + output).
    @Test func onlineSimulationServesTheOfferedDecodeRate() throws {
        let problem = try TestData.problem("single24", reference: true)
        let placement = try LayoutFile.load(path: TestData.layout("single24_helix_milp"), nodeCount: problem.nodes.count)
        let workload = try Workload.load(directory: TestData.directory + "/helix/workload")
        var config = SimulationConfig(mode: .online)
        config.measureSeconds = 300
        config.onlineTokenRate = 700
        let report = try Simulator.run(problem: problem, placement: placement, connectivity: .partial, workload: workload, config: config,
                                       dataDirectory: TestData.directory)
        let offered = 700 * workload.meanOutput / (workload.meanInput + workload.meanOutput)
        // The window starts empty and a request decodes for minutes, so the first ~140 s ramp up:
        // well over a third of the offered rate (measured: 0.45 at 300 s, 0.75 at 600 s; the
        // artifact reports 141.6 = 0.87 over 1800 s). Before the arrival fix it was ~0.05.
        #expect(report.decodeTokensPerSecond > 0.35 * offered && report.decodeTokensPerSecond < 1.05 * offered,
                "\(report.decodeTokensPerSecond) decode tokens/s against \(offered) offered")
    }
}
