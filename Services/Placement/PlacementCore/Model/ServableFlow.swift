import Foundation

/// The serving model's KV limit in a form a MILP can use: a constant per (node, layers held).
extension ServingModel {
    /// The most token flow node i can serve holding k layers, by Little's law. It keeps at most
    /// N = hw·KV(k) / ((input + reserved)·k) requests in flight (`predict`'s KV room), and each of
    /// them waits at least τ = k·t_d,i(N) + (L − k)·t_min per decode step: its own layers at that
    /// batch, every other layer at the fastest type's batch-1 time. So decode tokens/s through i
    /// ≤ N/τ, and token flow ≤ N/τ · (input + output)/output. A true bound on what `predict`
    /// credits the node with, looser than it (links and the other hops' batches add to τ).
    func servableFlow(node i: Int, layers k: Int) -> Double {
        let node = problem.nodes[i]
        guard k >= 1, !node.kvCapacity.isEmpty, let profile = profiles[node.type] else { return 0 }
        let L = problem.numLayers
        let kv = Double(node.kvCapacity[min(k, node.kvCapacity.count) - 1])
        let inFlight = kvHighWater * kv / ((meanInput + reservedOutput) * Double(k))
        guard inFlight > 0 else { return 0 }
        let fastest = profiles.values.map { $0.decode.seconds(1) }.filter { $0 > 0 }.min() ?? 0
        let step = Double(k) * profile.decode.seconds(max(1, inFlight.rounded())) + Double(max(0, L - k)) * fastest
        guard step > 0 else { return .infinity }
        return inFlight / step * (meanInput + meanOutput) / meanOutput
    }

    /// The problem with every T_i(k) capped by `servableFlow`: its max-flow is the flow the
    /// serving model can credit, so the MILP maximises that. Also returns how many (node, k) were cut.
    func servableProblem() -> (problem: PlacementProblem, capped: Int) {
        var capped = 0
        var servable = problem
        for i in servable.nodes.indices {
            for k in 1...max(1, servable.nodes[i].maxLayers) where k <= servable.nodes[i].throughput.count {
                let cap = servableFlow(node: i, layers: k)
                if cap < servable.nodes[i].throughput[k - 1] {
                    servable.nodes[i].throughput[k - 1] = cap
                    capped += 1
                }
            }
        }
        return (servable, capped)
    }
}
