import CGLPK
import Foundation

/// A MILP built column by column and handed to GLPK in one go. Indices are validated here,
/// because GLPK aborts the process on a bad one.
struct LinearProgram {
    enum Kind { case continuous, integer, binary }
    struct Column { var name: String; var lower: Double; var upper: Double; var objective: Double; var kind: Kind }
    struct Row { var lower: Double; var upper: Double; var terms: [(Int, Double)] }

    var columns: [Column] = []
    var rows: [Row] = []
    /// GLPK's work that never calls back (MIR, Gomory and cover cuts, the feasibility pump, and the
    /// pseudocost branching rule, whose start-up solves two LPs per fractional binary): strong on
    /// small models, but on geo24's ~9,000 rows it ran for 160–245 s between two callbacks, so past
    /// any deadline. Without it: Driebeck–Tomlin branching.
    var heavyRootWork = true
    /// A primal heuristic: from a subproblem's LP solution, a feasible integer solution (or nil).
    /// GLPK's own (the feasibility pump) found none in 30 s on geo24 or cluster42; rounding the
    /// LP's placement and scoring it gives GLPK an incumbent at every node, so the LP guides a search.
    var rounding: (([Double]) -> [Double]?)?

    mutating func addColumn(_ name: String, lower: Double = 0, upper: Double = .infinity, objective: Double = 0, kind: Kind = .continuous) -> Int {
        columns.append(Column(name: name, lower: lower, upper: upper, objective: objective, kind: kind))
        return columns.count - 1
    }

    /// lower ≤ Σ terms ≤ upper (either may be infinite). Repeated columns are summed (GLPK
    /// aborts on a duplicate entry).
    mutating func addRow(_ terms: [(Int, Double)], lower: Double = -.infinity, upper: Double = .infinity) {
        var merged: [Int: Double] = [:]
        var order: [Int] = []
        for (j, a) in terms {
            if merged[j] == nil { order.append(j) }
            merged[j, default: 0] += a
        }
        rows.append(Row(lower: lower, upper: upper, terms: order.compactMap { j in merged[j].flatMap { $0 != 0 ? (j, $0) : nil } }))
    }

    /// The first defect GLPK would abort on or misread (an index out of range, a non-finite
    /// coefficient, crossed bounds), or nil when the model is sound.
    func defect() -> String? {
        for (j, column) in columns.enumerated() {
            if column.lower.isNaN || column.upper.isNaN || column.lower > column.upper || !column.objective.isFinite {
                return "column \(j) (\(column.name)): bounds [\(column.lower), \(column.upper)], objective \(column.objective)"
            }
        }
        for (i, row) in rows.enumerated() {
            if row.lower.isNaN || row.upper.isNaN || row.lower > row.upper { return "row \(i): bounds [\(row.lower), \(row.upper)]" }
            for (j, a) in row.terms where !columns.indices.contains(j) || !a.isFinite {
                return "row \(i): coefficient \(a) on column \(j) of \(columns.count)"
            }
        }
        return nil
    }
}

/// What a GLPK branch-and-cut run found.
struct MILPOutcome {
    var values: [Double]?
    var objective: Double
    var bound: Double
    var optimal: Bool
    var nodes: Int
    var status: String
    var code: Int32 = -1
    var relaxation: Double = .nan
    var warmStartAccepted = false
    var roundedIncumbents = 0
    /// What ended the search before it proved the optimum (nil: it did, or GLPK gave up by itself).
    var stoppedBy: String?
    /// Relative gap between the bound and the objective (0 when proven optimal).
    var gap: Double { objective > 0 ? max(0, bound - objective) / objective : .infinity }
}

