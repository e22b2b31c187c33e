import Foundation
import Testing
@testable import PlacementCore

/// Our simulator against the Helix artifact's own simulator, on the runs of it kept in
/// `scripts/helix-sim-results` (made by `../shared/tools/helix-sim`, unchanged): the published
/// layouts on the artifact's links (strict), offline, 60 s warm-up + 120 s, seed 1. Each case pins
/// the figures ours is within 5% of (the issue's goal; one seed on each side, so seed noise is inside
/// that budget, which is why geo24's decode tok/s, ±8% over seeds at 120 s, is not pinned); the ones
/// it is not are named with their ratio (the open part of issue 11, see Services/Placement/README.md).
/// Swarm runs the artifact's KV-blind admission (`artifactQueries`, 180 in flight), not the
/// live-like closed loop.
@Suite struct HelixFidelityTests {
    enum Metric: String, CaseIterable { case decodeTokensPerSecond = "decode tok/s", promptP50 = "prompt p50", decodeP50 = "decode p50" }

    struct Case: CustomTestStringConvertible, Sendable {
        var cluster: String
        var layout: String
        var routing: RoutingPolicy
        /// IWRR over the max flow Helix's simulator routes over (`<cluster>-<layout>.flows.json`,
        /// from scripts/helix-sim-flows.py) instead of ours: a layout has many maximum flows.
        var helixFlow = false
        /// The queries the artifact's feeder issues, in its order (`helix-queries-2000.csv`, from
        /// scripts/helix-sim-queries.py: its seed 0), instead of our seed's draws.
        var helixQueries = false
        var pinned: [Metric]
        var testDescription: String {
            "\(layout) \(routing.rawValue)\(helixFlow ? " over Helix's flow" : "")\(helixQueries ? " serving Helix's queries" : "")"
        }
    }

    static let results: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/helix-sim-results").path
    }()

    /// Seed 1 against Helix's simulator, as measured (ours ÷ theirs, * = pinned) for decode tok/s,
    /// prompt p50, decode p50.
    static let cases: [Case] = [
        // Our flow: 1.002*, 1.040*, 0.991*.
        Case(cluster: "single24", layout: "single24_helix_milp", routing: .iwrr, pinned: Metric.allCases),
        // Swarm picks each hop as the prompt leaves a node, as the artifact's does: 1.064, 1.012*,
        // 0.940 (routed whole at admission, as live serving must: 1.079, 1.055, 0.908).
        Case(cluster: "single24", layout: "single24_swarm", routing: .swarm, pinned: [.promptP50]),
        // The same, serving the artifact's queries: 1.013*, 1.016*, 0.987*.
        Case(cluster: "single24", layout: "single24_swarm", routing: .swarm, helixQueries: true, pinned: Metric.allCases),
        // At 120 s geo24's Swarm prompts are still crossing the slow links (both simulators finish
        // ~100 prompts and only 1–6 decode steps): 0.667, 0.998*, 0.951 (at admission: prompt p50 0.998).
        Case(cluster: "geo24", layout: "geo24_swarm", routing: .swarm, pinned: [.promptP50]),
        // Helix's flow: 1.060, 0.985*, 0.981* (seeds 1–3 give 70.5, 64.8, 60.1 tok/s: ±8% at 120 s on
        // geo24). Our own flow fills the shorter of geo24's two branches: 1.285, 0.746, 0.923.
        Case(cluster: "geo24", layout: "geo24_helix_milp", routing: .iwrr, helixFlow: true, pinned: [.promptP50, .decodeP50]),
        // Helix's flow: 1.016*, 1.000*, 0.951*; our own flow: 0.988, 0.984, 0.900.
        Case(cluster: "cluster42", layout: "cluster42_helix_milp", routing: .iwrr, helixFlow: true, pinned: Metric.allCases),
    ]

    @Test(arguments: cases) func withinFivePercentOfHelixSimulator(_ c: Case) throws {
        let problem = try TestData.problem(c.cluster, reference: true)
        let placement = try LayoutFile.load(path: TestData.layout(c.layout), nodeCount: problem.nodes.count)
        let workload = try Workload.load(directory: TestData.directory + "/helix/workload")
        var config = SimulationConfig(mode: .offline, routing: c.routing)
        config.measureSeconds = 120
        if c.helixFlow { config.arcFlows = try GivenFlows.load(path: "\(Self.results)/\(c.cluster)-\(c.layout).flows.json") }
        config.queriesInOrder = c.helixQueries
        let served = c.helixQueries ? try Workload.queries(path: "\(Self.results)/helix-queries-2000.csv") : workload
        let report = try Simulator.run(problem: problem, placement: placement, connectivity: .strict, workload: served, config: config,
                                       dataDirectory: TestData.directory)
        let theirs = try Self.helixFigures("\(Self.results)/\(c.cluster)-\(c.layout)-120.json")
        let ours: [Metric: Double] = [.decodeTokensPerSecond: report.decodeTokensPerSecond,
                                      .promptP50: report.promptLatency["p50"] ?? 0, .decodeP50: report.decodeLatency["p50"] ?? 0]
        for metric in c.pinned {
            let ratio = (ours[metric] ?? 0) / (theirs[metric] ?? .nan)
            #expect(abs(ratio - 1) <= 0.05, "\(c.testDescription): \(metric.rawValue) ours \(ours[metric] ?? 0), Helix's \(theirs[metric] ?? .nan) (× \(ratio))")
        }
    }

    /// Decode tokens/s and the p50 latencies of one helix-sim output line.
    static func helixFigures(_ path: String) throws -> [Metric: Double] {
        guard let data = FileManager.default.contents(atPath: path),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let decode = object["decode_tokens_per_s"] as? Double,
              let prompt = (object["prompt_latency_s"] as? [String: Any])?["p50"] as? Double,
              let decodeP50 = (object["decode_latency_s"] as? [String: Any])?["p50"] as? Double else {
            throw PlacementError(file: path, "expected helix-sim's JSON line: decode_tokens_per_s and prompt/decode_latency_s p50")
        }
        return [.decodeTokensPerSecond: decode, .promptP50: prompt, .decodeP50: decodeP50]
    }
}
