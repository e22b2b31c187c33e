/// A discrimination net over rule sources. Every source is matched from its first gate by the same
/// breadth-first walk along wires (`MatchPlan`), so sources that start alike share the first steps of
/// that walk: a trie keyed by each step (which found gate, which of its ports, which direction) and by
/// what the step must reach (gate kind and how its qubits bind). Matching at a gate walks the trie once,
/// so a gate is tried only against rules whose first gates and wiring are really there.
struct RuleIndex: Sendable {
    /// One step of the walk and what it must reach. Found gates and qubits are numbered in the order the
    /// walk binds them, which makes equal prefixes of different rules equal keys.
    struct Edge: Hashable, Sendable {
        var from: Int
        var port: Int
        var forward: Bool
        var kind: GateKind
        /// Per port of the reached gate: the qubit's number (equal to the count bound so far when new).
        var qubits: [Int]
    }

    /// A rule whose whole source has been walked at this trie node, with what the final checks need.
    struct Leaf: Sendable {
        var rule: Int
        /// Source gate i was found as the walk's gate `found[i]`; `sourceOf` is the inverse.
        var found: [Int]
        var sourceOf: [Int]
        /// Source qubit → the walk's qubit number (-1 where the source does not use that qubit).
        var qubitNumber: [Int]
        /// Per source gate and port: the source gate before it on that wire, or -1.
        var prevOnWire: [[Int]]
        var paramCount: Int
    }

    struct Node: Sendable {
        var edges: [(edge: Edge, child: Int)] = []
        var leaves: [Leaf] = []
    }

    private(set) var nodes: [Node] = []
    private(set) var roots: [GateKind: Int] = [:]
    /// The most gates any source has.
    private(set) var depth = 0

    init(_ rules: [Rule], plans: [MatchPlan?]) {
        for (r, rule) in rules.enumerated() {
            guard let plan = plans[r] else { continue }
            add(rule: r, source: rule.source, plan: plan)
        }
    }

    private mutating func add(rule r: Int, source: RuleCircuit, plan: MatchPlan) {
        let g = source.gates
        depth = max(depth, g.count)
        let order = [0] + plan.steps.map(\.gate)
        var found = [Int](repeating: -1, count: g.count)
        for (f, i) in order.enumerated() { found[i] = f }
        var number = [Int](repeating: -1, count: plan.qubits)
        var bound = 0
        func numbers(_ gate: PatternGate) -> [Int] {
            gate.qubits.map { q in
                if number[q] < 0 { number[q] = bound; bound += 1 }
                return number[q]
            }
        }
        _ = numbers(g[0])
        var at = root(g[0].kind)
        for step in plan.steps {
            let port = g[step.from].qubits.firstIndex(of: step.wire) ?? 0
            let edge = Edge(from: found[step.from], port: port, forward: step.forward, kind: g[step.gate].kind, qubits: numbers(g[step.gate]))
            at = child(of: at, edge)
        }
        nodes[at].leaves.append(Leaf(rule: r, found: found, sourceOf: order, qubitNumber: number,
                                     prevOnWire: plan.prevOnWire, paramCount: plan.params))
    }

    private mutating func root(_ kind: GateKind) -> Int {
        if let n = roots[kind] { return n }
        nodes.append(Node())
        roots[kind] = nodes.count - 1
        return nodes.count - 1
    }

    private mutating func child(of n: Int, _ e: Edge) -> Int {
        if let c = nodes[n].edges.first(where: { $0.edge == e })?.child { return c }
        nodes.append(Node())
        nodes[n].edges.append((e, nodes.count - 1))
        return nodes.count - 1
    }
}

/// One walk of the net from an anchor gate: collects the matches (all but convexity checked) and,
/// when asked, every node it bound (what the result depends on, for incremental updates).
struct NetWalk {
    let index: RuleIndex
    let rules: [Rule]
    let dag: CircuitDAG
    let accept: (Int) -> Bool
    var found: [Int]
    var qubits: [Int]
    var bound = 0
    var matches: [Match] = []
    var touched: [Int] = []
    var recordTouched = false

