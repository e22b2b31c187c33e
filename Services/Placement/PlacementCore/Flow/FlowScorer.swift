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
    /// only on source and sink links. Dinic's split of it (whichever maximum flow its level graphs
    /// reach first): cheap, for the planner's estimates; `routingFlow` is the split IWRR routes over.
    public static func runtimeFlow(_ problem: PlacementProblem, _ placement: Placement, _ connectivity: Connectivity) -> FlowResult {
        solve(problem, placement, connectivity, runtime: true)
    }

    /// The flow live IWRR routing and the simulator route over: the runtime graph's maximum flow
    /// (the same value as `runtimeFlow`), split to spend the least time per token. A layout often
    /// has many maximum flows (geo24's Helix layout: two branches from layer 1 to 36 that together
    /// carry more than the chain after them, so any split of that chain's flow between them is
    /// maximal), and IWRR follows whichever it is given. Serving is bound by latency, not by the
    /// flow (offline, the published layouts decode at a fifth of their flow or less: KV room bounds
    /// the requests in flight, and by Little's law they finish at that count over their round
    /// trip), so the split that serves most sends each token the quickest way the capacities allow:
    /// of all maximum flows, the one of least Σ flow × (link latency + 1/capacity) over every arc,
    /// the seconds a token spends crossing it (propagation, plus its service time there: the
    /// compute arc's 1/T_i(k), a link's or NIC's seconds per token on the wire). No constant is
    /// tuned: latencies and capacities are the cluster's. Where paths cost the same, the first in
    /// arc order fills first.
    public static func routingFlow(_ problem: PlacementProblem, _ placement: Placement, _ connectivity: Connectivity) -> FlowResult {
        solve(problem, placement, connectivity, runtime: true, leastTime: true)
    }

    static func solve(_ problem: PlacementProblem, _ placement: Placement, _ connectivity: Connectivity, runtime: Bool, leastTime: Bool = false) -> FlowResult {
        var built = build(problem, placement, connectivity, runtime: runtime)
        let value: Double
        if leastTime {
            var cost = (0..<built.network.to.count / 2).map { arc in
                let capacity = built.network.original[2 * arc]
                return capacity > 0 ? 1 / capacity : 0
            }
            for (arc, id) in built.linkArcs { cost[id / 2] += arc.latencySeconds }
            value = built.network.leastCostMaxFlow(from: 0, to: 1, cost: cost)
        } else {
            value = built.network.maxFlow(from: 0, to: 1)
        }
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

    static func build(_ problem: PlacementProblem, _ placement: Placement, _ connectivity: Connectivity, runtime: Bool) -> Built {
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
        for arc in problem.arcs {
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
