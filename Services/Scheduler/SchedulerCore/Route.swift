/// One stage of a request's route: the worker and the layers it runs for the request.
public struct Hop: Sendable, Equatable {
    public var workerID: String
    public var address: String
    public var layers: Range<Int>

    public init(workerID: String, address: String, layers: Range<Int>) {
        self.workerID = workerID
        self.address = address
        self.layers = layers
    }
}

/// What the route builder needs to know of a worker right now.
public struct RouteNode: Sendable, Equatable {
    public var address: String
    public var layers: Range<Int>
    public var serving: Bool
    public var kvCapacityEntries: Int

    public init(address: String, layers: Range<Int>, serving: Bool, kvCapacityEntries: Int) {
        self.address = address
        self.layers = layers
        self.serving = serving
        self.kvCapacityEntries = kvCapacityEntries
    }
}

/// Why a route could not be built (the request waits in the admission queue).
public enum RouteRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    case noPlan
    case noCandidate(after: String, layer: Int)

    public var description: String {
        switch self {
        case .noPlan: return "no plan covers the model yet"
        case .noCandidate(let after, let layer): return "no worker after \(after) can take layer \(layer) now (masked by flow, state or KV room)"
        }
    }
}

/// Builds routes hop by hop from the source along the plan's flow (spec §5).
public struct RouteBuilder: Sendable {
    /// Arcs carrying less than this share of their node's outflow are masked.
    public var minimumFlowShare = 0.05
    public var policy: KVPolicy

    public init(policy: KVPolicy = .online) { self.policy = policy }

    /// A route for a request of `prompt` tokens that may generate `maxTokens`, or why not.
    /// Each node prefers its arcs in IWRR order (weight = prompt length); a hop with no way on
    /// is backed out of and the next arc tried. The picks are charged only for the route found.
    /// The next hop must start where the current one ends.
    public func build(prompt: Int, maxTokens: Int, plan: Plan, layerCount: Int, nodes: [String: RouteNode],
                      ledger: KVLedger, iwrr: inout [String: IWRR]) -> Result<[Hop], RouteRefusal> {
        guard !plan.arcs.isEmpty, layerCount > 0 else { return .failure(.noPlan) }
        let expected = policy.expectedLength(prompt: prompt, maxTokens: maxTokens)
        let loads = iwrr
        var refusal = RouteRefusal.noCandidate(after: PlanArc.source, layer: 0)
        var refusalDepth = -1

        func candidates(from node: String, end: Int, used: [Hop]) -> [(target: String, flow: Double)] {
            let out = plan.arcs(from: node)
            let outflow = out.reduce(0) { $0 + $1.flow }
            let open = out.compactMap { arc -> (target: String, flow: Double)? in
                guard arc.flow >= minimumFlowShare * outflow, let next = nodes[arc.to], next.serving,
                      next.layers.lowerBound == end, next.layers.upperBound > end,
                      !used.contains(where: { $0.workerID == arc.to }),
                      policy.admits(entries: expected * next.layers.count, reserved: ledger.reserved(on: arc.to),
                                    capacity: next.kvCapacityEntries) else { return nil }
                return (arc.to, arc.flow)
            }
            return (loads[node] ?? IWRR()).ranked(open, weight: Double(prompt))
        }

        func search(from node: String, end: Int, hops: [Hop]) -> [Hop]? {
            if end >= layerCount { return hops }
            let options = candidates(from: node, end: end, used: hops)
            if options.isEmpty, hops.count > refusalDepth {
                refusal = .noCandidate(after: node, layer: end)
                refusalDepth = hops.count
            }
            for option in options {
                guard let next = nodes[option.target] else { continue }
                let hop = Hop(workerID: option.target, address: next.address, layers: next.layers)
                if let route = search(from: option.target, end: next.layers.upperBound, hops: hops + [hop]) { return route }
            }
            return nil
        }

        guard let route = search(from: PlanArc.source, end: 0, hops: []) else { return .failure(refusal) }
        var node = PlanArc.source
        for hop in route {
            let flow = plan.arcs(from: node).first { $0.to == hop.workerID }?.flow ?? 0
            iwrr[node, default: IWRR()].charge(hop.workerID, weight: Double(prompt), flow: flow)
            node = hop.workerID
        }
        return .success(route)
    }

    /// KV entries a request reserves on each hop of its route.
    public func reservation(prompt: Int, maxTokens: Int, route: [Hop]) -> [String: Int] {
        let expected = policy.expectedLength(prompt: prompt, maxTokens: maxTokens)
        return Dictionary(route.map { ($0.workerID, expected * $0.layers.count) }, uniquingKeysWith: +)
    }

    /// Charges one decode step (w = 1) along a fixed route.
    public static func chargeDecode(_ route: [Hop], plan: Plan, iwrr: inout [String: IWRR]) {
        var node = PlanArc.source
        for hop in route {
            let flow = plan.arcs(from: node).first { $0.to == hop.workerID }?.flow ?? 0
            iwrr[node, default: IWRR()].charge(hop.workerID, weight: 1, flow: flow)
            node = hop.workerID
        }
    }
}
