import Foundation

/// The placement MILP on GLPK, in one of two formulations:
///
/// - **Aggregated** (exact when every node pair and source/sink are linked with bandwidth that can
///   never bind, as in single24, cluster42 and cluster10): identical nodes are one class with
///   integer counts y[c,s,k] of nodes holding layers [s, s+k). This removes all symmetry among
///   identical nodes and the big-M arcs. Partial inference: max z with z ≤ Σ T y over the
///   intervals covering each layer (max-flow equals the thinnest layer coverage there). Strict:
///   flows f[c,s,k] ≤ T y with conservation at every layer boundary.
/// - **General** (spec §3, for clusters whose links can bind, e.g. geo24): per-node one-hot
///   lengths, integer starts, arc flows and big-M arc switches on the pruned link set.
struct MILPSolver {
    let problem: PlacementProblem
    let connectivity: Connectivity

    struct Outcome {
        var placement: Placement?
        var bound: Double
        var provenOptimal: Bool
        /// Whether the model solved is exact for this cluster (its bound is a true bound).
        var exactModel: Bool
        var statistics: [String: Double]
    }

    /// Node classes: same type and same throughput table.
    var classes: [[Int]] {
        var groups: [[Int]] = []
        for i in problem.nodes.indices {
            if let g = groups.firstIndex(where: { problem.nodes[$0[0]].type == problem.nodes[i].type && problem.nodes[$0[0]].throughput == problem.nodes[i].throughput }) {
                groups[g].append(i)
            } else {
                groups.append([i])
            }
        }
        return groups
    }

    /// True when links can never limit the flow: every node reaches every other node, the
    /// source reaches every node and every node the sink, each with capacity at least the
    /// smaller of the two endpoints' best throughput.
    var linksNeverBind: Bool {
        let n = problem.nodes.count
        let best = problem.nodes.map { $0.throughput.max() ?? 0 }
        var capacity: [Endpoint: [Endpoint: Double]] = [:]
        for arc in problem.arcs { capacity[arc.from, default: [:]][arc.to, default: 0] += problem.milpCapacity(arc) }
        for i in 0..<n {
            guard (capacity[.source]?[.node(i)] ?? 0) >= best[i], (capacity[.node(i)]?[.sink] ?? 0) >= best[i] else { return false }
            for j in 0..<n where j != i {
                guard (capacity[.node(i)]?[.node(j)] ?? 0) >= min(best[i], best[j]) else { return false }
            }
        }
        return true
    }

    func solve(warmStart: Placement, clock: Clock, deadline: Double, options: SolveOptions) -> Outcome {
        if linksNeverBind { return solveAggregated(warmStart: warmStart, clock: clock, deadline: deadline, options: options) }
        return solveGeneral(warmStart: warmStart, clock: clock, deadline: deadline, options: options)
    }

    // MARK: Aggregated formulation

