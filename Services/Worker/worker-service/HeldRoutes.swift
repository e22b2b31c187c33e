import Foundation
import Synchronization
import Wire
import WorkerCore

/// The routes of the requests that decode in a loop through this worker, kept from each one's
/// prefill so that its decode steps carry only their own data (`route_held`), not the whole
/// route and loop again at every hop of every step.
final class HeldRoutes: Sendable {
    /// A request's item with the per-step data left out: what every later step shares.
    private let routes = HeldByRequest<ForwardItem>()
    private let counters = Mutex((received: UInt64(0), dropped: UInt64(0), reported: UInt64(0)))
    private let dropHookFired = Mutex(false)
    /// Hop entries (route and loop) that arrived in Forwards: the per-hop cost this saves.
    var hopsReceived: UInt64 { counters.withLock { $0.received } }
    /// Held steps that found no route here and ended (the `held_steps_dropped` stat): a healthy
    /// run has none but those of requests released while a step was on the way.
    var stepsDropped: UInt64 { counters.withLock { $0.dropped } }
    /// Dropped steps whose failure went to the scheduler (`held_steps_reported`): without it the
    /// request would wait for the scheduler's step timeout.
    var stepsReported: UInt64 { counters.withLock { $0.reported } }

    func reported(_ count: Int) { counters.withLock { $0.reported += UInt64(count) } }

    /// Test hook (`ForwardPipeline.dropHeldRouteAtStep`): forgets the route of the first held step
    /// numbered `step` among `items`, once in this process.
    func dropOnce(atStep step: UInt64, among items: [ForwardItem]) {
        guard let item = items.first(where: { $0.routeHeld && $0.step == step }),
              dropHookFired.withLock({ fired in defer { fired = true }; return !fired }) else { return }
        routes.forget([item.requestID])
    }

    /// The items as this stage runs them: a held step gets its request's route back; nil for a
    /// held step whose route is not here (released, or its prefill never passed this worker).
    func restore(_ item: ForwardItem) -> ForwardItem? {
        guard item.routeHeld else {
            counters.withLock { $0.received += UInt64(item.route.count + item.loop.count) }
            return item
        }
        guard let held = routes.value(item.requestID) else {
            counters.withLock { $0.dropped += 1 }
            return nil
        }
        var full = held
        full.positions = item.positions
        full.tokenIDs = item.tokenIDs
        full.hidden = item.hidden
        full.start = item.start
        full.end = item.end
        full.prefill = item.prefill
        full.step = item.step
        full.hopSeconds = item.hopSeconds
        full.routeHeld = false
        return full
    }

    /// Keeps the routes of the items that loop (their steps will come back held) and returns
    /// their request ids. Called before the items are queued: the batch loop may run them and loop
    /// a step back here before the Forward that brought them returns, and that step must find its
    /// route. `admit` them once queued, `forget` the refused.
    func reserve(_ items: [ForwardItem]) -> [String] {
        let looping = items.filter { !$0.loop.isEmpty && !$0.routeHeld }
        routes.reserve(looping.map { ($0.requestID, $0.stepDataRemoved) })
        return looping.map(\.requestID)
    }

    /// Marks routes kept by `reserve` as those of queued requests; `isHeld` tells which requests
    /// still hold KV here, so that routes whose release never came (a scheduler gone) do not pile
    /// up (`HeldByRequest`).
    func admit(_ requestIDs: [String], isHeld: () -> Set<String>) {
        routes.admit(requestIDs, isHeld: isHeld)
    }

    func forget(_ requestIDs: [String]) { routes.forget(requestIDs) }
}

extension ForwardItem {
    /// The item without this step's tokens and hidden states.
    var stepDataRemoved: ForwardItem {
        var item = self
        item.positions = []
        item.tokenIDs = []
        item.hidden = nil
        item.hopSeconds = []
        return item
    }

    /// This step as a hop that holds the request's route receives it: only the step's own data.
    var routeLeftOut: ForwardItem {
        ForwardItem(requestID: requestID, positions: positions, tokenIDs: tokenIDs, hidden: hidden, start: start, end: end,
                    prefill: prefill, step: step, routeHeld: true, hopSeconds: hopSeconds)
    }
}
