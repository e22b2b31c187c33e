/// Why the scheduler asked for a new plan.
public enum ReplanCause: String, Sendable, CaseIterable {
    /// A new worker, or a worker back under a new incarnation (a restart), registered.
    case joined
    /// A worker deregistered or began draining (SIGTERM).
    case left
    /// A worker was dropped as dead (no heartbeat and no answer to a probe, or a failed route).
    case dropped
}

/// The scheduler's re-plans, counted for `scheduler/Stats` (scripts/soak reports them per kill):
/// how often each cause asked for one, how many plans were made and by what, the routes they
/// broke, and how long the last one took from its first request to being applied (requests that
/// come close together share one plan, so the asks outnumber the plans).
public struct PlanningTally: Sendable, Equatable {
    public private(set) var asked: [ReplanCause: Int] = [:]
    public private(set) var plans = 0
    public private(set) var plansByPlacement = 0
    public private(set) var plansFallback = 0
    public private(set) var reroutedRequests = 0
    /// Seconds from the first ask the last plan that answered one answered to it being applied.
    public private(set) var lastPlanSeconds = 0.0
    /// Asks no applied plan has answered yet (a plan answers those made before it began).
    private var unanswered: [ContinuousClock.Instant] = []

    public init() {}

    mutating func ask(_ cause: ReplanCause, at now: ContinuousClock.Instant) {
        asked[cause, default: 0] += 1
        unanswered.append(now)
    }

    /// A plan begun at `began` was applied at `now`: `byPlacement` false when it is the fallback
    /// split; it broke `rerouted` routes. It answers the asks made before it began.
    mutating func applied(byPlacement: Bool, rerouted: Int, began: ContinuousClock.Instant, at now: ContinuousClock.Instant) {
        plans += 1
        if byPlacement { plansByPlacement += 1 } else { plansFallback += 1 }
        reroutedRequests += rerouted
        if let first = unanswered.filter({ $0 <= began }).min() { lastPlanSeconds = ClusterState.seconds(now - first) }
        unanswered.removeAll { $0 <= began }
    }

    /// The Stats figures: `plans_made`, `plans_by_placement`, `plans_fallback`,
    /// `replans_asked_<cause>`, `plan_rerouted_requests`, `plan_last_seconds`.
    public var figures: [(name: String, value: Double)] {
        [("plans_made", Double(plans)), ("plans_by_placement", Double(plansByPlacement)), ("plans_fallback", Double(plansFallback))]
            + ReplanCause.allCases.map { ("replans_asked_\($0.rawValue)", Double(asked[$0] ?? 0)) }
            + [("plan_rerouted_requests", Double(reroutedRequests)), ("plan_last_seconds", lastPlanSeconds)]
    }
}
