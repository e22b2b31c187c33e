import Foundation
import Wire

/// The routes of the requests that decode in a loop through this worker, kept from each one's
/// prefill so that its decode steps carry only their own data (`route_held`), not the whole
/// route and loop again at every hop of every step.
final class HeldRoutes: @unchecked Sendable {
    /// A request's item with the per-step data left out: what every later step shares.
    private var routes: [String: ForwardItem] = [:]
    private let lock = NSLock()
    /// Hop entries (route and loop) that arrived in Forwards: the per-hop cost this saves.
    var hopsReceived: UInt64 { lock.withLock { received } }
    private var received: UInt64 = 0

    /// The items as this stage runs them: a held step gets its request's route back; nil for a
    /// held step whose route is not here (released, or its prefill never passed this worker).
    func restore(_ item: ForwardItem) -> ForwardItem? {
        guard item.routeHeld else {
            lock.withLock { received += UInt64(item.route.count + item.loop.count) }
            return item
        }
        guard let held = lock.withLock({ routes[item.requestID] }) else { return nil }
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

    /// Keeps the routes of items that loop (their steps will come back held). Called before
    /// the items are queued: the batch loop may run them and loop a step back here before the
    /// Forward that brought them returns, and that step must find its route.
    func keep(_ items: [ForwardItem]) {
        let looping = items.filter { !$0.loop.isEmpty && !$0.routeHeld }
        guard !looping.isEmpty else { return }
        lock.withLock {
            for item in looping { routes[item.requestID] = item.stepDataRemoved }
        }
    }

    /// Past 256 routes, drops those of requests that hold no KV here (`isHeld`), so that routes
    /// whose release never came (a scheduler gone) do not pile up. Called after the items are
    /// queued, when their KV is held.
    func prune(isHeld: () -> Set<String>) {
        guard lock.withLock({ routes.count }) > 256 else { return }
        let held = isHeld()
        lock.withLock { routes = routes.filter { held.contains($0.key) } }
    }

    func forget(_ requestIDs: [String]) {
        lock.withLock { for id in requestIDs { routes[id] = nil } }
    }
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
