/// A node of the routing graph: the layers it runs and what bounds the requests it can take.
public struct RoutingNode: Sendable, Equatable {
    public var name: String
    public var layers: Range<Int>
    /// KV capacity in token×layer entries with `layers` loaded.
    public var kvCapacity: Double
    /// The longest prompt the node takes in one batch.
    public var promptLimit: Int
    /// False while the node is loading, suspect or gone: it is masked.
    public var available: Bool

    public init(name: String, layers: Range<Int>, kvCapacity: Double, promptLimit: Int = .max, available: Bool = true) {
        self.name = name
        self.layers = layers
        self.kvCapacity = kvCapacity
        self.promptLimit = promptLimit
        self.available = available
    }
}

/// One arc of the plan's runtime flow; "source" and "sink" name the coordinator's two ends.
public struct FlowArc: Sendable, Equatable {
    public var from: String
    public var to: String
    public var flow: Double

    public init(from: String, to: String, flow: Double) {
        self.from = from
        self.to = to
        self.flow = flow
    }

    public static let source = "source"
    public static let sink = "sink"
}

/// The runtime flow per arc, indexed for routing: vertex `n` (the node count) is the source.
/// Arcs carrying less than `minimumShare` of their vertex's outflow (sink arcs included) are
/// masked once here, as the flow does not change until the next plan. Each vertex's successors
/// go in `NodeOrder` of their names: the policies break ties by that order.
public struct FlowGraph: Sendable {
    public struct Successor: Sendable, Equatable {
        public var node: Int
        public var flow: Double
    }

    public var nodes: [RoutingNode]
    public let layerCount: Int
    /// Partial inference: the next hop may start inside its range and runs from there to its end.
    /// Strict: the next hop's range starts exactly where the current one ends.
    public let partial: Bool
    public let successors: [[Successor]]
    public let index: [String: Int]

    public var source: Int { nodes.count }

    public init(nodes: [RoutingNode], arcs: [FlowArc], layerCount: Int, partial: Bool, minimumShare: Double = 0.05) {
        self.nodes = nodes
        self.layerCount = layerCount
        self.partial = partial
        var index: [String: Int] = [:]
        for (i, node) in nodes.enumerated() { index[node.name] = i }
        self.index = index
        let n = nodes.count
        var out = Array(repeating: [Successor](), count: n + 1)
        var outflow = Array(repeating: 0.0, count: n + 1)
        for arc in arcs where arc.flow > 0 {
            guard let from = arc.from == FlowArc.source ? n : index[arc.from] else { continue }
            outflow[from] += arc.flow
            if let to = index[arc.to] { out[from].append(Successor(node: to, flow: arc.flow)) }
        }
        // Ties between arcs are broken in this order (`NodeOrder`), whatever order the nodes came in.
        successors = out.enumerated().map { v, arcs in
            arcs.filter { $0.flow >= minimumShare * outflow[v] }.sorted {
                NodeOrder.precedes(nodes[$0.node].name, nodes[$1.node].name) || (nodes[$0.node].name == nodes[$1.node].name && $0.node < $1.node)
            }
        }
    }

    /// Layers node `j` runs for a request whose next layer is `layer`, or nil if it cannot continue there.
    public func layers(of j: Int, from layer: Int) -> Range<Int>? {
        let range = nodes[j].layers
        if partial { return range.lowerBound <= layer && layer < range.upperBound ? layer..<range.upperBound : nil }
        return range.lowerBound == layer && range.upperBound > layer ? range : nil
    }
}
