/// What one rewrite did: the nodes it removed and created, and where it happened.
public struct Rewrite: Sendable {
    public var rule: Int
    public var removed: [Int]
    public var created: [Int]
    /// The created gates and the live gates directly before and after them on their wires; when the rule
    /// only deletes, the live gates that bordered the removed region. This is "the rewritten region" a
    /// learner values.
    public var neighbourhood: [Int]
    /// The live gates that bordered the removed region (before or after it on a wire): their wire
    /// neighbours changed.
    public var rewired: [Int]
    /// The change of `cost` (negative when the rewrite helps).
    public var costChange: Int
}

/// A circuit under rewriting, kept ready for the next step: "which rules apply at gate g" and "apply rule r
/// at g" cost about as much as the rewritten region, not the circuit.
///
/// Kept up to date across edits, each touching only the rewritten region and its neighbours:
/// - a topological labelling of the live nodes (for the convexity check), new gates placed between their
///   neighbours' labels (a full relabelling only when the order between the neighbours must change);
/// - per gate, the matches found from it (before the convexity check, which can depend on far-away gates
///   and so is made on every query) and which nodes that result depends on: a rewrite marks stale only
///   the gates whose matches bound a removed gate or one whose neighbours changed;
/// - a hash of the gate DAG (equal for circuits that differ only in the order of independent gates),
///   gate count and cx count.
public struct RewriteEnvironment: Sendable {
    public let engine: RewriteEngine
    public let costKind: CostKind
    public private(set) var dag: CircuitDAG
    public private(set) var hash: Int = 0
    public private(set) var gateCount: Int = 0
    public private(set) var cxCount: Int = 0
    /// How many times the labelling had to be rebuilt (a rewrite reordered gates around its region).
    public private(set) var relabellings = 0

    var labels: [Double] = []
    var cached: [[Match]?] = []
    var dependents: [[Int32]] = []
    var nodeHashes: [Int] = []
    var marks = VisitMarks()

    public init(_ circuit: Circuit, engine: RewriteEngine, cost: CostKind = .gates) {
        self.engine = engine
        costKind = cost
        dag = CircuitDAG(circuit)
        grow()
        relabel()
        for id in 0..<dag.nodes.count {
            nodeHashes[id] = nodeHash(id)
            hash &+= nodeHashes[id]
            count(dag.nodes[id].gate, sign: 1)
        }
    }

    public init(_ circuit: Circuit, rules: [Rule], cost: CostKind = .gates) {
        self.init(circuit, engine: RewriteEngine(rules: rules), cost: cost)
    }

    public var rules: [Rule] { engine.rules }

    /// The live gates' node ids, ascending.
    public var gates: [Int] { (0..<dag.nodes.count).filter { dag.nodes[$0].alive } }

    public var cost: Int {
        switch costKind {
        case .gates: return gateCount
        case .cx: return cxCount
        case .depth: return circuit().depth
        }
    }

    public func circuit() -> Circuit { dag.circuit() }

    /// Every match anchored at gate `g` (its source's first gate on `g`), in rule order; empty for a dead id.
    public mutating func matches(at g: Int) -> [Match] {
        guard dag.isAlive(g) else { return [] }
        if cached[g] == nil {
            let (found, touched) = engine.candidates(at: g, in: dag)
            cached[g] = found.sorted { $0.rule < $1.rule }
            for n in touched { dependents[n].append(Int32(g)) }
        }
        return (cached[g] ?? []).filter { engine.isConvex($0.nodes, dag, labels, &marks) }
    }

    /// The rules that apply at gate `g`, ascending.
    public mutating func applicableRules(at g: Int) -> [Int] { matches(at: g).map(\.rule) }

    /// The action mask at gate `g`: one flag per rule.
    public mutating func mask(at g: Int) -> [Bool] {
        var out = [Bool](repeating: false, count: rules.count)
        for m in matches(at: g) { out[m.rule] = true }
        return out
    }

    /// Applies rule `r` at gate `g`; nil when it does not apply there.
    @discardableResult
    public mutating func apply(rule r: Int, at g: Int) -> Rewrite? {
        guard let m = matches(at: g).first(where: { $0.rule == r }) else { return nil }
        return apply(m)
    }

    /// Applies a match found by `matches(at:)` on the current circuit.
    @discardableResult
    public mutating func apply(_ m: Match) -> Rewrite {
        let before = cost
        var border: [Int] = []
        var after: [Int] = []
        for id in m.nodes {
            for p in dag.nodes[id].prev where p >= 0 && !m.nodes.contains(p) && !border.contains(p) { border.append(p) }
            for s in dag.nodes[id].next where s >= 0 && !m.nodes.contains(s) && !after.contains(s) { after.append(s) }
        }
        // Removed gates and gates with new neighbours invalidate the matches that bound them.
        for n in m.nodes + border + after { invalidate(dependentsOf: n) }
        for n in m.nodes + after { hash &-= nodeHashes[n] }
        for n in m.nodes { count(dag.nodes[n].gate, sign: -1) }

        let created = engine.apply(m, to: &dag)
        grow()
        if !place(created) { relabel() }
        for n in created { count(dag.nodes[n].gate, sign: 1) }
        for n in created + after {
            nodeHashes[n] = nodeHash(n)
            hash &+= nodeHashes[n]
        }
        var around = created
        for n in created {
            for x in dag.nodes[n].prev + dag.nodes[n].next where x >= 0 && !around.contains(x) { around.append(x) }
        }
        if created.isEmpty { around = border + after }
        return Rewrite(rule: m.rule, removed: m.nodes, created: created, neighbourhood: around,
                       rewired: border + after, costChange: cost - before)
    }

