import Wire

/// Decode on the workers: what a hop's item becomes downstream. A prefill carries the route and
/// the loop to every hop, which keeps them (`HeldRoutes`); the decode steps after it carry only
/// their own data.
extension ForwardItem {
    /// As sent: a looping request's decode step leaves out what its hops hold.
    private var asSent: ForwardItem { loop.isEmpty || prefill ? self : routeLeftOut }

    /// The item for the next hop, carrying this stage's hidden states.
    func onward(_ hidden: Wire.HiddenStates) -> (address: String, item: ForwardItem)? {
        guard let next = route.first else { return nil }
        var item = self
        item.tokenIDs = []
        item.hidden = hidden
        item.start = next.start
        item.end = next.end
        item.route = Array(route.dropFirst())
        return (next.address, item.asSent)
    }

    /// After the last stage sampled `token` at `position`: the next decode step for the first
    /// stage, or nil when the scheduler drives the steps (no loop) or the generation is over
    /// (max_new_tokens reached or a stop token).
    func nextStep(token: UInt32, position: UInt32) -> (address: String, item: ForwardItem)? {
        guard let first = loop.first, step + 1 < UInt64(maxNewTokens), !stopTokenIDs.contains(token) else { return nil }
        var item = self
        item.positions = [position]
        item.tokenIDs = [token]
        item.hidden = nil
        item.start = first.start
        item.end = first.end
        item.route = Array(loop.dropFirst())
        item.prefill = false
        item.step = step + 1
        item.hopSeconds = []   // a new step: its hops' times start afresh
        return (first.address, item.asSent)
    }

    /// This hop's part of the step is done: its entry in `hopSeconds` (opened by the sender with
    /// its link's wait; none from the scheduler) gains the time since the Forward arrived.
    func closingHop(arrived: ContinuousClock.Instant, now: ContinuousClock.Instant) -> ForwardItem {
        var item = self
        if item.hopSeconds.isEmpty { item.hopSeconds = [0] }
        item.hopSeconds[item.hopSeconds.count - 1] += (now - arrived).inSeconds
        return item
    }
}

extension Duration {
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
