import Foundation

/// The general placement MILP (spec §3), for clusters whose links can bind (e.g. geo24), made
/// stronger than the spec's plain big-M model in three ways:
///
/// - **Tight big-M**: each switch's M is the largest value its left side can take given the
///   ranges of s (0...L−1) and e (1...L), not a blanket L.
/// - **Layer cuts**: c[i,l] = 1 when node i holds layer l (forced to be exactly [s_i, e_i) by
///   s_i ≤ l, e_i ≥ l+1 and Σ_l c[i,l] = length), w[i,l] ≤ inflow_i and ≤ T_i^max·c[i,l], and for
///   every layer F ≤ Σ_i w[i,l]: every source→sink path passes a node holding l, so the flow is at
///   most what the holders of l take in; and Σ_l w[i,l] ≤ Σ_k k·T_i(k)·b[i,k]. The LP bound drops
///   from "every source arc full" (21,625 on geo24) to at most UB = Σ max k·T(k)/L (2,804).
/// - **Symmetry breaking**: nodes that are interchangeable (same table and NICs, the same links
///   to everything else) get s_i ≤ s_j in index order; any optimum can be permuted into that form.
struct GeneralModel {
    let problem: PlacementProblem
    let connectivity: Connectivity
    let arcs: [PlacementProblem.Arc]

    var lp = LinearProgram()
    var s: [Int] = []
    var b: [[(k: Int, col: Int)]] = []
    var f: [Int] = []
    var d: [Int] = []
    var c: [[Int]] = []
    var w: [[Int]] = []
    var symmetryRows = 0

    init(problem: PlacementProblem, connectivity: Connectivity, arcs: [PlacementProblem.Arc]) {
        self.problem = problem
        self.connectivity = connectivity
        self.arcs = arcs
        build()
    }

    private func endTerms(_ i: Int, _ sign: Double = 1) -> [(Int, Double)] { [(s[i], sign)] + b[i].map { ($0.col, sign * Double($0.k)) } }

    private mutating func build() {
        let L = problem.numLayers
        let n = problem.nodes.count
        for (i, node) in problem.nodes.enumerated() {
            s.append(lp.addColumn("s_\(i)", lower: 0, upper: Double(L - 1), kind: .integer))
            b.append((1...max(1, min(L, node.maxLayers))).map { k in (k, lp.addColumn("b_\(i)_\(k)", kind: .binary)) })
            lp.addRow(b[i].map { ($0.col, 1) }, lower: 1, upper: 1)
            lp.addRow(endTerms(i), upper: Double(L))  // e_i ≤ L
        }
        // Ranges for the big-M values: s ∈ [0, L−1], e ∈ [1, L].
        let maxS = Double(L - 1), minE = 1.0, maxE = Double(L), minS = 0.0
        var inflow = [[(Int, Double)]](repeating: [], count: n)
        var outflow = inflow
        var source: [(Int, Double)] = []
        for (a, arc) in arcs.enumerated() {
            let fa = lp.addColumn("f_\(a)", objective: arc.from == .source ? 1 : 0)
            let da = lp.addColumn("d_\(a)", kind: .binary)
            f.append(fa); d.append(da)
            // An arc never carries more than either endpoint can process.
            var capacity = problem.milpCapacity(arc)
            for end in [arc.from, arc.to] { if case .node(let i) = end { capacity = min(capacity, problem.nodes[i].throughput.max() ?? 0) } }
            lp.addRow([(fa, 1), (da, -capacity)], upper: 0)
            switch (arc.from, arc.to) {
            case (.source, .node(let j)):
                inflow[j].append((fa, 1)); source.append((fa, 1))
                lp.addRow([(s[j], 1), (da, maxS)], upper: maxS)  // s_j ≤ M(1−d), M = max s
            case (.node(let i), .sink):
                outflow[i].append((fa, 1))
                let m = maxE - minE  // L − e_i ≤ M(1−d)
                lp.addRow(endTerms(i, -1) + [(da, m)], upper: m - maxE)
            case (.node(let i), .node(let j)):
                outflow[i].append((fa, 1)); inflow[j].append((fa, 1))
                let m1 = maxS - minE  // s_j − e_i ≤ M(1−d)
                lp.addRow([(s[j], 1)] + endTerms(i, -1) + [(da, m1)], upper: m1)
                if connectivity == .strict {
                    let m2 = maxE - minS  // e_i − s_j ≤ M(1−d)
                    lp.addRow(endTerms(i) + [(s[j], -1), (da, m2)], upper: m2)
                } else {
                    let m2 = maxE - minE + 1  // e_i − e_j + 1 ≤ M(1−d)
                    lp.addRow(endTerms(i) + endTerms(j, -1) + [(da, m2)], upper: m2 - 1)
                }
            default: break
            }
        }
        for i in 0..<n {
            lp.addRow(inflow[i] + outflow[i].map { ($0.0, -$0.1) }, lower: 0, upper: 0)
            lp.addRow(inflow[i] + b[i].map { ($0.col, -problem.nodes[i].throughput(layers: $0.k)) }, upper: 0)
        }
        addLayerCuts(inflow: inflow, source: source)
        addSymmetryBreaking()
        lp.heavyRootWork = lp.rows.count < 2000
    }