    func solveAggregated(warmStart: Placement, clock: Clock, deadline: Double, options: SolveOptions) -> Outcome {
        let L = problem.numLayers
        let groups = classes
        let search = LocalSearch(problem: problem, connectivity: connectivity)
        var lp = LinearProgram()
        var y: [(c: Int, s: Int, k: Int, col: Int, flow: Int)] = []
        let z = connectivity == .partial ? lp.addColumn("z", objective: 1) : -1
        for (c, members) in groups.enumerated() {
            let node = problem.nodes[members[0]]
            // Partial: a longer interval with at least the throughput dominates, keep only the rest.
            let lengths = connectivity == .partial ? search.lengths[members[0]] : Array(1...max(1, node.maxLayers))
            for k in lengths where k <= L && node.throughput(layers: k) > 0 {
                for s in 0...(L - k) {
                    let col = lp.addColumn("y_\(c)_\(s)_\(k)", lower: 0, upper: Double(members.count), kind: .integer)
                    var flow = -1
                    if connectivity == .strict {
                        flow = lp.addColumn("f_\(c)_\(s)_\(k)", objective: s == 0 ? 1 : 0)
                        lp.addRow([(flow, 1), (col, -node.throughput(layers: k))], upper: 0)
                    }
                    y.append((c, s, k, col, flow))
                }
            }
            lp.addRow(y.filter { $0.c == c }.map { ($0.col, 1) }, upper: Double(members.count))
        }
        if connectivity == .partial {
            for l in 0..<L {
                var terms = y.filter { $0.s <= l && l < $0.s + $0.k }.map { ($0.col, problem.nodes[groups[$0.c][0]].throughput(layers: $0.k)) }
                terms.append((z, -1))
                lp.addRow(terms, lower: 0)
            }
        } else {
            for b in 1..<L {
                var terms = y.filter { $0.s + $0.k == b }.map { ($0.flow, 1.0) }
                terms += y.filter { $0.s == b }.map { ($0.flow, -1.0) }
                lp.addRow(terms, lower: 0, upper: 0)
            }
        }
        // Warm start: counts of the heuristic placement (and, strict, its max-flow node flows).
        var start = [Double](repeating: 0, count: lp.columns.count)
        let warmFlows = FlowScorer.milpFlow(problem, warmStart, connectivity)
        var complete = true
        for (i, range) in warmStart.ranges.enumerated() {
            guard let range else { continue }
            guard let c = groups.firstIndex(where: { $0.contains(i) }), let entry = y.first(where: { $0.c == c && $0.s == range.start && $0.k == range.count }) else {
                complete = false; continue
            }
            start[entry.col] += 1
            if entry.flow >= 0 { start[entry.flow] += warmFlows.nodeFlows[i] }
        }
        if z >= 0 { start[z] = warmFlows.value }
        let outcome = lp.maximize(warmStart: complete ? start : nil, clock: clock, deadline: deadline, upperBound: problem.upperBound, options: options)
        var stats: [String: Double] = ["milp_columns": Double(lp.columns.count), "milp_rows": Double(lp.rows.count),
                                       "milp_objective": outcome.objective, "milp_bound": outcome.bound, "milp_aggregated": 1]
        guard let values = outcome.values else {
            stats["milp_failed"] = 1
            return Outcome(placement: nil, bound: outcome.bound, provenOptimal: false, exactModel: true, statistics: stats)
        }
        // Hand out the counted intervals to the class members in index order.
        var ranges = [LayerRange?](repeating: nil, count: problem.nodes.count)
        var nextMember = [Int](repeating: 0, count: groups.count)
        for entry in y {
            let count = Int(values[entry.col].rounded())
            for _ in 0..<max(0, count) where nextMember[entry.c] < groups[entry.c].count {
                ranges[groups[entry.c][nextMember[entry.c]]] = LayerRange(start: entry.s, end: entry.s + entry.k)
                nextMember[entry.c] += 1
            }
        }
        return Outcome(placement: Placement(ranges: ranges), bound: outcome.bound, provenOptimal: outcome.optimal, exactModel: true, statistics: stats)
    }

    // MARK: General formulation

    /// Link pruning (Helix): each node keeps its `minKeep` widest links plus links above the
    /// median bandwidth up to `maxKeep`; a link survives if either end keeps it.
    func prunedArcs(minKeep: Int = 12, maxKeep: Int = 12) -> [PlacementProblem.Arc] {
        var kept = Set<[Int]>()
        let nodeArcs = problem.arcs.compactMap { arc -> (Int, Int, Double)? in
            if case .node(let i) = arc.from, case .node(let j) = arc.to { return (i, j, arc.bandwidthBytesPerSecond) }
            return nil
        }
        let median = nodeArcs.map(\.2).sorted().dropFirst(nodeArcs.count / 2).first ?? 0
        for i in problem.nodes.indices {
            let mine = nodeArcs.filter { $0.0 == i }.sorted { $0.2 > $1.2 || ($0.2 == $1.2 && $0.1 < $1.1) }
            for (rank, arc) in mine.enumerated() where rank < minKeep || (arc.2 > median && rank < maxKeep) {
                kept.insert([min(arc.0, arc.1), max(arc.0, arc.1)])
            }
        }
        return problem.arcs.filter { arc in
            if case .node(let i) = arc.from, case .node(let j) = arc.to { return kept.contains([min(i, j), max(i, j)]) }
            return true
        }
    }

