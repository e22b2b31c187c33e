import CircuitCore

/// A circuit DAG as a graph a GNN reads: one row per live gate (its kind), and for every pair of
/// gates adjacent on a wire two edges, forward and backward, each with the source port, the
/// destination port (one-hot) and a direction flag.
public struct CircuitGraph: Sendable {
    /// Ports one-hot (3 + 3) plus the direction flag.
    public static let edgeWidth = 7
    public static let kindCount = GateKind.allCases.count

    /// Gate kind index per row.
    public var kinds: [Int]
    public var sources: [Int]
    public var targets: [Int]
    /// `edgeWidth` floats per edge.
    public var edgeFeatures: [Float]

    public var nodeCount: Int { kinds.count }
    public var edgeCount: Int { sources.count }

    static let kindIndex: [GateKind: Int] = Dictionary(uniqueKeysWithValues: GateKind.allCases.enumerated().map { ($1, $0) })

    public init(kinds: [Int], sources: [Int], targets: [Int], edgeFeatures: [Float]) {
        self.kinds = kinds
        self.sources = sources
        self.targets = targets
        self.edgeFeatures = edgeFeatures
    }

    /// The graph of a DAG's live gates; `rows[i]` is the DAG node of row i, `rowOf[node]` the row (or -1).
    public init(_ dag: CircuitDAG) {
        self.init(dag, nodes: (0..<dag.nodes.count).filter { dag.isAlive($0) })
    }

    /// The graph of the live gates `nodes` (row i is `nodes[i]`) and the wire edges among them.
    public init(_ dag: CircuitDAG, nodes: [Int]) {
        var rowOf = [Int](repeating: -1, count: dag.nodes.count)
        for (row, id) in nodes.enumerated() { rowOf[id] = row }
        var kinds: [Int] = [], sources: [Int] = [], targets: [Int] = [], features: [Float] = []
        kinds.reserveCapacity(nodes.count)
        for id in nodes {
            let node = dag.nodes[id]
            kinds.append(CircuitGraph.kindIndex[node.gate.kind] ?? 0)
            for (p, next) in node.next.enumerated() where next >= 0 && rowOf[next] >= 0 {
                let q = node.gate.qubits[p]
                let p2 = dag.port(of: q, in: next)
                for forward in [true, false] {
                    sources.append(forward ? rowOf[id] : rowOf[next])
                    targets.append(forward ? rowOf[next] : rowOf[id])
                    var e = [Float](repeating: 0, count: CircuitGraph.edgeWidth)
                    e[min(forward ? p : p2, 2)] = 1
                    e[3 + min(forward ? p2 : p, 2)] = 1
                    e[6] = forward ? 1 : 0
                    features += e
                }
            }
        }
        self.init(kinds: kinds, sources: sources, targets: targets, edgeFeatures: features)
        self.rows = nodes
        self.rowOf = rowOf
    }

    /// The gates within `hops` wire steps of the live gate `center` (its row is 0), read straight off
    /// the DAG: a GNN of `hops` layers computes the same embedding for the center on it as on the whole circuit.
    public init(_ dag: CircuitDAG, around center: Int, hops: Int) {
        var order = [center]
        var seen: Set<Int> = [center]
        var frontier = [center]
        for _ in 0..<hops {
            var next: [Int] = []
            for n in frontier {
                for x in dag.nodes[n].prev + dag.nodes[n].next where x >= 0 && seen.insert(x).inserted {
                    order.append(x)
                    next.append(x)
                }
            }
            frontier = next
        }
        self.init(dag, nodes: order)
    }

    /// DAG node per row (empty for graphs not made from a DAG).
    public private(set) var rows: [Int] = []
    /// Row per DAG node, -1 for dead nodes.
    public private(set) var rowOf: [Int] = []

    /// The subgraph of rows within `hops` edges of `center`, and the center's row in it: a GNN of
    /// `hops` layers computes the same embedding for the center on it as on the whole graph.
    public func neighbourhood(of center: Int, hops: Int) -> (graph: CircuitGraph, center: Int) {
        // Incoming edges per row (every edge has its reverse, so these reach all neighbours).
        var adjacency = [[Int]](repeating: [], count: nodeCount)
        for (e, t) in targets.enumerated() { adjacency[t].append(e) }
        var newRow = [Int: Int]()
        var order = [center]
        newRow[center] = 0
        var frontier = [center]
        for _ in 0..<hops {
            var next: [Int] = []
            for r in frontier {
                for e in adjacency[r] where newRow[sources[e]] == nil {
                    newRow[sources[e]] = order.count
                    order.append(sources[e])
                    next.append(sources[e])
                }
            }
            frontier = next
        }
        var sub = CircuitGraph(kinds: order.map { kinds[$0] }, sources: [], targets: [], edgeFeatures: [])
        for e in 0..<edgeCount {
            guard let s = newRow[sources[e]], let t = newRow[targets[e]] else { continue }
            sub.sources.append(s)
            sub.targets.append(t)
            sub.edgeFeatures += edgeFeatures[(e * CircuitGraph.edgeWidth)..<((e + 1) * CircuitGraph.edgeWidth)]
        }
        return (sub, 0)
    }

    /// Many graphs as one disconnected graph; `offsets[i]` is the first row of graph i.
    public static func batch(_ graphs: [CircuitGraph]) -> (graph: CircuitGraph, offsets: [Int]) {
        var out = CircuitGraph(kinds: [], sources: [], targets: [], edgeFeatures: [])
        var offsets: [Int] = []
        for g in graphs {
            let base = out.nodeCount
            offsets.append(base)
            out.kinds += g.kinds
            out.sources += g.sources.map { $0 + base }
            out.targets += g.targets.map { $0 + base }
            out.edgeFeatures += g.edgeFeatures
        }
        return (out, offsets)
    }
}
