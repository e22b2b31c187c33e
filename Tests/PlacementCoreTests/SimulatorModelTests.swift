import Foundation
import Testing
@testable import PlacementCore

/// The simulator's model pinned on a layout small enough to time by hand: a 2-layer model on two
/// nodes in a chain, one query in flight (Swarm, which keeps a fixed number in flight offline),
/// every query 100 prompt tokens and 3 output tokens.
@Suite struct SimulatorModelTests {
    /// 2 layers; activations 500 × 2 = 1000 bytes a token, token ids 2 bytes.
    static let model = ModelSpec(name: "tiny", profileName: "tiny", numLayers: 2, hiddenSize: 500, layerParamBytes: 1)
    static let bandwidth = 1e6, latency = 0.01

    static func chain(kvCapacity: Int = 100_000) -> (PlacementProblem, Placement) {
        func node(_ name: String) -> PlacementProblem.Node {
            PlacementProblem.Node(name: name, type: "X", region: nil, throughput: [1000], kvCapacity: [kvCapacity], promptMaxRequests: [2],
                                  nicInBytesPerSecond: 1e12, nicOutBytesPerSecond: 1e12)
        }
        func arc(_ from: Endpoint, _ to: Endpoint) -> PlacementProblem.Arc {
            PlacementProblem.Arc(from: from, to: to, bandwidthBytesPerSecond: bandwidth, latencySeconds: latency)
        }
        let problem = PlacementProblem(clusterName: "chain", model: model, nodes: [node("a"), node("b")],
                                       arcs: [arc(.source, .node(0)), arc(.node(0), .node(1)), arc(.node(1), .sink)])
        return (problem, Placement(ranges: [LayerRange(start: 0, end: 1), LayerRange(start: 1, end: 2)]))
    }

