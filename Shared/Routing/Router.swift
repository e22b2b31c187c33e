import DeterministicRandom

/// Routes requests through a plan's flow graph (spec §5), for live serving and the simulator
/// alike. A route is built hop by hop from the source: each vertex ranks its open arcs by the
/// policy, masking a candidate whose prompt limit is too small or whose KV estimate has no room
/// (flow below 5% of the outflow was masked in the graph); a hop with no way on is backed out of
/// and the next candidate tried. IWRR charges `w/flow` to each chosen arc: w = prompt length on
/// admission, w = 1 for every decode step along the fixed route. Swarm (its paper's Appendix C,
/// as the Helix artifact's Swarm scheduler runs it) takes the arc of lowest priority and adds the
/// arc's moving-average hop time to that priority, so an arc is chosen in inverse proportion to
/// how long requests take over it.
///
/// Live serving builds the whole route here when the request is admitted, under every policy,
/// Swarm included: live workers forward straight to the next worker and the last one loops
/// decode steps back to the first, so the route must be known before the prompt leaves, and the
/// KV it needs is reserved on every hop at admission. The Helix artifact's Swarm instead picks
/// each prompt's next hop as the prompt leaves a node (`SwarmScheduler.schedule_transmission`),
/// so hop times measured while it travels steer its later hops; the simulator's artifact mode
/// asks for one hop at a time (`nextHop`), ranked and charged by the same code.
public struct Router: Sendable {
    public var graph: FlowGraph
    public let policy: RoutingPolicy
    public var kv: KVPolicy
    /// When a hop has no way on, back out and try the next candidate (live serving); off, the
    /// request is refused there, as the Helix artifact's scheduler refuses it.
    public var backtracks = true
    /// IWRR: accumulated `w/flow` per arc (vertex → successor index).
    public private(set) var loads: [[Double]]
    /// Swarm: moving average of the seconds a request takes over each arc (sending, waiting and
    /// computing at its far end), and each arc's priority (lowest is chosen next).
    public private(set) var ema: [[Double]]
    public private(set) var priority: [[Double]]
    var random: SplitMix64

    /// Swarm's starting priority and hop time, and the weight of a new hop time in its average
    /// (the artifact's `SwarmParameters(initial_priority=0.05, smoothing_parameter=0.8)`).
    public static let swarmInitialPriority = 0.05
    public static let swarmSmoothing = 0.8

    public init(graph: FlowGraph, policy: RoutingPolicy = .iwrr, kv: KVPolicy = .online, seed: UInt64 = 1) {
        self.graph = graph
        self.policy = policy
        self.kv = kv
        loads = graph.successors.map { Array(repeating: 0, count: $0.count) }
        ema = graph.successors.map { Array(repeating: Self.swarmInitialPriority, count: $0.count) }
        priority = ema
        random = SplitMix64(seed: seed)
    }

    /// Builds a route for a prompt of `prompt` tokens (`maxTokens` nil: Helix's output estimate).
    /// `reserved(j)` is the KV already promised on node j; `queueLength(j)` its waiting work
    /// (shortest-queue only); `linkOpen(vertex, node)` false masks the arc while its link carries
    /// its share of prompts (`PromptWindow`). Charges the IWRR loads only for the route returned.
    public mutating func route(prompt: Int, maxTokens: Int?, reserved: (Int) -> Double,
                               queueLength: (Int) -> Int = { _ in 0 },
                               linkOpen: (Int, Int) -> Bool = { _, _ in true }) -> Result<Route, RouteRefusal> {
        build(from: graph.source, layer: 0, hops: nil, prompt: prompt, maxTokens: maxTokens, reserved: reserved, queueLength: queueLength, linkOpen: linkOpen)
    }

    /// The next hop only, for a prompt leaving `vertex` (a node it has run on, or the source) with
    /// `layer` next to run: the same masks and ranking as `route`, and only that arc is charged.
    public mutating func nextHop(from vertex: Int, layer: Int, prompt: Int, maxTokens: Int?, reserved: (Int) -> Double,
                                 queueLength: (Int) -> Int = { _ in 0 },
                                 linkOpen: (Int, Int) -> Bool = { _, _ in true }) -> Result<RouteStep, RouteRefusal> {
        guard graph.successors.indices.contains(vertex), layer < graph.layerCount else { return .failure(.noPlan) }
        return build(from: vertex, layer: layer, hops: 1, prompt: prompt, maxTokens: maxTokens, reserved: reserved,
                     queueLength: queueLength, linkOpen: linkOpen).map { $0.steps[0] }
    }

