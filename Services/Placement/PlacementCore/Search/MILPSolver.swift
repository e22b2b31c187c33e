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
    /// Apply the spec's early stop rules; off to run GLPK until it proves the optimum (or the deadline).
    var stopEarly = true

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

    func solve(warmStart: Placement?, clock: Clock, deadline: Double, options: SolveOptions) -> Outcome {
        // A cancelled solve builds nothing: GLPK's LP relaxation of a large model does not look at the token.
        if options.cancellation?.isCancelled == true {
            return Outcome(placement: nil, bound: .infinity, provenOptimal: false, exactModel: false, statistics: ["milp_cancelled": 1])
        }
        if options.formulation == .general { return solveGeneral(warmStart: warmStart, clock: clock, deadline: deadline, options: options) }
        if linksNeverBind || options.formulation == .aggregated { return solveAggregated(warmStart: warmStart, clock: clock, deadline: deadline, options: options) }
        return solveGeneral(warmStart: warmStart, clock: clock, deadline: deadline, options: options)
    }

    // MARK: Aggregated formulation

    func solveAggregated(warmStart: Placement?, clock: Clock, deadline: Double, options: SolveOptions) -> Outcome {
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
        // A placement as a solution vector: counts (and, strict, its max-flow node flows); nil when
        // a range is not among the model's intervals.
        if options.workBounded && lp.rows.count > SolveOptions.workBoundedMILPRows {
            return Outcome(placement: nil, bound: .infinity, provenOptimal: false, exactModel: false,
                           statistics: ["milp_rows": Double(lp.rows.count), "milp_aggregated": 1, "milp_skipped_work_bounded": 1])
        }
        let columnCount = lp.columns.count  // (the closures below must not capture lp, which holds one of them)
        lp.heavyRootWork = lp.rows.count < 2000  // cluster42 strict (5,147 rows) ran 20 s past its deadline in GLPK's cuts
        let startVector: (Placement) -> [Double]? = { placement in
            var x = [Double](repeating: 0, count: columnCount)
            let flows = FlowScorer.milpFlow(problem, placement, connectivity)
            for (i, range) in placement.ranges.enumerated() {
                guard let range else { continue }
                guard let c = groups.firstIndex(where: { $0.contains(i) }), let entry = y.first(where: { $0.c == c && $0.s == range.start && $0.k == range.count }) else { return nil }
                x[entry.col] += 1
                if entry.flow >= 0 { x[entry.flow] += flows.nodeFlows[i] }
            }
            if z >= 0 { x[z] = flows.value }
            return x
        }
        // Counted intervals handed out to the class members in index order (`round`: how a count is read).
        let placementOf: ([Double], (Double) -> Double) -> Placement = { values, round in
            var ranges = [LayerRange?](repeating: nil, count: problem.nodes.count)
            var nextMember = [Int](repeating: 0, count: groups.count)
            for entry in y {
                let count = Int(round(values[entry.col]))
                for _ in 0..<max(0, count) where nextMember[entry.c] < groups[entry.c].count {
                    ranges[groups[entry.c][nextMember[entry.c]]] = LayerRange(start: entry.s, end: entry.s + entry.k)
                    nextMember[entry.c] += 1
                }
            }
            return Placement(ranges: ranges)
        }
        // The LP's counts rounded down, each node left over placed at the thinnest layer with its
        // longest useful length (the densest, one layer, would leave layers uncovered): always a
        // feasible point of this model.
        lp.rounding = { values in
            var placement = placementOf(values) { ($0 + 1e-6).rounded(.down) }
            var coverage = [Double](repeating: 0, count: L)
            for (i, range) in placement.ranges.enumerated() {
                guard let range else { continue }
                for l in range.start..<range.end { coverage[l] += problem.nodes[i].throughput(layers: range.count) }
            }
            for (i, node) in problem.nodes.enumerated() where placement.ranges[i] == nil {
                guard let k = search.lengths[i].filter({ $0 <= L && node.throughput(layers: $0) > 0 }).max(),
                      let thinnest = coverage.indices.min(by: { coverage[$0] < coverage[$1] }) else { continue }
                let start = min(thinnest, L - k)
                placement.ranges[i] = LayerRange(start: start, end: start + k)
                for l in start..<(start + k) { coverage[l] += node.throughput(layers: k) }
            }
            return startVector(placement)
        }
        let outcome = lp.maximize(warmStart: warmStart.flatMap(startVector), clock: clock, deadline: deadline, upperBound: problem.upperBound,
                                  options: options, stopEarly: stopEarly)
        var stats = Self.statistics(lp, outcome)
        stats["milp_aggregated"] = 1
        guard let values = outcome.values else {
            stats["milp_failed"] = 1
            return Outcome(placement: nil, bound: outcome.bound, provenOptimal: false, exactModel: linksNeverBind, statistics: stats)
        }
        return Outcome(placement: placementOf(values) { $0.rounded() }, bound: outcome.bound, provenOptimal: outcome.optimal, exactModel: linksNeverBind, statistics: stats)
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
}

extension MILPSolver {
    /// What every MILP run reports: size, objective, bound, gap, branch-and-bound nodes.
    static func statistics(_ lp: LinearProgram, _ outcome: MILPOutcome) -> [String: Double] {
        ["milp_columns": Double(lp.columns.count), "milp_rows": Double(lp.rows.count),
         "milp_objective": outcome.objective, "milp_bound": outcome.bound, "milp_gap": outcome.gap.isFinite ? outcome.gap : -1,
         "milp_nodes": Double(outcome.nodes), "milp_proven": outcome.optimal ? 1 : 0,
         "milp_glpk_code": Double(outcome.code), "milp_lp_relaxation": outcome.relaxation,
         "milp_warm_start_accepted": outcome.warmStartAccepted ? 1 : 0, "milp_rounded_incumbents": Double(outcome.roundedIncumbents),
         "milp_stopped_by_nodes": outcome.stoppedBy == "nodes" ? 1 : 0, "milp_stopped_by_time": outcome.stoppedBy == "time" ? 1 : 0]
    }
}