    /// Each iteration's round trip, by hand from the model: source → a carries token ids, a → b
    /// activations + ids, b → sink ids, each bytes / 1e6 B/s + 10 ms; each node runs its one layer
    /// (prompt 1 ms a token; a lone decode twice the curve's 6 ms) plus the host copy of what it
    /// received (bytes / 4e9 + bytes / 5e9). The offline feeder replaces a finished query 0.1 s
    /// later, so a query takes prompt + 3 decodes + 0.1 s and yields 3 decode tokens.
    @Test func aQueryAtATimeTakesTheHandComputedTimes() throws {
        let (problem, placement) = Self.chain()
        let copy = { (bytes: Double) in bytes / 4e9 + bytes / 5e9 }
        let link = { (bytes: Double) in bytes / Self.bandwidth + Self.latency }
        let prompt = link(100 * 2) + (0.1 + copy(100 * 1000)) + link(100 * 1002) + (0.1 + copy(100 * 1000)) + link(100 * 2)
        let decode = link(2) + (0.012 + copy(1000)) + link(1002) + (0.012 + copy(1000)) + link(2)
        let cycle = prompt + 3 * decode + HelixConstants.feedSpacingSeconds

        var config = SimulationConfig(mode: .offline, routing: .swarm)
        config.offlineQueries = 1
        config.measureSeconds = 60
        let report = try Simulator.run(problem: problem, placement: placement, connectivity: .strict,
                                       workload: Workload(inputLengths: [100], outputLengths: [3], arrivalTrace: []),
                                       config: config, profiles: ["X": NodeBatchTests.profile])
        #expect(abs((report.promptLatency["p50"] ?? 0) - prompt) < 1e-9, "\(report.promptLatency) vs \(prompt)")
        #expect(abs((report.decodeLatency["p99"] ?? 0) - decode) < 1e-9 && abs((report.decodeLatency["p50"] ?? 0) - decode) < 1e-9,
                "\(report.decodeLatency) vs \(decode)")
        // 60 s hold 60 / cycle queries' worth of decode tokens, give or take a query cut at each edge.
        let expected = 3 * 60 / cycle
        #expect(abs(report.decodeTokensPerSecond * 60 - expected) <= 3, "\(report.decodeTokensPerSecond * 60) decode tokens, expected \(expected)")
        // Node a is busy for its two layer-times per iteration: the share of the cycle it computes.
        let busy = (0.1 + copy(100 * 1000) + 3 * (0.012 + copy(1000))) / cycle
        #expect(abs((report.nodes.first?.utilisation ?? 0) - busy) < 0.01, "\(report.nodes.first?.utilisation ?? 0) vs \(busy)")
    }

    /// Two queries issued together with 1000-token prompts: the second waits for node a to finish the
    /// first's batch, then for the a → b link to finish sending the first's activations (a
    /// directed link carries one transfer at a time), then runs on b.
    @Test func theSecondQueryWaitsForTheNodeAndTheLink() throws {
        let (problem, placement) = Self.chain()
        let copy = { (bytes: Double) in bytes / 4e9 + bytes / 5e9 }
        let compute = 1.0 + copy(1000 * 1000)       // one layer of a 1000-token prompt, plus the host copy
        let toA = 2000 / Self.bandwidth + Self.latency, toSink = toA
        let sendAB = 1000 * 1002 / Self.bandwidth
        let doneA1 = toA + compute, sentAB1 = doneA1 + sendAB, doneB1 = sentAB1 + Self.latency + compute
        let first = doneB1 + toSink
        let doneA2 = doneA1 + compute                // queued behind the first on a
        let sentAB2 = max(doneA2, sentAB1) + sendAB  // the link is still sending the first's
        let doneB2 = max(sentAB2 + Self.latency, doneB1) + compute
        let second = doneB2 + toSink   // from its arrival, with the first (a closed loop issues both at once)
        #expect(sentAB1 > doneA2, "the example must make the second query wait for the link")

        var config = SimulationConfig(mode: .offline, routing: .swarm)
        config.offlineQueries = 2
        config.warmupSeconds = 0
        config.measureSeconds = 5
        let report = try Simulator.run(problem: problem, placement: placement, connectivity: .strict,
                                       workload: Workload(inputLengths: [1000], outputLengths: [1], arrivalTrace: []),
                                       config: config, profiles: ["X": NodeBatchTests.profile])
        // Exactly these two prompts finish within 5 s; p50 of two is the larger.
        #expect(abs((report.promptLatency["p50"] ?? 0) - second) < 1e-9, "\(report.promptLatency) vs \(second)")
        #expect(abs((report.promptLatency["mean"] ?? 0) - (first + second) / 2) < 1e-9, "\(report.promptLatency) vs \(first), \(second)")
    }

    /// A closed loop admits as the live scheduler does, whatever the routing: Swarm too waits for
    /// KV room for the query's own lengths (100 prompt + 1 + 1 output tokens = 102 entries on each
    /// one-layer node; 170 of 200 may be promised, so one query at a time). The second query, issued
    /// with the first, waits for the first to finish, and its prompt latency counts that wait, as a
    /// live client's counts from sending; under the artifact's admission both run at once.
    @Test func aClosedLoopWaitsForKVRoomAndCountsTheWaitInThePromptLatency() throws {
        let (problem, placement) = Self.chain(kvCapacity: 200)
        let copy = { (bytes: Double) in bytes / 4e9 + bytes / 5e9 }
        let link = { (bytes: Double) in bytes / Self.bandwidth + Self.latency }
        let prompt = link(100 * 2) + (0.1 + copy(100 * 1000)) + link(100 * 1002) + (0.1 + copy(100 * 1000)) + link(100 * 2)
        let decode = link(2) + (0.012 + copy(1000)) + link(1002) + (0.012 + copy(1000)) + link(2)
        var config = SimulationConfig(mode: .offline, routing: .swarm)
        config.offlineQueries = 2
        config.warmupSeconds = 0
        config.measureSeconds = 2 * prompt + decode + 0.05   // the second's prompt is through, a third's is not
        let report = try Simulator.run(problem: problem, placement: placement, connectivity: .strict,
                                       workload: Workload(inputLengths: [100], outputLengths: [1], arrivalTrace: []),
                                       config: config, profiles: ["X": NodeBatchTests.profile])
        let second = prompt + decode + prompt
        #expect(abs((report.promptLatency["p50"] ?? 0) - second) < 1e-9, "\(report.promptLatency) vs \(second)")
        #expect(abs((report.promptLatency["mean"] ?? 0) - (prompt + second) / 2) < 1e-9, "\(report.promptLatency) vs \(prompt), \(second)")

        // The artifact's admission with the same two in flight (`artifactQueries`, what
        // bench-sim-fidelity's Swarm rows use) is KV-blind: the second, issued 0.1 s after the
        // first, runs beside it and its prompt is through well before the first's decode step.
        config.offlineQueries = nil
        config.artifactQueries = 2
        let blind = try Simulator.run(problem: problem, placement: placement, connectivity: .strict,
                                      workload: Workload(inputLengths: [100], outputLengths: [1], arrivalTrace: []),
                                      config: config, profiles: ["X": NodeBatchTests.profile])
        #expect((blind.promptLatency["p50"] ?? .infinity) < prompt + 0.1 + 1e-9, "\(blind.promptLatency) vs \(prompt) alone")
    }

    /// The prompt window (the live scheduler's admission): two 1000-token prompts of a closed loop
    /// arrive together, but the a → b link (1 MB/s, a 1 s window) takes one prompt's 1 MB at a
    /// time, so the second is admitted when the first's token comes back and then runs exactly as
    /// the first did, alone. Uncapped, the second queues behind the first on a and on the link.
    @Test func thePromptWindowAdmitsTheSecondPromptWhenTheFirstIsThrough() throws {
        let (problem, placement) = Self.chain()
        let copy = { (bytes: Double) in bytes / 4e9 + bytes / 5e9 }
        let compute = 1.0 + copy(1000 * 1000)
        let toA = 2000 / Self.bandwidth + Self.latency
        let alone = toA + compute + 1000 * 1002 / Self.bandwidth + Self.latency + compute + toA

        func run(window: Double?) throws -> SimulationReport {
            var config = SimulationConfig(mode: .offline, routing: .iwrr)
            config.offlineQueries = 2
            config.warmupSeconds = 0
            config.measureSeconds = 8   // the first two finish (about 3 s each, one after the other), a third does not
            config.promptWindowSeconds = window
            return try Simulator.run(problem: problem, placement: placement, connectivity: .strict,
                                     workload: Workload(inputLengths: [1000], outputLengths: [0], arrivalTrace: []),
                                     config: config, profiles: ["X": NodeBatchTests.profile])
        }
        // Latencies run from the queries' arrival: the second's counts its wait for the first.
        let capped = try run(window: 1)
        #expect(capped.finishedRequests == 2)
        #expect(abs((capped.promptLatency["p99"] ?? 0) - 2 * alone) < 1e-9 && abs((capped.promptLatency["mean"] ?? 0) - 1.5 * alone) < 1e-9,
                "\(capped.promptLatency) vs \(alone), then \(2 * alone)")
        let uncapped = try run(window: nil)
        #expect((uncapped.promptLatency["p99"] ?? 0) < 2 * alone - 0.5 && (uncapped.promptLatency["p99"] ?? 0) > alone + 0.5,
                "\(uncapped.promptLatency) vs \(alone) alone")
    }
}
