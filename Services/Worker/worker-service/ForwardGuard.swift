import Client
import Foundation
import Wire

/// Where a Forward may make this worker send things (issue 12): sampled tokens only back to its
/// scheduler, hidden states only to workers that hold layers in the scheduler's current plan.
/// Checked once per Forward, before anything is queued. The plan's workers are asked of the
/// scheduler (ClusterStatus) when a hop is new, and again before the next check once a heartbeat
/// shows the plan epoch changed, so a worker the new plan left out is refused too. A worker
/// started without a scheduler (driven directly) has no plan to check against and is not limited.
actor ForwardGuard {
    private let scheduler: String?
    private let peers: PeerClients
    /// Addresses of the workers holding layers in the plan of `epoch` (none dead).
    private var planWorkers: Set<String> = []
    /// Addresses of every registered worker not dead (link probes go to those, planned or not).
    private var registered: Set<String> = []
    private var epoch: UInt64 = 0
    /// The plan epoch the scheduler last told this worker (heartbeats), and how often it changed:
    /// while a change is newer than the last refresh, the sets above are stale.
    private var heardEpoch: UInt64?
    private var epochChanges = 0
    private var refreshedAtChange = 0
    private var refreshed: ContinuousClock.Instant?
    private var inFlight: (task: Task<ClusterStatusResponse?, Never>, changes: Int)?
    /// Reply-to addresses found to be the scheduler (same socket address, another spelling).
    private var schedulerSpellings: Set<String> = []

    init(scheduler: String?, peers: PeerClients) {
        self.scheduler = scheduler
        self.peers = peers
    }

    /// The scheduler's plan epoch, from a registration or heartbeat answer.
    func heard(epoch: UInt64) {
        guard epoch != heardEpoch else { return }
        heardEpoch = epoch
        epochChanges += 1
    }

    /// Throws PERMISSION_DENIED naming the first destination this worker must not send to.
    func check(_ request: ForwardRequest) async throws {
        guard let scheduler else { return }
        // A held step carries no destinations: its route was checked with its prefill.
        let checked = request.items.filter { !$0.routeHeld }
        if refreshedAtChange != epochChanges, checked.contains(where: { !($0.route.isEmpty && $0.loop.isEmpty) }) {
            await refresh(from: scheduler)
        }
        for item in checked {
            if item.replyTo != scheduler && !schedulerSpellings.contains(item.replyTo) {
                guard Self.sameSocket(item.replyTo, scheduler) else {
                    throw Status(.permissionDenied, "reply_to \(item.replyTo) is not this worker's scheduler (\(scheduler)); tokens go only there")
                }
                schedulerSpellings.insert(item.replyTo)
            }
            for hop in item.route + item.loop where !planWorkers.contains(hop.address) {
                await refresh(from: scheduler)
                guard planWorkers.contains(hop.address) else {
                    throw Status(.permissionDenied, "route hop \(hop.address) is not a worker of the scheduler's plan (epoch \(epoch)); hidden states and tokens go only to those")
                }
            }
        }
    }

    /// Throws PERMISSION_DENIED naming the first address that is not a worker the scheduler knows
    /// (worker/MeasureLinks sends probes only to those).
    func check(peers addresses: [String]) async throws {
        guard let scheduler else { return }
        for address in addresses where !registered.contains(address) {
            await refresh(from: scheduler)
            guard registered.contains(address) else {
                throw Status(.permissionDenied, "\(address) is not a worker registered with this worker's scheduler; links are measured only to those")
            }
        }
    }

    /// Asks the scheduler which workers its current plan uses, at most every 200 ms: a check
    /// that comes sooner waits for the next refresh (shared by every check waiting), rather than
    /// refusing a hop of a plan made just now.
    private func refresh(from scheduler: String) async {
        let task: Task<ClusterStatusResponse?, Never>
        if let inFlight {
            task = inFlight.task
        } else {
            let after = refreshed.map { $0 + .milliseconds(200) }
            task = Task { [peers] in
                if let after { try? await Task.sleep(until: after) }
                guard let client = try? await peers.client(scheduler) else { return nil }
                return try? await client.call(Methods.Scheduler.clusterStatus.name, ClusterStatusRequest(), as: ClusterStatusResponse.self, deadline: .seconds(5))
            }
            // Its answer reflects every epoch change heard before it began.
            inFlight = (task, epochChanges)
        }
        let status = await task.value
        guard let began = inFlight, began.task == task else { return }
        inFlight = nil
        refreshed = .now
        guard let status else { return }
        let alive = status.workers.filter { $0.health != .dead }
        registered = Set(alive.map(\.address))
        planWorkers = Set(alive.filter { ($0.layers?.end ?? 0) > ($0.layers?.start ?? 0) }.map(\.address))
        epoch = status.planEpoch
        refreshedAtChange = max(refreshedAtChange, began.changes)
    }

    /// Whether two HOST:PORT texts name the same socket address (after name lookup).
    static func sameSocket(_ a: String, _ b: String) -> Bool {
        guard let x = try? Endpoint(parsing: a), let y = try? Endpoint(parsing: b), x.port == y.port,
              let first = try? x.resolvedAddress(), let second = try? y.resolvedAddress() else { return false }
        return first == second
    }
}
