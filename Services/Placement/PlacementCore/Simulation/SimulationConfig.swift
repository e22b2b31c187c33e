import Foundation
import Routing

/// The routing policies live in the shared routing core; the simulator names them as it always did.
public typealias RoutingPolicy = Routing.RoutingPolicy

public enum SimulationMode: String, Sendable, CaseIterable { case offline, online }

public enum DecodeLoop: String, Sendable, CaseIterable { case coordinator, workers }

/// How a node's outputs travel to the next: one request per transfer (Helix's simulator), or one
/// message per next node for the whole batch, arriving together (our live workers' Forward).
public enum HopMessages: String, Sendable, CaseIterable { case request, batch }

/// When Swarm picks a prompt's hops: each next hop as the prompt leaves the source or a node, after
/// the hop times observed so far (the Helix artifact's `SwarmScheduler.schedule_transmission`), or
/// the whole route at admission (our live scheduler, which must know it before the prompt leaves).
public enum SwarmRoutes: String, Sendable, CaseIterable { case perHop = "per-hop", admission }

public struct SimulationConfig: Sendable {
    public var mode: SimulationMode
    public var routing: RoutingPolicy
    public var seed: UInt64
    public var warmupSeconds: Double = 60
    public var measureSeconds: Double = 600
    /// Online: arrival rate in tokens/s the trace is rescaled to (default: half the max flow).
    public var onlineTokenRate: Double? = nil
    /// Offline: a closed loop like a live client's (`lattice load --concurrency`) under any
    /// routing: that many queries, a finished one replaced, admitted as the live scheduler admits
    /// them (KV room for each query's own lengths, first come first served; one no route has room
    /// for waits, not rejected). Nil: the artifact's admission (IWRR: its KV-driven feeder;
    /// KV-blind policies: `artifactQueries` queries, none refused).
    public var offlineQueries: Int? = nil
    /// Offline with the artifact's admission (`offlineQueries` nil) under a KV-blind policy (Swarm,
    /// random, shortest-queue): queries kept in flight, a finished one replaced, none refused for
    /// KV (the artifact's step3 scripts: 180 for single24 and geo24, 500 for cluster42).
    public var artifactQueries: Int = HelixConstants.swarmQueriesInFlight
    /// Where a decode step goes after the last hop. `.coordinator` (Helix's simulator): the token
    /// crosses the sink link and the next step starts from the source, so every step pays both
    /// links. `.workers` (our live runtime): the last hop sends the token straight back to the
    /// first over their link and reports it to the sink on the side, so a step pays that one link.
    public var decodeLoop: DecodeLoop = .coordinator
    /// `.request` (Helix's simulator): each request's output crosses a link alone, one after
    /// another, and an idle node starts on the first to arrive. `.batch` (our live runtime): the
    /// outputs of one batch for one next node go as one message (a worker's Forward; the decode
    /// steps the last hop loops to the first too) and arrive, and are batched, together.
    public var hopMessages: HopMessages = .request
    /// Tokens a node's batch holds at most beside its GPU's limits, as a live worker's
    /// `--max-batch-tokens` (`BatchLimits`); nil: none, as in Helix's simulator.
    public var batchTokens: Int? = nil
    /// IWRR over these per-arc flows (tokens/s; node indices, "source", "sink") instead of the
    /// max flow computed here. A placement usually has many maximum flows; this lets a run follow
    /// another solver's (e.g. the one the Helix artifact's networkx picks) to tell routing apart
    /// from the serving model.
    public var arcFlows: [ArcFlow]? = nil
    /// The k-th query issued takes the workload's row k (wrapping round) instead of a uniform draw,
    /// to replay queries another simulator drew (`Workload.queries`): a run's start-up wave is its
    /// first few hundred queries, and their lengths move its latencies by several percent.
    public var queriesInOrder = false
    /// Seconds of each node-to-node link's bandwidth that prompts not yet through may occupy, as
    /// the live scheduler admits them (`PromptWindow`); nil: uncapped, the artifact's admission.
    public var promptWindowSeconds: Double? = nil