    /// The route from `start` (next layer `layer`) to the last layer, or its first `hops` hops.
    private mutating func build(from start: Int, layer first: Int, hops: Int?, prompt: Int, maxTokens: Int?, reserved: (Int) -> Double,
                                queueLength: (Int) -> Int, linkOpen: (Int, Int) -> Bool) -> Result<Route, RouteRefusal> {
        guard !graph.successors[graph.source].isEmpty, graph.layerCount > 0 else { return .failure(.noPlan) }
        let expected = kv.expectedLength(prompt: prompt, maxTokens: maxTokens)
        var deepest: (depth: Int, refusal: RouteRefusal) = (-1, .noPlan)

        func search(_ vertex: Int, layer: Int, steps: [RouteStep]) -> [RouteStep]? {
            if layer >= graph.layerCount || steps.count == hops { return steps }
            var masks: [String] = []
            var open: [(successor: Int, layers: Range<Int>, entries: Double)] = []
            for (c, arc) in graph.successors[vertex].enumerated() {
                let node = graph.nodes[arc.node]
                guard let layers = graph.layers(of: arc.node, from: layer) else { continue }
                guard node.available else { masks.append("\(node.name) not serving"); continue }
                guard prompt <= node.promptLimit else { masks.append("\(node.name) takes prompts up to \(node.promptLimit) tokens"); continue }
                let entries = expected * Double(layers.count)
                let checked = kv.checksWholeNode ? expected * Double(node.layers.count) : entries
                guard kv.admits(entries: checked, reserved: reserved(arc.node), capacity: node.kvCapacity) else {
                    masks.append("\(node.name) has no KV room"); continue
                }
                guard linkOpen(vertex, arc.node) else { masks.append("the link to \(node.name) carries its share of prompts"); continue }
                open.append((c, layers, entries))
            }
            if open.isEmpty, steps.count > deepest.depth {
                let name = vertex == graph.source ? FlowArc.source : graph.nodes[vertex].name
                let why = masks.isEmpty ? "no arc of the plan continues there" : masks.joined(separator: "; ")
                deepest = (steps.count, .noCandidate(after: name, layer: layer, why: why))
            }
            let ranked = rank(vertex, open.map(\.successor), weight: Double(prompt), queueLength: queueLength)
            for candidate in backtracks ? ranked : Array(ranked.prefix(1)) {
                guard let option = open.first(where: { $0.successor == candidate }) else { continue }
                let arc = graph.successors[vertex][candidate]
                let step = RouteStep(node: arc.node, layers: option.layers, entries: option.entries,
                                     arc: .init(vertex: vertex, successor: candidate))
                if let found = search(arc.node, layer: option.layers.upperBound, steps: steps + [step]) { return found }
            }
            return nil
        }

        guard let steps = search(start, layer: first, steps: []) else { return .failure(deepest.refusal) }
        let route = Route(steps: steps)
        charge(route, weight: Double(prompt), admission: true)
        return .success(route)
    }

    /// One decode step (w = 1) along the request's fixed route.
    public mutating func chargeDecode(_ route: Route) { charge(route, weight: 1, admission: false) }

    /// Swarm: the seconds a request took over the arc into `route.steps[hop]` update its average.
    public mutating func observe(_ route: Route, hop: Int, seconds: Double) {
        guard route.steps.indices.contains(hop) else { return }
        let arc = route.steps[hop].arc
        guard ema.indices.contains(arc.vertex), ema[arc.vertex].indices.contains(arc.successor) else { return }
        ema[arc.vertex][arc.successor] = Self.swarmSmoothing * seconds + (1 - Self.swarmSmoothing) * ema[arc.vertex][arc.successor]
    }

    /// KV entries the route reserves, per node.
    public static func reservation(_ route: Route) -> [Int: Double] {
        Dictionary(route.steps.map { ($0.node, $0.entries) }, uniquingKeysWith: +)
    }

    /// IWRR: `w/flow` onto each arc of the route. Swarm, on admission only: each arc's priority
    /// moves on by its average hop time.
    private mutating func charge(_ route: Route, weight: Double, admission: Bool) {
        guard policy == .iwrr || (policy == .swarm && admission) else { return }
        for step in route.steps {
            let arc = step.arc
            guard loads.indices.contains(arc.vertex), loads[arc.vertex].indices.contains(arc.successor) else { continue }
            if policy == .swarm {
                priority[arc.vertex][arc.successor] += ema[arc.vertex][arc.successor]
            } else {
                loads[arc.vertex][arc.successor] += weight / graph.successors[arc.vertex][arc.successor].flow
            }
        }
    }

    /// The open successors of `vertex`, best first by the policy.
    private mutating func rank(_ vertex: Int, _ open: [Int], weight: Double, queueLength: (Int) -> Int) -> [Int] {
        let arcs = graph.successors[vertex]
        switch policy {
        case .iwrr:
            let cost = open.map { loads[vertex][$0] + weight / arcs[$0].flow }
            return open.indices.sorted { cost[$0] < cost[$1] || (cost[$0] == cost[$1] && $0 < $1) }.map { open[$0] }
        case .shortestQueue:
            let length = open.map { queueLength(arcs[$0].node) }
            return open.indices.sorted { length[$0] < length[$1] || (length[$0] == length[$1] && $0 < $1) }.map { open[$0] }
        case .random:
            return open.shuffled(using: &random)
        case .swarm:
            let p = open.map { priority[vertex][$0] }
            return open.indices.sorted { p[$0] < p[$1] || (p[$0] == p[$1] && $0 < $1) }.map { open[$0] }
        }
    }
}
