import DeterministicRandom
import Foundation

/// Simulated annealing over (start, length) per node, every move scored by the exact max-flow
/// of the placed graph. A secondary term (the mean of the thinnest layer coverages) breaks the
/// plateaus of the max-min objective so that the walk keeps finding better neighbours.
struct LocalSearch {
    let problem: PlacementProblem
    let connectivity: Connectivity
    /// Per node, layer counts worth holding: those whose k T(k) is not dominated by a larger k.
    let lengths: [[Int]]

    init(problem: PlacementProblem, connectivity: Connectivity) {
        self.problem = problem
        self.connectivity = connectivity
        let L = problem.numLayers
        lengths = problem.nodes.map { node in
            let top = max(1, min(L, node.maxLayers))
            // Keep k unless some larger k' has at least the throughput (it covers more for as much).
            return (1...top).filter { k in !(k..<top).contains { node.throughput(layers: $0 + 1) >= node.throughput(layers: k) } }
        }
    }

    struct Score: Comparable {
        var flow: Double
        var tie: Double
        static func < (a: Score, b: Score) -> Bool { a.flow + 1e-3 * a.tie < b.flow + 1e-3 * b.tie }
    }

    func score(_ placement: Placement) -> Score {
        let flow = FlowScorer.objective(problem, placement, connectivity)
        let L = problem.numLayers
        var coverage = [Double](repeating: 0, count: L)
        for (i, r) in placement.ranges.enumerated() {
            guard let r else { continue }
            let t = problem.nodes[i].throughput(layers: r.count)
            for l in r.start..<r.end { coverage[l] += t }
        }
        coverage.sort()
        let thin = coverage.prefix(max(1, L / 8))
        return Score(flow: flow, tie: thin.reduce(0, +) / Double(thin.count))
    }

    /// Greedy start: strongest nodes first, each at its best k, where coverage is thinnest.
    func greedy() -> Placement {
        let L = problem.numLayers
        var coverage = [Double](repeating: 0, count: L)
        var ranges = [LayerRange?](repeating: nil, count: problem.nodes.count)
        let order = problem.nodes.indices.sorted { bestMass($0) > bestMass($1) }
        for i in order {
            let k = min(L, bestLength(i))
            let t = problem.nodes[i].throughput(layers: k)
            var bestStart = 0, bestSum = Double.infinity
            for s in 0...(L - k) {
                let sum = coverage[s..<(s + k)].reduce(0, +)
                if sum < bestSum { bestSum = sum; bestStart = s }
            }
            ranges[i] = LayerRange(start: bestStart, end: bestStart + k)
            for l in bestStart..<(bestStart + k) { coverage[l] += t }
        }
        return Placement(ranges: ranges)
    }

    func bestLength(_ i: Int) -> Int {
        let node = problem.nodes[i]
        return (1...max(1, node.maxLayers)).max { Double($0) * node.throughput(layers: $0) < Double($1) * node.throughput(layers: $1) } ?? 1
    }

    func bestMass(_ i: Int) -> Double { Double(bestLength(i)) * problem.nodes[i].throughput(layers: bestLength(i)) }

    /// A random move: shift, resize (anchored at one end), relocate, or swap with another node.
    /// nil when the drawn move does not apply.
    func neighbour(of current: Placement, using rng: inout SplitMix64) -> Placement? {
        let L = problem.numLayers
        var candidate = current
        let i = Int.random(in: 0..<problem.nodes.count, using: &rng)
        let lens = lengths[i]
        let old = candidate.ranges[i]
        switch Int.random(in: 0..<10, using: &rng) {
        case 0...3:  // shift
            let k = old?.count ?? lens.last ?? 1
            let s0 = old?.start ?? 0
            let delta = Int.random(in: -3...3, using: &rng)
            let s = min(max(0, s0 + delta), L - k)
            candidate.ranges[i] = LayerRange(start: s, end: s + k)
        case 4...6:  // resize, anchored at one end
            let k = lens.randomElement(using: &rng) ?? 1
            let anchorEnd = Bool.random(using: &rng)
            let s0 = old?.start ?? 0, e0 = old?.end ?? k
            let s = anchorEnd ? max(0, min(e0 - k, L - k)) : min(s0, L - k)
            candidate.ranges[i] = LayerRange(start: s, end: s + k)
        case 7:  // relocate anywhere
            let k = lens.randomElement(using: &rng) ?? 1
            let s = Int.random(in: 0...(L - k), using: &rng)
            candidate.ranges[i] = LayerRange(start: s, end: s + k)
        default:  // swap positions with another node (lengths clipped to what each holds)
            let j = Int.random(in: 0..<problem.nodes.count, using: &rng)
            guard j != i, let a = candidate.ranges[i], let b = candidate.ranges[j] else { return nil }
            let ki = min(b.count, problem.nodes[i].maxLayers), kj = min(a.count, problem.nodes[j].maxLayers)
            candidate.ranges[i] = LayerRange(start: min(b.start, L - ki), end: min(b.start, L - ki) + ki)
            candidate.ranges[j] = LayerRange(start: min(a.start, L - kj), end: min(a.start, L - kj) + kj)
        }
        return candidate
    }

    /// One annealing chain. Returns the best placement seen.
    func anneal(from start: Placement, seed: UInt64, deadline: Double, clock: Clock, maxEvaluations: Int?,
                cancel: CancellationToken?, report: (Double) -> Void) -> (Placement, Double, Int) {
        var rng = SplitMix64(plannerSeed: seed)
        var current = start
        var currentScore = score(current)
        var best = current
        var bestScore = currentScore
        var evaluations = 0
        let limit = maxEvaluations ?? Int.max
        // Temperature relative to the objective's size, cooled geometrically, reheated on stalls.
        let scale = max(1, currentScore.flow)
        var temperature = 0.02 * scale
        var sinceImprovement = 0
        while evaluations < limit {
            if evaluations % 256 == 0 {
                if clock.elapsed >= deadline || cancel?.isCancelled == true { break }
            }
            guard let candidate = neighbour(of: current, using: &rng), candidate != current else { continue }
            let s = score(candidate)
            evaluations += 1
            let delta = (s.flow + 1e-3 * s.tie) - (currentScore.flow + 1e-3 * currentScore.tie)
            if delta >= 0 || Double.random(in: 0..<1, using: &rng) < exp(delta / temperature) {
                current = candidate
                currentScore = s
                if bestScore < s {
                    best = candidate
                    bestScore = s
                    sinceImprovement = 0
                    report(s.flow)
                }
            }
            sinceImprovement += 1
            temperature *= 0.99995
            if sinceImprovement > 60_000 {  // stalled: restart from the best with some heat
                current = best
                currentScore = bestScore
                temperature = 0.01 * scale
                sinceImprovement = 0
            }
        }
        return (best, bestScore.flow, evaluations)
    }
}