/// Shared state between the solve and GLPK's callback (which is a C function).
final class MILPCallbackContext {
    var warmStart: [Double]?
    var warmStartUsed = false
    var warmStartRejected = false
    var warmStartValue = -Double.infinity
    let clock: Clock
    let deadline: Double
    let upperBound: Double
    let cancellation: CancellationToken?
    let progress: (@Sendable (SolveProgress) -> Void)?
    var best = -Double.infinity
    var bestBound = Double.infinity
    var lastImprovement = 0.0
    var lastReport = -1.0
    /// The spec's early stops (near the bound, stalled); off to prove optimality.
    var stopEarly = true
    /// Branch-and-bound subproblems created so far (GLPK's t_cnt).
    var nodes = 0
    /// Stop once this many subproblems exist (deterministic, unlike the deadline).
    var nodeLimit = Int.max
    /// Work, not time, bounds the solve: the stall rule (100 s without gain) is off.
    var workBounded = false
    /// What ended the search early: "time", "nodes", "cancelled", "near bound", "stalled".
    var stoppedBy: String?
    var rounding: (([Double]) -> [Double]?)?
    var objective: [Double] = []
    /// Incumbents the rounding heuristic gave GLPK; the subproblem count at which it runs next.
    var roundedAccepted = 0
    var nextRounding = 0

    init(warmStart: [Double]?, clock: Clock, deadline: Double, upperBound: Double, cancellation: CancellationToken?,
         progress: (@Sendable (SolveProgress) -> Void)?) {
        self.warmStart = warmStart
        self.clock = clock
        self.deadline = deadline
        self.upperBound = upperBound
        self.cancellation = cancellation
        self.progress = progress
    }
}

private func milpCallback(_ tree: OpaquePointer?, _ info: UnsafeMutableRawPointer?) {
    guard let tree, let info else { return }
    let context = Unmanaged<MILPCallbackContext>.fromOpaque(info).takeUnretainedValue()
    let reason = glp_ios_reason(tree)
    var active: Int32 = 0, alive: Int32 = 0, total: Int32 = 0
    glp_ios_tree_size(tree, &active, &alive, &total)
    context.nodes = max(context.nodes, Int(total))
    if reason == GLP_IHEUR, !context.warmStartUsed, let start = context.warmStart {
        context.warmStartUsed = true
        var x = [0.0] + start  // GLPK is 1-based
        let rejected = x.withUnsafeMutableBufferPointer { glp_ios_heur_sol(tree, $0.baseAddress) }
        if rejected == 0 { context.best = max(context.best, context.warmStartValue) }
        context.warmStartRejected = rejected != 0
    }
    // Rounding costs a max-flow: at the root, then at most once per 16 new subproblems (by count, so deterministic).
    if reason == GLP_IHEUR, let rounding = context.rounding, context.nodes >= context.nextRounding, let lp = glp_ios_get_prob(tree) {
        context.nextRounding = context.nodes + 16
        let count = Int(glp_get_num_cols(lp))
        let relaxed = (0..<count).map { glp_get_col_prim(lp, Int32($0 + 1)) }
        if let x = rounding(relaxed), x.count == count, x.allSatisfy(\.isFinite) {
            let value = zip(context.objective, x).reduce(0) { $0 + $1.0 * $1.1 }
            if value > context.best + 1e-9 {
                var oneBased = [0.0] + x
                if oneBased.withUnsafeMutableBufferPointer({ glp_ios_heur_sol(tree, $0.baseAddress) }) == 0 {
                    context.roundedAccepted += 1
                    context.best = value
                    context.lastImprovement = context.clock.elapsed
                }
            }
        }
    }
    let node = glp_ios_best_node(tree)
    if node != 0 { context.bestBound = min(context.bestBound, glp_ios_node_bound(tree, node)) }
    if reason == GLP_IBINGO {
        let value = glp_mip_obj_val(glp_ios_get_prob(tree))
        if value > context.best + 1e-9 { context.best = value; context.lastImprovement = context.clock.elapsed }
    }
    let now = context.clock.elapsed
    if reason == GLP_IBINGO || now - context.lastReport > 1 {
        context.lastReport = now
        if context.best > 0 {
            context.progress?(SolveProgress(elapsedSeconds: now, phase: "milp", bestObjective: context.best, bound: min(context.bestBound, context.upperBound)))
        }
    }
    // Stop rules (spec §3): time, cancellation, best ≥ 0.995 UB, best ≥ 0.95 UB and no gain for 100 s;
    // and the node limit, the one a work-bounded solve relies on.
    let stalled = context.stopEarly && !context.workBounded && context.best >= 0.95 * context.upperBound && now - context.lastImprovement > 100
    let stop: String? = context.cancellation?.isCancelled == true ? "cancelled"
        : context.nodes >= context.nodeLimit ? "nodes"
        : now >= context.deadline ? "time"
        : context.stopEarly && context.best >= 0.995 * context.upperBound ? "near bound"
        : stalled ? "stalled" : nil
    if let stop {
        context.stoppedBy = context.stoppedBy ?? stop
        glp_ios_terminate(tree)
    }
}

