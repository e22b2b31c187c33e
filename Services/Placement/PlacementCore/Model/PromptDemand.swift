/// Where prompts queue: the seconds one mean prompt occupies each node and each link, weighted by
/// the share of prompts that pass it. The Helix artifact's simulator sends one request at a time
/// over a link (`GlobalFlowScheduler.schedule_transmission` waits while the link carries anything),
/// so on geo24's 12.5 MB/s links a prompt holds a link ~1 s and the prompts behind it wait.
///
/// A closed population of N prompts over these resources has the asymptotic bound of a closed
/// queueing network: mean prompt latency R ≥ max(D, N·D_max), D the unloaded path, D_max the
/// busiest resource's demand (Little's law at that resource: it completes at most 1/D_max prompts
/// per second while N are in flight).
struct PromptDemand {
    private(set) var nodes: [Int: Double] = [:]
    private(set) var links: [Int: Double] = [:]

    mutating func add(node: Int, seconds: Double) { nodes[node, default: 0] += seconds }
    mutating func add(link: Int, seconds: Double) { links[link, default: 0] += seconds }

    /// The busiest resource's seconds per prompt (0 with none).
    var bottleneck: Double { max(nodes.values.max() ?? 0, links.values.max() ?? 0) }

    /// Mean prompt latency with `population` prompts in flight, whose unloaded path takes `path` seconds.
    func latency(path: Double, population: Double) -> Double { max(path, population * bottleneck) }
}
