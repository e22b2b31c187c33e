import Routing
import Wire

/// The scheduler's tunables.
public struct SchedulerSettings: Sendable {
    /// How often workers heartbeat (told to them at registration).
    public var heartbeatInterval = 0.5
    /// A worker silent this long is SUSPECT (not routed to), and this long DEAD (dropped, replanned).
    public var suspectAfter = 2.0
    public var deadAfter = 5.0
    /// A route step with no answer in this time counts as a failure of the route.
    public var stepTimeout = 60.0
    /// Routes tried per request before it finishes with an error.
    public var maxAttempts = 6
    /// Registrations within this time share one new plan.
    public var replanDebounce = 0.15
    /// Solve budget asked of placement-service for every plan, seconds (requests queue meanwhile).
    public var planBudget = 3.0
    /// Cap on each search's work asked of placement (PlanRequest.max_evaluations; 0: none): with
    /// it, equal inputs give the plan `lattice plan --max-evaluations` gives, whatever the machine.
    public var planMaxEvaluations: UInt32 = 0
    /// How long to wait for placement-service before falling back to a contiguous split: the
    /// budget, and 10 s for the call, the problem's build and a loaded machine.
    public var placementTimeout: Double { planBudget + 10 }
    public var policy = KVPolicy.online
    /// How routes pick among a node's arcs: Helix's IWRR over the plan's flow, or a baseline.
    public var routing = Routing.RoutingPolicy.iwrr
    /// Requests the admission queue holds; past it a Generate is refused RESOURCE_EXHAUSTED.
    public var queueLimit = 1024
    /// Seconds of each worker-to-worker link's bandwidth that admitted prompts not yet through
    /// may occupy (`PromptWindow`); 0: uncapped.
    public var promptWindowSeconds = PromptWindow<String, String>.defaultSeconds
    /// How long a request waits for a plan when there is none before it is failed.
    public var noPlanWait = 30.0
    /// The method asked of placement-service for every plan.
    public var planMethod = PlacementMethod.auto
    /// Links declared in a cluster file (by node name = worker id); they win over measured ones.
    public var declaredLinks: [ClusterLink] = []
    /// Bytes of the bandwidth probe between workers.
    public var linkProbeBytes: UInt32 = 64 << 10
    /// A Generate whose client went away runs on this long for a retry (same request id) to attach
    /// (still holding its client's waiting slot, if queued): long enough for a client to reconnect.
    public var retryGrace = 3.0
    /// How long a finished generation's events are kept for a retry of its request id.
    public var resultRetention = 60.0

    public init() {}
}