extension LinearProgram {
    /// Maximises with GLPK branch-and-cut within the deadline, optionally warm-started.
    /// `stopEarly`: apply the spec's stop rules (best within 0.5% of the bound, or within 5% and stalled for 100 s).
    func maximize(warmStart: [Double]?, clock: Clock, deadline: Double, upperBound: Double, options: SolveOptions, stopEarly: Bool = true) -> MILPOutcome {
        if let defect = defect() { return MILPOutcome(values: nil, objective: 0, bound: .infinity, optimal: false, nodes: 0, status: "invalid model: \(defect)") }
        let usableStart = warmStart.flatMap { $0.count == columns.count && $0.allSatisfy(\.isFinite) ? $0 : nil }
        glp_term_out(GLP_OFF)  // per thread: every solving thread switches it off
        guard let lp = glp_create_prob() else { return MILPOutcome(values: nil, objective: 0, bound: .infinity, optimal: false, nodes: 0, status: "no memory") }
        // GLPK keeps an environment per thread until glp_free_env; solves run on threads of their own
        // (WorkPool), so without it every solve leaked one (5 KiB; LeakSanitizer).
        defer { glp_delete_prob(lp); glp_free_env() }
        glp_set_obj_dir(lp, GLP_MAX)
        glp_add_cols(lp, Int32(columns.count))
        for (j, column) in columns.enumerated() {
            let c = Int32(j + 1)
            switch column.kind {
            case .continuous: glp_set_col_kind(lp, c, GLP_CV)
            case .integer: glp_set_col_kind(lp, c, GLP_IV)
            case .binary: glp_set_col_kind(lp, c, GLP_BV)
            }
            if column.kind != .binary { setBounds(lp, column: c, column.lower, column.upper) }
            glp_set_obj_coef(lp, c, column.objective)
        }
        glp_add_rows(lp, Int32(rows.count))
        var ia: [Int32] = [0], ja: [Int32] = [0], ar: [Double] = [0]
        for (i, row) in rows.enumerated() {
            setBounds(lp, row: Int32(i + 1), row.lower, row.upper)
            for (j, a) in row.terms {
                ia.append(Int32(i + 1)); ja.append(Int32(j + 1)); ar.append(a)
            }
        }
        glp_load_matrix(lp, Int32(ar.count - 1), &ia, &ja, &ar)

        var smcp = glp_smcp()
        glp_init_smcp(&smcp)
        smcp.msg_lev = GLP_MSG_OFF
        smcp.tm_lim = Int32(max(1, min(Double(Int32.max), (deadline - clock.elapsed) * 1000)))
        guard glp_simplex(lp, &smcp) == 0, glp_get_status(lp) == GLP_OPT else {
            return MILPOutcome(values: nil, objective: 0, bound: .infinity, optimal: false, nodes: 0, status: "LP relaxation not solved")
        }
        let relaxation = glp_get_obj_val(lp)
        let context = MILPCallbackContext(warmStart: usableStart, clock: clock, deadline: deadline, upperBound: min(upperBound, relaxation),
                                          cancellation: options.cancellation, progress: options.progress)
        context.stopEarly = stopEarly
        context.nodeLimit = options.milpNodeLimit ?? Int.max
        context.workBounded = options.workBounded
        context.rounding = rounding
        context.objective = columns.map(\.objective)
        if let start = usableStart { context.warmStartValue = zip(columns, start).reduce(0) { $0 + $1.0.objective * $1.1 } }
        var iocp = glp_iocp()
        glp_init_iocp(&iocp)
        iocp.msg_lev = GLP_MSG_OFF
        iocp.presolve = GLP_OFF  // the callback's warm start is in the original columns
        let heavy = heavyRootWork ? GLP_ON : GLP_OFF
        iocp.mir_cuts = heavy
        iocp.gmi_cuts = heavy
        iocp.cov_cuts = heavy
        iocp.fp_heur = heavy
        iocp.br_tech = heavyRootWork ? GLP_BR_PCH : GLP_BR_DTH
        iocp.bt_tech = GLP_BT_BPH
        iocp.mip_gap = 1e-6
        iocp.tm_lim = Int32(max(1, min(Double(Int32.max), (deadline - clock.elapsed) * 1000)))
        iocp.cb_func = milpCallback
        let unmanaged = Unmanaged.passRetained(context)
        defer { unmanaged.release() }
        iocp.cb_info = unmanaged.toOpaque()
        let code = glp_intopt(lp, &iocp)
        if code == GLP_ETMLIM { context.stoppedBy = context.stoppedBy ?? "time" }
        let status = glp_mip_status(lp)
        guard status == GLP_OPT || status == GLP_FEAS else {
            return MILPOutcome(values: nil, objective: 0, bound: min(context.bestBound, relaxation), optimal: false, nodes: context.nodes,
                               status: "no integer solution (code \(code))", code: code, relaxation: relaxation, warmStartAccepted: context.warmStartUsed && !context.warmStartRejected, roundedIncumbents: context.roundedAccepted,
                               stoppedBy: context.stoppedBy)
        }
        let values = (0..<columns.count).map { glp_mip_col_val(lp, Int32($0 + 1)) }
        if ProcessInfo.processInfo.environment["LATTICE_MILP_DEBUG"] != nil {
            for (i, row) in rows.enumerated() {
                let activity = row.terms.reduce(0.0) { $0 + $1.1 * values[$1.0] }
                if activity > row.upper + 1e-6 || activity < row.lower - 1e-6 {
                    FileHandle.standardError.write(Data("row \(i) violated: \(activity) not in [\(row.lower), \(row.upper)] terms \(row.terms.map { (columns[$0.0].name, $0.1, values[$0.0]) })\n".utf8))
                }
            }
        }
        let objective = glp_mip_obj_val(lp)
        let optimal = status == GLP_OPT && code == 0
        let bound = optimal ? objective : min(context.bestBound, relaxation)
        return MILPOutcome(values: values, objective: objective, bound: max(bound, objective), optimal: optimal, nodes: context.nodes,
                           status: optimal ? "optimal" : "stopped (code \(code))", code: code, relaxation: relaxation, warmStartAccepted: context.warmStartUsed && !context.warmStartRejected, roundedIncumbents: context.roundedAccepted,
                           stoppedBy: optimal ? nil : context.stoppedBy)
    }

    private func setBounds(_ lp: OpaquePointer, column: Int32, _ lower: Double, _ upper: Double) {
        switch (lower.isFinite, upper.isFinite) {
        case (true, true): glp_set_col_bnds(lp, column, lower == upper ? GLP_FX : GLP_DB, lower, upper)
        case (true, false): glp_set_col_bnds(lp, column, GLP_LO, lower, 0)
        case (false, true): glp_set_col_bnds(lp, column, GLP_UP, 0, upper)
        case (false, false): glp_set_col_bnds(lp, column, GLP_FR, 0, 0)
        }
    }

    private func setBounds(_ lp: OpaquePointer, row: Int32, _ lower: Double, _ upper: Double) {
        switch (lower.isFinite, upper.isFinite) {
        case (true, true): glp_set_row_bnds(lp, row, lower == upper ? GLP_FX : GLP_DB, lower, upper)
        case (true, false): glp_set_row_bnds(lp, row, GLP_LO, lower, 0)
        case (false, true): glp_set_row_bnds(lp, row, GLP_UP, 0, upper)
        case (false, false): glp_set_row_bnds(lp, row, GLP_FR, 0, 0)
        }
    }
}