    /// A closed loop of `offlineQueries` (see there).
    var closedLoop: Bool { mode == .offline && offlineQueries != nil }

    /// When Swarm picks a prompt's hops; nil: per hop in the artifact's mode (one request per
    /// transfer, the artifact's admission), at admission in live-like runs (batched hops, a closed
    /// loop or a prompt window, which reserve or hold along the whole route when admitting).
    public var swarmRoutes: SwarmRoutes? = nil

    var liveLike: Bool { hopMessages == .batch || closedLoop || promptWindowSeconds != nil }

    /// Swarm picks each prompt's next hop as the prompt leaves a node (`SwarmHops`).
    var swarmPicksHopsOnTheWay: Bool { routing == .swarm && (swarmRoutes ?? (liveLike ? .admission : .perHop)) == .perHop }

    /// Throws if the settings cannot run together.
    func validate() throws {
        if swarmRoutes == .perHop && liveLike {
            throw PlacementError(section: "simulation", field: "swarm routes",
                                 "per-hop Swarm routes need one request per transfer and the artifact's admission (no batched hops, closed loop or prompt window)")
        }
    }

    public init(mode: SimulationMode, routing: RoutingPolicy = .iwrr, seed: UInt64 = 1) {
        self.mode = mode
        self.routing = routing
        self.seed = seed
        if mode == .online { warmupSeconds = 0; measureSeconds = 1800 }
    }
}

public struct SimulationReport: Sendable {
    public var mode: SimulationMode
    public var routing: RoutingPolicy
    public var decodeTokensPerSecond: Double
    public var finishedRequests: Int
    public var promptLatency: [String: Double]
    public var decodeLatency: [String: Double]
    public var simulatedSeconds: Double
    public var wallSeconds: Double
    public var events: Int
    /// Per-node utilisation and KV use over the measured window.
    public var nodes: [NodeUsage] = []

    public var summary: String {
        func p(_ d: [String: Double]) -> String { ["p50", "p90", "p99"].map { String(format: "%@ %.3f s", $0, d[$0] ?? 0) }.joined(separator: ", ") }
        return String(format: "%@ (%@): %.1f decode tokens/s, %d requests finished\n  prompt latency %@\n  decode latency %@\n  simulated %.0f s in %.2f s wall, %d events",
                      mode.rawValue, routing.rawValue, decodeTokensPerSecond, finishedRequests, p(promptLatency), p(decodeLatency), simulatedSeconds, wallSeconds, events)
    }

    /// One line per serving node: type, layers, utilisation, KV mean and peak.
    public var nodeTable: String {
        (["  node type   layers  busy   kv mean  kv peak  batches/s  decodes/batch  decode at node"] + nodes.map {
            String(format: "  %4d %@ %6d %5.0f%% %7.0f%% %7.0f%% %10.1f %14.1f %13.3f s", $0.node, $0.type.padding(toLength: 6, withPad: " ", startingAt: 0), $0.layers,
                   $0.utilisation * 100, $0.kvMean * 100, $0.kvPeak * 100, $0.batchesPerSecond, $0.meanBatchDecodes, $0.meanDecodeSeconds)
        }).joined(separator: "\n")
    }

    public var jsonObject: [String: Any] {
        ["mode": mode.rawValue, "routing": routing.rawValue, "decode_tokens_per_s": decodeTokensPerSecond, "finished_requests": finishedRequests,
         "prompt_latency_s": promptLatency, "decode_latency_s": decodeLatency, "simulated_seconds": simulatedSeconds,
         "wall_seconds": wallSeconds, "events": events,
         "nodes": nodes.map { ["node": $0.node, "type": $0.type, "layers": $0.layers, "utilisation": $0.utilisation, "kv_mean": $0.kvMean, "kv_peak": $0.kvPeak,
                          "mean_batch_tokens": $0.meanBatchTokens, "mean_batch_decodes": $0.meanBatchDecodes, "mean_decode_s": $0.meanDecodeSeconds,
                          "batches_per_s": $0.batchesPerSecond] as [String: Any] }]
    }
}
