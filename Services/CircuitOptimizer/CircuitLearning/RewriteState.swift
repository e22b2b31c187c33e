import CircuitCore

/// One circuit being rewritten: its DAG, the topological positions the matcher needs, and its cost.
/// Built on RewriteEngine's "rules that apply at gate g" and "apply rule r at g".
public struct RewriteState: Sendable {
    public private(set) var dag: CircuitDAG
    public private(set) var positions: [Int]
    public private(set) var cost: Int
    public let costKind: CostKind

    public init(_ circuit: Circuit, cost: CostKind) {
        dag = CircuitDAG(circuit)
        positions = RewriteEngine.positions(dag)
        costKind = cost
        self.cost = circuit.cost(cost)
    }

    public var circuit: Circuit { dag.circuit() }

    /// The match of each rule that applies at `node` (at most one per rule, anchored there).
    public func matches(at node: Int, engine: RewriteEngine) -> [Match] {
        engine.matches(at: node, in: dag, positions: positions)
    }

    /// Applies a match; returns the gates whose values estimate what the move leads to:
    /// the new gates and the gates just before them and before the replaced region.
    public mutating func apply(_ m: Match, engine: RewriteEngine) -> [Int] {
        var around = Set<Int>()
        let region = Set(m.nodes)
        for n in m.nodes { for p in dag.nodes[n].prev where p >= 0 && !region.contains(p) { around.insert(p) } }
        let created = engine.apply(m, to: &dag)
        for n in created {
            around.insert(n)
            for p in dag.nodes[n].prev where p >= 0 { around.insert(p) }
        }
        // Dead nodes pile up with every move; renumbering now and then keeps the graph build linear.
        if dag.nodes.count > 4 * max(dag.liveCount, 16) {
            let keep = dag.circuit()
            dag = CircuitDAG(keep)
            around = []
        }
        positions = RewriteEngine.positions(dag)
        cost = RewriteState.cost(of: dag, costKind)
        return around.filter { dag.isAlive($0) }.sorted()
    }

    static func cost(of dag: CircuitDAG, _ kind: CostKind) -> Int { dag.circuit().cost(kind) }
}
