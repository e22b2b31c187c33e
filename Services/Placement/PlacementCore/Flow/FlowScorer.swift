import DeterministicRandom
/// How consecutive stages may connect (spec §3 constraint 5).
public enum Connectivity: String, Sendable, CaseIterable, Codable {
    /// i→j only if e_i = s_j (the published experiments).
    case strict
    /// i→j if s_j ≤ e_i < e_j: j runs just the layers after i's last (what the runtime routes).
    case partial

    public func allows(_ a: LayerRange, _ b: LayerRange) -> Bool {
        switch self {
        case .strict: a.end == b.start
        case .partial: b.start <= a.end && a.end < b.end
        }
    }
}

/// Flow on one directed arc of the placed graph, tokens/s.
public struct ArcFlow: Sendable, Hashable, Codable {
    public var from: String
    public var to: String
    public var tokensPerSecond: Double
}

public struct FlowResult: Sendable {
    /// Max flow out of the source, tokens/s.
    public var value: Double
    /// Flow through each compute node (0 for idle nodes).
    public var nodeFlows: [Double]
    /// Flow on every arc that carries any (node-to-node, source and sink arcs).
    public var arcFlows: [ArcFlow]

    /// The same flow on every arc, within 1e-6 tokens/s (arcs in any order).
    func sameArcs(as other: FlowResult) -> Bool {
        func key(_ arcs: [ArcFlow]) -> [String: Double] { Dictionary(arcs.map { ($0.from + ">" + $0.to, $0.tokensPerSecond) }, uniquingKeysWith: +) }
        let a = key(arcFlows), b = key(other.arcFlows)
        return a.count == b.count && a.allSatisfy { name, flow in b[name].map { abs($0 - flow) <= 1e-6 } ?? false }
    }
}

/// Exact max-flow scoring of a fixed placement.
public enum FlowScorer {
    /// The MILP's graph (spec §3): node capacity T_i(k), arcs at bandwidth / (token or activation size).
    /// This is the objective the MILP maximises and the one the published figures report.
    public static func objective(_ problem: PlacementProblem, _ placement: Placement, _ connectivity: Connectivity) -> Double {
        var network = build(problem, placement, connectivity, runtime: false).network
        return network.maxFlow(from: 0, to: 1)
    }

    public static func milpFlow(_ problem: PlacementProblem, _ placement: Placement, _ connectivity: Connectivity) -> FlowResult {
        solve(problem, placement, connectivity, runtime: false)
    }

    /// The runtime graph (spec §3, last paragraph): every node split receive → compute → send,
    /// NICs at NIC / (token + activation), links at bandwidth / (token + activation), token ids
    /// only on source and sink links. These flows drive IWRR routing, live (the plan handed to the
    /// scheduler carries them) and simulated.
    ///
    /// A layout often has many maximum flows, and IWRR follows whichever it is given; this is
    /// Dinic's (a blocking flow on the fewest-hop paths first, then on longer ones). Two
    /// principled splits were measured against it in our simulator (offline, 120 s, seed 1, loaded;
    /// decode tokens/s, Dinic / least time / least time with load): the least-cost maximum flow
    /// over each arc's seconds per token (link latency + 1/capacity) concentrates flow on the
    /// quickest paths and leaves parallel nodes idle, their KV room unused, and served less on all
    /// four layouts tried (cluster42 Helix 631.1 / 619.9, our cluster42 plan 694.4 / 647.0, our
    /// single24 plan 282.6 / 274.7, geo24 Helix 85.5 / 70.6; at 600 s geo24 Helix 106.1 / 106.0);
    /// adding a first-order queueing term ((1 + utilisation)/capacity) won on two and lost on two
    /// (692.8, 645.5, 290.9, 70.6). Neither is a better rule, so Dinic's split stays.
    public static func runtimeFlow(_ problem: PlacementProblem, _ placement: Placement, _ connectivity: Connectivity) -> FlowResult {
        solve(problem, placement, connectivity, runtime: true)
    }

