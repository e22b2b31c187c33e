/// How a node picks among its outgoing arcs (spec §4–5). `iwrr` is Helix's interleaved weighted
/// round-robin over the max-flow; the others are the baselines it is compared with.
public enum RoutingPolicy: String, Sendable, CaseIterable {
    case iwrr, swarm, random
    case shortestQueue = "shortest-queue"

    /// Parses a command-line name; "helix" is the paper's name for IWRR over the plan's flow.
    public init?(name: String) {
        let key = name.lowercased()
        if key == "helix" { self = .iwrr; return }
        guard let policy = RoutingPolicy(rawValue: key) else { return nil }
        self = policy
    }

    public static let names = ["helix", "swarm", "random", "shortest-queue"]
}
