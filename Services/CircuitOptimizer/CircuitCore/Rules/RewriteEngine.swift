/// A place where a rule's source matches: the circuit nodes of each source gate, the qubit binding
/// and the parameter values bound.
public struct Match: Hashable, Sendable {
    public var rule: Int
    public var nodes: [Int]
    public var qubits: [Int]
    public var params: [Angle]
}

/// The rewrite environment: a circuit DAG, a rule set, "which rules apply at gate g" and "apply rule r at g".
/// Matching walks wires from an anchor gate through a discrimination net of the rule sources
/// (`RuleIndex`), so a gate is tried only against the rules whose first gates and wiring are there.
/// `RewriteEnvironment` keeps these matches up to date across edits.
public struct RewriteEngine: Sendable {
    public let rules: [Rule]
    let plans: [MatchPlan?]
    let index: RuleIndex

    public init(rules: [Rule]) {
        self.rules = rules
        plans = rules.map { MatchPlan($0.source) }
        index = RuleIndex(rules, plans: plans)
    }

    /// Topological positions of live nodes (needed by the convexity check).
    public static func positions(_ dag: CircuitDAG) -> [Int] {
        var pos = [Int](repeating: -1, count: dag.nodes.count)
        for (i, id) in dag.topologicalOrder().enumerated() { pos[id] = i }
        return pos
    }

    /// Every match of every rule (optionally only those accepted by `filter`) anchored at `node`.
    public func matches(at node: Int, in dag: CircuitDAG, positions: [Int], filter: (Rule) -> Bool = { _ in true }) -> [Match] {
        withoutActuallyEscaping(filter) { filter in
            var walk = NetWalk(index: index, rules: rules, dag: dag) { filter(rules[$0]) }
            walk.run(at: node)
            var marks = VisitMarks()
            return walk.matches.filter { isConvex($0.nodes, dag, positions, &marks) }.sorted { $0.rule < $1.rule }
        }
    }

    /// The matches at `node` before the convexity check, and every node the walk bound (the result
    /// can change only when one of those is removed or gets new neighbours).
    func candidates(at node: Int, in dag: CircuitDAG) -> (matches: [Match], touched: [Int]) {
        var walk = NetWalk(index: index, rules: rules, dag: dag) { _ in true }
        walk.recordTouched = true
        walk.run(at: node)
        return (walk.matches, walk.touched)
    }

    /// Applies a match; returns the new nodes.
    @discardableResult
    public func apply(_ m: Match, to dag: inout CircuitDAG) -> [Int] {
        dag.replace(m.nodes, with: replacement(for: m))
    }

    /// The gates a match is replaced by: the rule's target with the bound values (rz by a multiple of 2π dropped).
    public func replacement(for m: Match) -> [Gate] {
        rules[m.rule].target.instantiate(qubits: m.qubits, params: m.params).map { g in
            var g = g
            g.params = g.params.map(\.normalized)
            return g
        }.filter { !($0.kind == .rz && $0.params[0].isZeroModTwoPi) }
    }

    public func match(rule r: Int, at node: Int, in dag: CircuitDAG, positions: [Int]) -> Match? {
        guard let plan = plans[r] else { return nil }
        let src = rules[r].source.gates
        var nodes = [Int](repeating: -1, count: src.count)
        var qmap = [Int](repeating: -1, count: plan.qubits)
        var params = [Angle](repeating: .zero, count: plan.params)
        var bound = [Bool](repeating: false, count: plan.params)

        func bind(_ i: Int, _ n: Int) -> Bool {
            guard n >= 0, dag.isAlive(n), !nodes.contains(n) else { return false }
            let g = dag.gate(n), p = src[i]
            guard g.kind == p.kind else { return false }
            for (k, pq) in p.qubits.enumerated() {
                let q = g.qubits[k]
                if qmap[pq] >= 0 { if qmap[pq] != q { return false } } else {
                    if qmap.contains(q) { return false }
                    qmap[pq] = q
                }
            }
            if p.params.count == 1 {
                let k = p.params[0]
                if bound[k] { if !params[k].equalsModTwoPi(g.params[0]) { return false } } else {
                    params[k] = g.params[0]
                    bound[k] = true
                }
            }
            nodes[i] = n
            return true
        }

        guard bind(0, node) else { return nil }
        for step in plan.steps {
            let from = nodes[step.from]
            let q = qmap[step.wire]
            let n = step.forward ? dag.next(from, on: q) : dag.prev(from, on: q)
            guard bind(step.gate, n) else { return nil }
        }
        // Each wire of the region must be one contiguous run of the source's gates, in order.
        for (i, p) in src.enumerated() {
            for (k, pq) in p.qubits.enumerated() {
                let n = nodes[i]
                let q = qmap[pq]
                let want = plan.prevOnWire[i][k]
                let got = dag.prev(n, on: q)
                if want >= 0 { if got != nodes[want] { return nil } } else if got >= 0 && nodes.contains(got) { return nil }
            }
        }
        // Sums of parameters (rz(p0+p1) in a source) must agree with the values bound elsewhere.
        for (i, p) in src.enumerated() where p.params.count > 1 {
            guard p.params.allSatisfy({ bound[$0] }) else { return nil }
            let sum = p.params.dropFirst().reduce(params[p.params[0]]) { $0 + params[$1] }
            if !sum.equalsModTwoPi(dag.gate(nodes[i]).params[0]) { return nil }
        }
        var marks = VisitMarks()
        guard isConvex(nodes, dag, positions, &marks) else { return nil }
        let usedQ = (qmap.lastIndex { $0 >= 0 } ?? -1) + 1
        let usedP = (bound.lastIndex { $0 } ?? -1) + 1
        return Match(rule: r, nodes: nodes, qubits: Array(qmap[0..<usedQ]), params: Array(params[0..<usedP]))
    }

