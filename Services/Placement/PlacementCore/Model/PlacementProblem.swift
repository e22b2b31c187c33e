import Foundation

/// Everything a placement solver needs, in solver units (tokens/s): per-node throughput tables,
/// directed arcs with capacities, the number of layers. Built from a cluster, a model and
/// per-type throughput tables; plain values, so a solve can run anywhere.
public struct PlacementProblem: Sendable {
    public struct Node: Sendable {
        public var name: String
        public var type: String
        public var region: String?
        /// T(k) for k = 1...maxLayers (index k-1), already capped by the NIC.
        public var throughput: [Double]
        public var kvCapacity: [Int]
        public var promptMaxRequests: [Int]
        public var nicInBytesPerSecond: Double
        public var nicOutBytesPerSecond: Double
        public var maxLayers: Int { throughput.count }

        public func throughput(layers k: Int) -> Double { (1...max(1, maxLayers)).contains(k) ? throughput[k - 1] : 0 }
    }

    /// A directed arc of the MILP graph (source arcs only leave the source, sink arcs only enter the sink).
    public struct Arc: Sendable, Hashable {
        public var from: Endpoint
        public var to: Endpoint
        public var bandwidthBytesPerSecond: Double
        public var latencySeconds: Double
    }

    public var clusterName: String
    public var model: ModelSpec
    public var nodes: [Node]
    public var arcs: [Arc]
    public var numLayers: Int { model.numLayers }

    /// UB = Σ_i max_k k T_i(k) / L: every node fully busy.
    public var upperBound: Double {
        nodes.reduce(0) { sum, node in sum + (node.throughput.enumerated().map { Double($0.offset + 1) * $0.element }.max() ?? 0) } / Double(numLayers)
    }

    /// Capacity of an arc in the MILP graph: token ids on source/sink arcs, activations between nodes.
    public func milpCapacity(_ arc: Arc) -> Double {
        let bytes = (arc.from == .source || arc.to == .sink) ? model.tokenSize : model.activationSize
        return arc.bandwidthBytesPerSecond / bytes
    }

    public init(clusterName: String, model: ModelSpec, nodes: [Node], arcs: [Arc]) {
        self.clusterName = clusterName
        self.model = model
        self.nodes = nodes
        self.arcs = arcs
    }

    /// Builds the problem from per-type tables (computed by `ThroughputModel` or read from the artifact).
    public init(cluster: Cluster, model: ModelSpec, tables: [String: TypeThroughput]) throws {
        var nodes: [Node] = []
        for (i, node) in cluster.nodes.enumerated() {
            guard let table = tables[node.type] else {
                throw PlacementError(section: "node \(i) (\(node.name))", field: "type", "no throughput table for type '\(node.type)'")
            }
            let machine = cluster.machineTypes[node.type]
            nodes.append(Node(name: node.name, type: node.type, region: node.region, throughput: table.tokensPerSecond,
                              kvCapacity: table.kvCapacity, promptMaxRequests: table.promptMaxRequests,
                              nicInBytesPerSecond: machine?.nicInBytesPerSecond ?? .infinity,
                              nicOutBytesPerSecond: machine?.nicOutBytesPerSecond ?? .infinity))
        }
        var arcs: [Arc] = []
        for link in cluster.links {
            for (from, to) in [(link.a, link.b), (link.b, link.a)] where from != .sink && to != .source && !(from == .source && to == .sink) {
                arcs.append(Arc(from: from, to: to, bandwidthBytesPerSecond: link.bandwidthBytesPerSecond, latencySeconds: link.latencySeconds))
            }
        }
        self.init(clusterName: cluster.name, model: model, nodes: nodes, arcs: arcs)
        let total = nodes.reduce(0) { $0 + $1.maxLayers }
        if total < model.numLayers {
            throw PlacementError(section: "cluster \(cluster.name)", "the model cannot fit: \(model.name) has \(model.numLayers) layers but all nodes together hold at most \(total)")
        }
    }

    /// The usual way in: cluster file + model; T(k) from our throughput model, or, with
    /// `useReferenceTables`, from the artifact's tables when it has this cluster.
    public static func load(clusterPath: String, model: ModelSpec, dataDirectory: String = SharedData.directory,
                            useReferenceTables: Bool = false) throws -> PlacementProblem {
        let cluster = try ClusterLoader.load(path: clusterPath, dataDirectory: dataDirectory)
        if useReferenceTables, let mk = ReferenceTables.modelKey(for: model), let ck = ReferenceTables.clusterKey(for: cluster.name) {
            let entry = try ReferenceTables.load(path: dataDirectory + "/helix/profiles/node_throughput_tables.json", modelKey: mk, clusterKey: ck)
            return try PlacementProblem(cluster: cluster, model: model, tables: entry.tables)
        }
        let profiles = try GPUProfile.loadAll(cluster: cluster, model: model, dataDirectory: dataDirectory)
        let tables = try ThroughputModel.tables(model: model, mix: cluster.typeCounts, profiles: profiles, machines: cluster.machineTypes)
        return try PlacementProblem(cluster: cluster, model: model, tables: tables)
    }
}
