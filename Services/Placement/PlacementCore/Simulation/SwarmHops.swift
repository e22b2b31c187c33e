import Routing

/// Swarm as the Helix artifact's simulator runs it (`SimulationConfig.swarmPicksHopsOnTheWay`): a
/// prompt's next hop is picked as the prompt leaves the source or a node, so the hop times
/// observed while it travels steer it (`Router.nextHop`); its decode steps follow the route it took.
/// Routed whole at admission instead, the first queries of an offline run are all routed before any
/// hop time comes back, and split blindly over fast and slow links (geo24's cross-region stages).
extension SimulationEngine {
    /// Admission: the first hop only.
    mutating func admitFirstHop(_ r: Int) -> Bool {
        guard extendRoute(r, from: problem.nodes.count, layer: 0) else { return false }
        startIteration(r)
        return true
    }

    /// The prompt of `r`, leaving `vertex` (a node, or the source: `problem.nodes.count`) with
    /// `layer` next to run, picks its next hop; once its route reaches the last layer there is
    /// nothing to pick, and its KV is recorded as promised on every hop. False if no node takes it.
    mutating func extendRoute(_ r: Int, from vertex: Int, layer: Int) -> Bool {
        guard layer < problem.numLayers else { return true }
        let ledger = self.ledger, queue = self.queue
        guard case .success(let step) = router.nextHop(from: vertex, layer: layer, prompt: requests[r].input, maxTokens: nil,
                                                       reserved: { ledger.reserved(on: $0) }, queueLength: { queue[$0].count }) else { return false }
        requests[r].path.steps.append(step)
        if step.layers.upperBound >= problem.numLayers { self.ledger.reserve(r, Router.reservation(requests[r].path)) }
        return true
    }

    /// A prompt no node after its last hop takes (e.g. over every next node's prompt limit) is
    /// refused there, as a whole route would have been at admission: what it holds is freed, and
    /// it is not replaced.
    mutating func abandon(_ r: Int) {
        for step in requests[r].path.steps {
            kvHeld[step.node] = max(0, kvHeld[step.node] - Double(requests[r].input * step.layers.count))
        }
        ledger.release(r)
        rejected += 1
    }
}