    func solveGeneral(warmStart: Placement, clock: Clock, deadline: Double, options: SolveOptions) -> Outcome {
        let L = problem.numLayers
        let M = Double(L)
        let arcs = prunedArcs()
        var lp = LinearProgram()
        var b: [[(k: Int, col: Int)]] = []
        var s: [Int] = []
        for (i, node) in problem.nodes.enumerated() {
            s.append(lp.addColumn("s_\(i)", lower: 0, upper: Double(L - 1), kind: .integer))
            b.append((1...max(1, min(L, node.maxLayers))).map { k in (k, lp.addColumn("b_\(i)_\(k)", kind: .binary)) })
            lp.addRow(b[i].map { ($0.col, 1) }, lower: 1, upper: 1)
            lp.addRow([(s[i], 1)] + b[i].map { ($0.col, Double($0.k)) }, upper: Double(L))
        }
        func end(_ i: Int) -> [(Int, Double)] { [(s[i], 1)] + b[i].map { ($0.col, Double($0.k)) } }
        var f: [Int] = [], d: [Int] = []
        var inflow = [[(Int, Double)]](repeating: [], count: problem.nodes.count)
        var outflow = inflow
        for (a, arc) in arcs.enumerated() {
            let fa = lp.addColumn("f_\(a)", objective: arc.from == .source ? 1 : 0)
            let da = lp.addColumn("d_\(a)", kind: .binary)
            f.append(fa); d.append(da)
            lp.addRow([(fa, 1), (da, -problem.milpCapacity(arc))], upper: 0)
            switch (arc.from, arc.to) {
            case (.source, .node(let j)):
                inflow[j].append((fa, 1))
                lp.addRow([(s[j], 1), (da, M)], upper: M)  // s_j = 0 when enabled
            case (.node(let i), .sink):
                outflow[i].append((fa, 1))
                lp.addRow(end(i).map { ($0.0, -$0.1) } + [(da, M)], upper: M - Double(L))  // e_i = L when enabled
            case (.node(let i), .node(let j)):
                outflow[i].append((fa, 1)); inflow[j].append((fa, 1))
                let minusEndI = end(i).map { ($0.0, -$0.1) }
                lp.addRow([(s[j], 1)] + minusEndI + [(da, M)], upper: M)  // s_j ≤ e_i
                if connectivity == .strict {
                    lp.addRow(end(i) + [(s[j], -1), (da, M)], upper: M)  // e_i ≤ s_j
                } else {
                    lp.addRow(end(i) + end(j).map { ($0.0, -$0.1) } + [(da, M)], upper: M - 1)  // e_i < e_j
                }
            default: break
            }
        }
        for i in problem.nodes.indices {
            lp.addRow(inflow[i] + outflow[i].map { ($0.0, -$0.1) }, lower: 0, upper: 0)
            lp.addRow(inflow[i] + b[i].map { ($0.col, -problem.nodes[i].throughput(layers: $0.k)) }, upper: 0)
        }
        // Warm start from the heuristic placement and its max-flow on the pruned graph.
        var pruned = problem
        pruned.arcs = arcs
        let flows = FlowScorer.milpFlow(pruned, warmStart, connectivity)
        var start = [Double](repeating: 0, count: lp.columns.count)
        var complete = true
        for (i, range) in warmStart.ranges.enumerated() {
            guard let range, let entry = b[i].first(where: { $0.k == range.count }) else { complete = false; continue }
            start[s[i]] = Double(range.start)
            start[entry.col] = 1
        }
        var arcFlow: [String: Double] = [:]
        for flow in flows.arcFlows { arcFlow["\(flow.from)>\(flow.to)"] = flow.tokensPerSecond }
        for (a, arc) in arcs.enumerated() {
            let value = arcFlow["\(arc.from)>\(arc.to)"] ?? 0
            start[f[a]] = value
            start[d[a]] = value > 0 ? 1 : 0
        }
        let outcome = lp.maximize(warmStart: complete ? start : nil, clock: clock, deadline: deadline, upperBound: problem.upperBound, options: options)
        var stats: [String: Double] = ["milp_columns": Double(lp.columns.count), "milp_rows": Double(lp.rows.count),
                                       "milp_objective": outcome.objective, "milp_bound": outcome.bound, "milp_pruned_arcs": Double(arcs.count)]
        guard let values = outcome.values else {
            stats["milp_failed"] = 1
            return Outcome(placement: nil, bound: outcome.bound, provenOptimal: false, exactModel: false, statistics: stats)
        }
        var ranges = [LayerRange?](repeating: nil, count: problem.nodes.count)
        for i in problem.nodes.indices {
            let start = Int(values[s[i]].rounded())
            if let k = b[i].max(by: { values[$0.col] < values[$1.col] })?.k, start + k <= L { ranges[i] = LayerRange(start: start, end: start + k) }
        }
        // Pruning removes links, so the general model's bound is only a bound on the pruned graph.
        return Outcome(placement: Placement(ranges: ranges), bound: outcome.bound, provenOptimal: outcome.optimal, exactModel: false, statistics: stats)
    }
}
