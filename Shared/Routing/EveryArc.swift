extension FlowArc {
    /// Every arc a request can take between `nodes` over the links for which `linked(from, to)`
    /// holds (a full mesh unless told), each with unit flow: what the flow-blind policies (random,
    /// shortest-queue, Swarm) route over, flow or not, as the Helix artifact's Swarm scheduler picks
    /// among all of a node's outbound links. Strict: the next node starts where the current one
    /// ends; partial: it holds the next layer and more. The live scheduler and the simulator both
    /// call this, so their flow-blind routes are one rule.
    public static func everyArc(_ nodes: [RoutingNode], layerCount: Int, partial: Bool,
                                linked: (String, String) -> Bool = { _, _ in true }) -> [FlowArc] {
        let placed = nodes.filter { !$0.layers.isEmpty }
        func follows(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
            partial ? b.lowerBound <= a.upperBound && a.upperBound < b.upperBound : a.upperBound == b.lowerBound
        }
        var arcs = placed.filter { $0.layers.lowerBound == 0 }.map { FlowArc(from: source, to: $0.name, flow: 1) }
        for a in placed {
            arcs += placed.filter { $0.name != a.name && follows(a.layers, $0.layers) }.map { FlowArc(from: a.name, to: $0.name, flow: 1) }
            if a.layers.upperBound == layerCount { arcs.append(FlowArc(from: a.name, to: sink, flow: 1)) }
        }
        return arcs.filter { linked($0.from, $0.to) }
    }
}