    /// Up to `count` distinct maximum flows of the runtime graph: Dinic's (`runtimeFlow`, first),
    /// then Dinic's with the links offered in seeded shuffled orders (its depth-first search takes
    /// a vertex's arcs in the order they were added, so each order may settle on another of the
    /// layout's maximum flows). Another router's solver picks any of them (the Helix artifact's
    /// networkx changes its pick with Python's string hashing), so a plan that serves well over
    /// only one of them serves well by luck. Tries at most 2·count orders.
    public static func runtimeFlows(_ problem: PlacementProblem, _ placement: Placement, _ connectivity: Connectivity, count: Int) -> [FlowResult] {
        var flows = [runtimeFlow(problem, placement, connectivity)]
        var order: UInt64 = 1
        while flows.count < count && order < UInt64(2 * count) {
            let flow = solve(problem, placement, connectivity, runtime: true, linkOrder: order)
            if !flows.contains(where: { $0.sameArcs(as: flow) }) { flows.append(flow) }
            order += 1
        }
        return flows
    }

    static func solve(_ problem: PlacementProblem, _ placement: Placement, _ connectivity: Connectivity, runtime: Bool, linkOrder: UInt64? = nil) -> FlowResult {
        var built = build(problem, placement, connectivity, runtime: runtime, linkOrder: linkOrder)
        let value = built.network.maxFlow(from: 0, to: 1)
        var nodeFlows = [Double](repeating: 0, count: problem.nodes.count)
        for (i, id) in built.computeArcs { nodeFlows[i] = built.network.flow(onArc: id) }
        var arcs: [ArcFlow] = []
        for (arc, id) in built.linkArcs {
            let flow = built.network.flow(onArc: id)
            if flow > 1e-9 { arcs.append(ArcFlow(from: arc.from.description, to: arc.to.description, tokensPerSecond: flow)) }
        }
        return FlowResult(value: value, nodeFlows: nodeFlows, arcFlows: arcs)
    }

    struct Built {
        var network: FlowNetwork
        var computeArcs: [(Int, Int)]
        var linkArcs: [(PlacementProblem.Arc, Int)]
    }

    /// `linkOrder`: add the links in the order this seed shuffles them to (nil: the cluster's order).
    static func build(_ problem: PlacementProblem, _ placement: Placement, _ connectivity: Connectivity, runtime: Bool, linkOrder: UInt64? = nil) -> Built {
        let per = runtime ? 4 : 2
        let n = problem.nodes.count
        var network = FlowNetwork(vertexCount: 2 + per * n)
        // Vertex of node i: receive (first) and send (last); compute in between.
        func first(_ i: Int) -> Int { 2 + per * i }
        func last(_ i: Int) -> Int { 2 + per * i + per - 1 }
        let L = problem.numLayers
        let wire = problem.model.tokenSize + problem.model.activationSize
        var computeArcs: [(Int, Int)] = []
        for (i, range) in placement.ranges.enumerated() {
            guard let range, i < n else { continue }
            let node = problem.nodes[i]
            let t = node.throughput(layers: range.count)
            if runtime {
                network.addArc(first(i), first(i) + 1, capacity: node.nicInBytesPerSecond / wire)
                computeArcs.append((i, network.addArc(first(i) + 1, first(i) + 2, capacity: t)))
                network.addArc(first(i) + 2, last(i), capacity: node.nicOutBytesPerSecond / wire)
            } else {
                computeArcs.append((i, network.addArc(first(i), last(i), capacity: t)))
            }
        }
        var linkArcs: [(PlacementProblem.Arc, Int)] = []
        var arcs = problem.arcs
        if let linkOrder {
            var random = SplitMix64(seed: linkOrder)
            arcs.shuffle(using: &random)
        }
        for arc in arcs {
            var u = -1, v = -1
            let bytes: Double
            switch (arc.from, arc.to) {
            case (.source, .node(let j)):
                guard let r = placement.ranges[j], r.start == 0 else { continue }
                u = 0; v = first(j); bytes = problem.model.tokenSize
            case (.node(let i), .sink):
                guard let r = placement.ranges[i], r.end == L else { continue }
                u = last(i); v = 1; bytes = problem.model.tokenSize
            case (.node(let i), .node(let j)):
                guard let a = placement.ranges[i], let b = placement.ranges[j], connectivity.allows(a, b) else { continue }
                u = last(i); v = first(j); bytes = runtime ? wire : problem.model.activationSize
            default: continue
            }
            linkArcs.append((arc, network.addArc(u, v, capacity: arc.bandwidthBytesPerSecond / bytes)))
        }
        return Built(network: network, computeArcs: computeArcs, linkArcs: linkArcs)
    }
}