    private mutating func addLayerCuts(inflow: [[(Int, Double)]], source: [(Int, Double)]) {
        let L = problem.numLayers
        for (i, node) in problem.nodes.enumerated() {
            let top = node.throughput.max() ?? 0
            var ci: [Int] = [], wi: [Int] = []
            for l in 0..<L {
                let cil = lp.addColumn("c_\(i)_\(l)", kind: .binary)
                let wil = lp.addColumn("w_\(i)_\(l)")
                ci.append(cil); wi.append(wil)
                let m = Double(L - 1 - l)  // s_i − l ≤ M(1−c), M = max s − l
                lp.addRow([(s[i], 1), (cil, m)], upper: Double(L - 1))
                lp.addRow([(cil, Double(l + 1))] + endTerms(i, -1), upper: 0)  // e_i ≥ (l+1)·c
                lp.addRow([(wil, 1)] + inflow[i].map { ($0.0, -$0.1) }, upper: 0)
                lp.addRow([(wil, 1), (cil, -top)], upper: 0)
            }
            lp.addRow(ci.map { ($0, 1) } + b[i].map { ($0.col, -Double($0.k)) }, lower: 0, upper: 0)
            // Over its k layers a node contributes at most k·T(k): this is what ties the cuts to UB.
            lp.addRow(wi.map { ($0, 1) } + b[i].map { ($0.col, -Double($0.k) * node.throughput(layers: $0.k)) }, upper: 0)
            c.append(ci); w.append(wi)
        }
        for l in 0..<L { lp.addRow(source + w.map { ($0[l], -1) }, upper: 0) }
    }

    /// Classes of interchangeable nodes (on this model's arcs), each in index order.
    var interchangeable: [[Int]] {
        let n = problem.nodes.count
        var links: [Endpoint: [Endpoint: (Double, Double)]] = [:]
        for arc in arcs { links[arc.from, default: [:]][arc.to] = (arc.bandwidthBytesPerSecond, arc.latencySeconds) }
        func same(_ i: Int, _ j: Int) -> Bool {
            let a = problem.nodes[i], b = problem.nodes[j]
            guard a.throughput == b.throughput, a.nicInBytesPerSecond == b.nicInBytesPerSecond, a.nicOutBytesPerSecond == b.nicOutBytesPerSecond else { return false }
            let others: [Endpoint] = [.source, .sink] + (0..<n).filter { $0 != i && $0 != j }.map { .node($0) }
            for x in others {
                guard links[.node(i)]?[x] ?? (0, 0) == links[.node(j)]?[x] ?? (0, 0), links[x]?[.node(i)] ?? (0, 0) == links[x]?[.node(j)] ?? (0, 0) else { return false }
            }
            return links[.node(i)]?[.node(j)] ?? (0, 0) == links[.node(j)]?[.node(i)] ?? (0, 0)
        }
        var classes: [[Int]] = []
        for i in 0..<n {
            if let k = classes.firstIndex(where: { same($0[0], i) }) { classes[k].append(i) } else { classes.append([i]) }
        }
        return classes
    }