    /// No path may leave the region and come back into it (else the replacement would create a cycle).
    /// `pos` is any labelling of the live nodes that grows along every wire (a topological order):
    /// only nodes placed before the region's last one can lead back into it.
    func isConvex<P: Comparable>(_ region: [Int], _ dag: CircuitDAG, _ pos: [P], _ marks: inout VisitMarks) -> Bool {
        var top = pos[region[0]]
        for n in region { top = max(top, pos[n]) }
        var stack: [Int] = []
        for n in region { for s in dag.nodes[n].next where s >= 0 && !region.contains(s) && pos[s] < top { stack.append(s) } }
        if stack.isEmpty { return true }
        marks.clear(count: dag.nodes.count)
        while let s = stack.popLast() {
            guard marks.insert(s) else { continue }
            for t in dag.nodes[s].next where t >= 0 {
                if region.contains(t) { return false }
                if pos[t] < top { stack.append(t) }
            }
        }
        return true
    }
}

/// How to find a source's gates from its first: each step reaches one gate along a wire from one found earlier.
struct MatchPlan: Sendable {
    struct Step: Sendable {
        var gate: Int
        var from: Int
        var wire: Int
        var forward: Bool
    }
    var steps: [Step] = []
    /// For each source gate and port, the index of the source gate before it on that wire, or -1.
    var prevOnWire: [[Int]]
    var qubits: Int
    var params: Int

    /// nil when the source is empty or falls apart into pieces not linked by wires.
    init?(_ source: RuleCircuit) {
        let g = source.gates
        guard !g.isEmpty else { return nil }
        var prev = g.map { [Int](repeating: -1, count: $0.qubits.count) }
        var next = prev
        var last = [Int: (Int, Int)]()
        for (i, x) in g.enumerated() {
            for (k, q) in x.qubits.enumerated() {
                if let (j, kp) = last[q] { prev[i][k] = j; next[j][kp] = i }
                last[q] = (i, k)
            }
        }
        prevOnWire = prev
        qubits = (source.usedQubits.max() ?? 0) + 1
        params = (source.usedParams.max() ?? -1) + 1
        var found = [true] + [Bool](repeating: false, count: g.count - 1)
        var queue = [0]
        while let i = queue.first {
            queue.removeFirst()
            for (k, q) in g[i].qubits.enumerated() {
                for (j, fwd) in [(next[i][k], true), (prev[i][k], false)] where j >= 0 && !found[j] {
                    found[j] = true
                    steps.append(Step(gate: j, from: i, wire: q, forward: fwd))
                    queue.append(j)
                }
            }
        }
        if found.contains(false) { return nil }
    }
}

/// Visited marks for graph searches over node ids, cleared in O(1) by moving to a new stamp.
struct VisitMarks: Sendable {
    private var marks: [UInt32] = []
    private var stamp: UInt32 = 0

    mutating func clear(count: Int) {
        if marks.count < count { marks += [UInt32](repeating: 0, count: count - marks.count) }
        stamp &+= 1
        if stamp == 0 {
            for i in marks.indices { marks[i] = 0 }
            stamp = 1
        }
    }

    /// Marks `n`; false when it was marked already.
    mutating func insert(_ n: Int) -> Bool {
        if marks[n] == stamp { return false }
        marks[n] = stamp
        return true
    }
}
