import DeterministicRandom

/// Moves of the layer boundary where stages meet (nodes ending at a layer, nodes starting there):
/// one GPU hands a few layers to the next one in its pipeline, so no route breaks on the way.
/// That is the trade the serving model weighs (fewer layers on a GPU: more KV room per layer and a
/// shorter batch; more: fewer hops), and single-node moves reach it only through layouts whose
/// flow collapses in between (a gap or a pile-up at the moved end), which the climb never keeps.
struct BoundaryShift {
    let problem: PlacementProblem

    /// A random boundary shift of 1–3 layers: of one pair of meeting stages, or of every stage at
    /// that boundary together (replicas stay replicas). Nil when the drawn move does not apply
    /// (no stage starts where the drawn one ends, or a GPU would hold none or too many layers).
    func neighbour(of current: Placement, using rng: inout SplitMix64) -> Placement? {
        let placed = current.ranges.indices.filter { current.ranges[$0] != nil }
        guard let i = placed.randomElement(using: &rng), let boundary = current.ranges[i]?.end else { return nil }
        let after = placed.filter { current.ranges[$0]?.start == boundary }
        guard let j = after.randomElement(using: &rng) else { return nil }
        let magnitude = Int.random(in: 1...3, using: &rng)
        let delta = Bool.random(using: &rng) ? magnitude : -magnitude
        let together = Bool.random(using: &rng)
        let ending = together ? placed.filter { current.ranges[$0]?.end == boundary } : [i]
        let starting = together ? after : [j]
        var candidate = current
        for k in ending {
            guard let r = current.ranges[k] else { return nil }
            let moved = LayerRange(start: r.start, end: boundary + delta)
            guard moved.end > moved.start, moved.count <= problem.nodes[k].maxLayers else { return nil }
            candidate.ranges[k] = moved
        }
        for k in starting {
            guard let r = current.ranges[k] else { return nil }
            let moved = LayerRange(start: boundary + delta, end: r.end)
            guard moved.start >= 0, moved.end > moved.start, moved.count <= problem.nodes[k].maxLayers else { return nil }
            candidate.ranges[k] = moved
        }
        return candidate
    }
}
