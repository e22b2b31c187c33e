import Foundation

/// The constants of the Helix artifact's simulator (github.com/Thesys-lab/Helix-ASPLOS25 @ 148b733,
/// `simulator/`) that our simulator models the same way, each with where it comes from. Nothing
/// here is fitted to that simulator's output.
public enum HelixConstants {
    /// Prompt tokens per request in a batch: a node takes `prompt_max_requests × 2048` prompt
    /// tokens per batch (`MAX_INPUT_LEN` in `event_simulator/utils.py`).
    static let maxInputLength = 2048
    /// Context tokens per decode sequence in a batch: `decode_max_context = decode_max_tokens × 1000`
    /// (`DECODE_PER_TOKEN_MAX_CONTEXT`, same file).
    static let decodeContextPerSequence = 1000
    /// A decode batch of one sequence costs twice the profile's per-layer time (`ModelLayer.
    /// get_inference_statistics`: the profiles' smallest measured decode batch is 2).
    static let loneDecodeFactor = 2.0

    /// A layer's decode time (any unit) for a batch of `decodes` sequences, from the profile's interpolated
    /// time for that many (`profiled`): the lone-decode rule above. Our simulator and the emulated
    /// workers both time decodes by it (below the smallest measured batch a profile interpolates
    /// towards its 0,0 row, which would run one sequence in half the time of two).
    public static func decodeLayerTime(profiled: Double, decodes: Int) -> Double {
        decodes == 1 ? profiled * loneDecodeFactor : profiled
    }

    /// Host-side cost of a batch (`ComputeNode.get_inference_statistics`): the activations received
    /// since the node last started its first layer are concatenated at 4 "gbps" and copied to the
    /// GPU at 5 "gbps" (the artifact's units: 1e9 bytes/s).
    static let concatBytesPerSecond = 4e9
    static let copyBytesPerSecond = 5e9
    /// The coordinator's NIC, in and out (`[Coordinator]` of every simulator cluster file the
    /// artifact writes: 10000 "mbps" = 1e10 bytes/s).
    static let coordinatorNICBytesPerSecond = 1e10
    /// Offline feeder (`OfflineRequestFeeder`): initial queries are issued this far apart, and each
    /// later one this long after the event that launched it.
    static let feedSpacingSeconds = 0.1
    /// Offline feeder with the max-flow scheduler: 20 initial queries, then one more whenever a
    /// prompt or a query finishes while the busiest layer's expected KV use is at most 0.8
    /// (`feed_hwm`; the artifact's step3 scripts).
    static let helixInitialQueries = 20
    static let feedHighWater = 0.8
    /// Offline feeder with the Swarm (or any KV-blind) scheduler: a fixed number of queries in flight,
    /// a finished query replaced by a new one (the artifact's step3 scripts: 180 for single24 and geo24,
    /// 500 for cluster42; `SimulationConfig.artifactQueries` sets it per run).
    static let swarmQueriesInFlight = 180
}