    init(index: RuleIndex, rules: [Rule], dag: CircuitDAG, accept: @escaping (Int) -> Bool) {
        self.index = index
        self.rules = rules
        self.dag = dag
        self.accept = accept
        found = [Int](repeating: -1, count: max(index.depth, 1))
        qubits = [Int](repeating: -1, count: max(index.depth, 1) * 3)
    }

    mutating func run(at anchor: Int) {
        guard dag.isAlive(anchor) else { return }
        let gate = dag.nodes[anchor].gate
        guard let root = index.roots[gate.kind] else { return }
        found[0] = anchor
        for (p, q) in gate.qubits.enumerated() { qubits[p] = q }
        bound = gate.qubits.count
        if recordTouched { touched.append(anchor) }
        visit(root, depth: 1)
    }

    private mutating func visit(_ n: Int, depth: Int) {
        let node = index.nodes[n]
        for leaf in node.leaves where accept(leaf.rule) {
            if let m = finish(leaf) { matches.append(m) }
        }
        for (e, child) in node.edges {
            let from = dag.nodes[found[e.from]]
            let x = e.forward ? from.next[e.port] : from.prev[e.port]
            guard x >= 0 else { continue }
            let g = dag.nodes[x].gate
            guard g.kind == e.kind, !found[0..<depth].contains(x) else { continue }
            let saved = bound
            var ok = true
            for (p, number) in e.qubits.enumerated() {
                let q = g.qubits[p]
                if number < bound {
                    if qubits[number] != q { ok = false; break }
                } else {
                    if qubits[0..<bound].contains(q) { ok = false; break }
                    qubits[bound] = q
                    bound += 1
                }
            }
            if ok {
                found[depth] = x
                if recordTouched { touched.append(x) }
                visit(child, depth: depth + 1)
            }
            bound = saved
        }
    }

    /// The checks a walk cannot make gate by gate: each wire of the region one contiguous run in the
    /// source's order, and parameter values consistent (repeated and summed ones).
    private func finish(_ leaf: RuleIndex.Leaf) -> Match? {
        let src = rules[leaf.rule].source.gates
        let nodes = leaf.found.map { found[$0] }
        for (i, want) in leaf.prevOnWire.enumerated() {
            let prev = dag.nodes[nodes[i]].prev
            for (k, w) in want.enumerated() {
                if w >= 0 { if prev[k] != nodes[w] { return nil } } else if prev[k] >= 0 && nodes.contains(prev[k]) { return nil }
            }
        }
        var params = [Angle](repeating: .zero, count: leaf.paramCount)
        var isBound = [Bool](repeating: false, count: leaf.paramCount)
        for i in leaf.sourceOf where src[i].params.count == 1 {
            let k = src[i].params[0], value = dag.nodes[nodes[i]].gate.params[0]
            if isBound[k] { if !params[k].equalsModTwoPi(value) { return nil } } else {
                params[k] = value
                isBound[k] = true
            }
        }
        for (i, p) in src.enumerated() where p.params.count > 1 {
            guard p.params.allSatisfy({ isBound[$0] }) else { return nil }
            let sum = p.params.dropFirst().reduce(params[p.params[0]]) { $0 + params[$1] }
            if !sum.equalsModTwoPi(dag.nodes[nodes[i]].gate.params[0]) { return nil }
        }
        let usedQ = (leaf.qubitNumber.lastIndex { $0 >= 0 } ?? -1) + 1
        let usedP = (isBound.lastIndex { $0 } ?? -1) + 1
        return Match(rule: leaf.rule, nodes: nodes, qubits: leaf.qubitNumber[0..<usedQ].map { $0 >= 0 ? qubits[$0] : -1 },
                     params: Array(params[0..<usedP]))
    }
}