    private mutating func addSymmetryBreaking() {
        for members in interchangeable where members.count > 1 {
            for (i, j) in zip(members, members.dropFirst()) {
                lp.addRow([(s[i], 1), (s[j], -1)], upper: 0)
                symmetryRows += 1
            }
        }
    }

    /// A start vector for GLPK from a placement (permuted within interchangeable classes so that
    /// starts ascend, as the symmetry rows demand); nil when a node is idle (the model places all).
    func start(from placement: Placement) -> [Double]? {
        var ranges = placement.ranges
        for members in interchangeable where members.count > 1 {
            let sorted = members.compactMap { ranges[$0] }.sorted { ($0.start, $0.end) < ($1.start, $1.end) }
            guard sorted.count == members.count else { return nil }
            for (i, r) in zip(members, sorted) { ranges[i] = r }
        }
        let canonical = Placement(ranges: ranges)
        var pruned = problem
        pruned.arcs = arcs
        let flows = FlowScorer.milpFlow(pruned, canonical, connectivity)
        var x = [Double](repeating: 0, count: lp.columns.count)
        for (i, range) in ranges.enumerated() {
            guard let range, let entry = b[i].first(where: { $0.k == range.count }) else { return nil }
            x[s[i]] = Double(range.start)
            x[entry.col] = 1
            for l in range.start..<range.end {
                x[c[i][l]] = 1
                x[w[i][l]] = flows.nodeFlows[i]
            }
        }
        var arcFlow: [String: Double] = [:]
        for flow in flows.arcFlows { arcFlow["\(flow.from)>\(flow.to)"] = flow.tokensPerSecond }
        for (a, arc) in arcs.enumerated() {
            let value = arcFlow["\(arc.from)>\(arc.to)"] ?? 0
            x[f[a]] = value
            x[d[a]] = value > 0 ? 1 : 0
        }
        return x
    }

    /// The placement a solution vector describes.
    func placement(_ values: [Double]) -> Placement {
        let L = problem.numLayers
        var ranges = [LayerRange?](repeating: nil, count: problem.nodes.count)
        for i in problem.nodes.indices {
            // Clamped so that a fractional (LP) point gives a placement too; an integer one is unchanged.
            if let k = b[i].max(by: { values[$0.col] < values[$1.col] })?.k {
                let start = max(0, min(L - k, Int(values[s[i]].rounded())))
                ranges[i] = LayerRange(start: start, end: start + k)
            }
        }
        return Placement(ranges: ranges)
    }
}

extension MILPSolver {
    func solveGeneral(warmStart: Placement?, clock: Clock, deadline: Double, options: SolveOptions) -> Outcome {
        var model = GeneralModel(problem: problem, connectivity: connectivity, arcs: prunedArcs())
        if options.workBounded && model.lp.rows.count > SolveOptions.workBoundedMILPRows {
            return Outcome(placement: nil, bound: .infinity, provenOptimal: false, exactModel: false,
                           statistics: ["milp_rows": Double(model.lp.rows.count), "milp_skipped_work_bounded": 1])
        }
        // Rounding: the LP's starts and likeliest lengths as a placement, with its max-flow. Small
        // models only: on geo24 (8,972 rows) the rounded points scored 0 (no source-to-sink route)
        // and the solve ran 20–50 s past a 30 s deadline with them.
        if model.lp.heavyRootWork {
            let frozen = model
            model.lp.rounding = { frozen.start(from: frozen.placement($0)) }
        }
        let outcome = model.lp.maximize(warmStart: warmStart.flatMap(model.start(from:)), clock: clock, deadline: deadline,
                                        upperBound: problem.upperBound, options: options, stopEarly: stopEarly)
        var stats = Self.statistics(model.lp, outcome)
        stats["milp_pruned_arcs"] = Double(model.arcs.count)
        stats["milp_symmetry_rows"] = Double(model.symmetryRows)
        guard let values = outcome.values else {
            stats["milp_failed"] = 1
            return Outcome(placement: nil, bound: outcome.bound, provenOptimal: false, exactModel: false, statistics: stats)
        }
        // Pruning removes links, so the bound is exact only when nothing was pruned.
        let exact = model.arcs.count == problem.arcs.count
        return Outcome(placement: model.placement(values), bound: outcome.bound, provenOptimal: outcome.optimal, exactModel: exact, statistics: stats)
    }
}
