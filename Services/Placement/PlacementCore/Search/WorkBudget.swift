import Foundation

/// What ends each phase of a solve. Without `maxEvaluations` it is wall time (shares of the
/// budget). With it, counted work ends every phase and the time budget ends none, so the plan is
/// the same on a loaded machine as on an idle one (`lattice plan --max-evaluations N` equals the
/// live plan placement-service makes with PlanRequest.max_evaluations = N). Cancellation (a
/// client's cancel or its call deadline) still stops a solve at once, with its best so far.
extension SolveOptions {
    /// True when work, not time, ends the phases.
    public var workBounded: Bool { maxEvaluations != nil }

    /// A phase's deadline: `seconds` into the solve, or never when work bounds it.
    func deadline(_ seconds: Double) -> Double { workBounded ? .infinity : seconds }

    /// GLPK branch-and-bound subproblems (one LP each, a few hundred max-flow evaluations' worth of work on geo24).
    var milpNodeLimit: Int? { milpNodes ?? maxEvaluations.map { max(1, $0 / 10) } }

    /// Cover-search steps (one step: a coverage update, far cheaper than one max-flow evaluation).
    var coverStepLimit: Int? { maxEvaluations.map { max(1024, $0 * 1000) } }

    /// Judgements of candidate ranges for each unused node (a tenth: geo24 leaves ten nodes unused).
    var idleJudgementLimit: Int? { maxEvaluations.map { max(1, $0 / 10) } }

    /// GLPK models this large are not run when work bounds the solve: one LP of geo24's general
    /// model (8,972 rows) takes seconds and GLPK counts nothing inside it, so no node limit bounds
    /// its time (and alone it found no placement in 30 s).
    public static let workBoundedMILPRows = 2000
}