    private mutating func invalidate(dependentsOf n: Int) {
        for a in dependents[n] { cached[Int(a)] = nil }
        dependents[n] = []
        cached[n] = nil
    }

    private mutating func grow() {
        let n = dag.nodes.count
        guard labels.count < n else { return }
        let extra = n - labels.count
        labels += [Double](repeating: 0, count: extra)
        cached += [[Match]?](repeating: nil, count: extra)
        dependents += [[Int32]](repeating: [], count: extra)
        nodeHashes += [Int](repeating: 0, count: extra)
    }

    /// Labels every live node by its place in a topological order.
    private mutating func relabel() {
        for (i, id) in dag.topologicalOrder().enumerated() { labels[id] = Double(i) }
        relabellings += 1
    }

    /// Labels new gates (given in an order that respects their wires) strictly between their neighbours;
    /// false when there is no room (the order around the region must change, or the gaps are used up).
    private mutating func place(_ created: [Int]) -> Bool {
        let fresh = Set(created)
        // Upper bounds first, from the last new gate back: the smallest label after each one.
        var upper: [Int: Double] = [:]
        for n in created.reversed() {
            var hi = Double.infinity
            for s in dag.nodes[n].next where s >= 0 { hi = min(hi, fresh.contains(s) ? upper[s] ?? .infinity : labels[s]) }
            upper[n] = hi
        }
        for n in created {
            var lo = -Double.infinity
            for p in dag.nodes[n].prev where p >= 0 { lo = max(lo, labels[p]) }
            let hi = upper[n] ?? .infinity
            let label: Double
            switch (lo.isFinite, hi.isFinite) {
            case (true, true): label = lo + (hi - lo) / 2
            case (true, false): label = lo + 1
            case (false, true): label = hi - 1
            case (false, false): label = 0
            }
            guard lo < label && label < hi else { return false }
            labels[n] = label
        }
        return true
    }

    /// The hash the circuit would have after applying `m`, computed without applying it.
    public func hash(after m: Match) -> Int {
        var h = hash
        // The gate before the region on each of its wires (nil at the wire's start), then the new gates in turn.
        var last: [Int: Gate?] = [:]
        var after: [Int] = []
        for id in m.nodes {
            let node = dag.nodes[id]
            for (p, q) in node.gate.qubits.enumerated() {
                if !m.nodes.contains(node.prev[p]) { last[q] = node.prev[p] >= 0 ? dag.nodes[node.prev[p]].gate : nil }
                if node.next[p] >= 0 && !m.nodes.contains(node.next[p]) && !after.contains(node.next[p]) { after.append(node.next[p]) }
            }
            h &-= nodeHashes[id]
        }
        for g in engine.replacement(for: m) {
            h &+= Self.share(g, prevs: g.qubits.map { last[$0] ?? nil })
            for q in g.qubits { last[q] = g }
        }
        for s in after {
            let node = dag.nodes[s]
            let prevs = node.gate.qubits.enumerated().map { p, q -> Gate? in
                let before = node.prev[p]
                return m.nodes.contains(before) ? (last[q] ?? nil) : (before >= 0 ? dag.nodes[before].gate : nil)
            }
            h &+= Self.share(node.gate, prevs: prevs) &- nodeHashes[s]
        }
        return h
    }

    /// The DAG hash of a circuit (what `hash` is for an environment on it).
    public static func hash(of c: Circuit) -> Int {
        let dag = CircuitDAG(c)
        return (0..<dag.nodes.count).reduce(0) { $0 &+ nodeHash(dag, $1) }
    }

    private func nodeHash(_ n: Int) -> Int { Self.nodeHash(dag, n) }

    /// A node's share of the DAG hash: its gate and the gate before it on each wire.
    static func nodeHash(_ dag: CircuitDAG, _ n: Int) -> Int {
        share(dag.nodes[n].gate, prevs: dag.nodes[n].prev.map { $0 >= 0 ? dag.nodes[$0].gate : nil })
    }

    static func share(_ g: Gate, prevs: [Gate?]) -> Int {
        var h = Hasher()
        h.combine(g)
        for p in prevs { h.combine(p) }
        return h.finalize()
    }

    private mutating func count(_ g: Gate, sign: Int) {
        gateCount += sign * g.kind.gateCountWeight
        cxCount += sign * g.kind.cxCountWeight
    }
}
