import DeterministicRandom
import Foundation

/// Exact branch-and-bound for partial connectivity on clusters whose links never bind. There the
/// max-flow equals the thinnest layer coverage (Σ T over nodes holding the layer), so a placement
/// reaches z exactly when every layer is covered by at least z. Any such cover can be shifted into
/// a canonical form where each node starts at the first layer still short of z (or ends at the
/// last layer), so the search only decides *which* node and *how many layers* at each shortfall.
/// Identical nodes are one class (no symmetric branches); a capacity bound prunes.
struct CoverSearch {
    struct NodeClass {
        var members: [Int]
        var throughput: [Double]  // T(k), index k-1
        var lengths: [Int]        // non-dominated k, longest first
    }

    let problem: PlacementProblem
    let classes: [NodeClass]
    let L: Int

    init(problem: PlacementProblem, classes: [[Int]], lengths: [[Int]]) {
        self.problem = problem
        L = problem.numLayers
        self.classes = classes.map { members in
            NodeClass(members: members, throughput: problem.nodes[members[0]].throughput,
                      lengths: lengths[members[0]].filter { $0 <= problem.numLayers }.sorted(by: >))
        }
    }

    enum Answer { case found([(Int, Int, Int)]), infeasible, timedOut }

    /// Is there a cover with every layer at least z? Returns the intervals (class, start, k) and
    /// the steps taken. `stop(steps)`, asked every 1,024 steps, ends the search (timed out).
    /// `accept` re-checks a complete cover (strict connectivity needs more than coverage).
    func cover(atLeast z: Double, stop: (Int) -> Bool, noiseSeed: UInt64? = nil,
               accept: ([(Int, Int, Int)]) -> Bool = { _ in true }) -> (answer: Answer, steps: Int) {
        var rng = SplitMix64(plannerSeed: noiseSeed ?? 0)
        var coverage = [Double](repeating: 0, count: L)
        var remaining = classes.map { $0.members.count }
        var chosen: [(Int, Int, Int)] = []
        var steps = 0
        var timedOut = false
        // Best mass one node of a class can add towards a target z (per-layer contribution capped at z).
        let mass = classes.map { c in c.lengths.map { Double($0) * min(c.throughput[$0 - 1], z) }.max() ?? 0 }

        func dfs(from start: Int, lastPick: (Int, Int)?) -> Bool {
            steps += 1
            if steps & 1023 == 0, stop(steps) { timedOut = true }
            if timedOut { return false }
            var l = start
            while l < L && coverage[l] >= z - 1e-9 { l += 1 }
            if l == L { return accept(chosen) }
            var deficit = 0.0
            for m in l..<L where coverage[m] < z { deficit += z - coverage[m] }
            var capacity = 0.0
            for (c, n) in remaining.enumerated() { capacity += Double(n) * mass[c] }
            if capacity < deficit - 1e-9 { return false }
            let need = z - coverage[l]
            // Candidates: a class with a node left, and a length; those that fill the shortfall first.
            var candidates: [(c: Int, k: Int, key: Double)] = []
            for (c, cls) in classes.enumerated() where remaining[c] > 0 {
                for k in cls.lengths {
                    // At one layer, picks are made in a fixed order so the same set is not tried twice.
                    if let last = lastPick, l == start, (c, k) > last { continue }
                    let t = cls.throughput[k - 1]
                    let fills = t >= need - 1e-9
                    var key = fills ? 1e12 + Double(k) * 1e3 - t / 1e6 : Double(k) * min(t, z)
                    // Restarts perturb the order (never completeness: every candidate is still tried).
                    if noiseSeed != nil { key = (fills ? 1e12 : 0) + Double(k) * min(t, z) * Double.random(in: 0.7...1.3, using: &rng) }
                    candidates.append((c, k, key))
                }
            }
            candidates.sort { $0.key > $1.key }
            for candidate in candidates {
                let cls = classes[candidate.c]
                let s = min(l, L - candidate.k)
                let t = cls.throughput[candidate.k - 1]
                for m in s..<(s + candidate.k) { coverage[m] += t }
                remaining[candidate.c] -= 1
                chosen.append((candidate.c, s, candidate.k))
                if dfs(from: l, lastPick: (candidate.c, candidate.k)) { return true }
                chosen.removeLast()
                remaining[candidate.c] += 1
                for m in s..<(s + candidate.k) { coverage[m] -= t }
                if timedOut { return false }
            }
            return false
        }
        let found = dfs(from: 0, lastPick: nil)
        if found { return (.found(chosen), steps) }
        return (timedOut ? .timedOut : .infeasible, steps)
    }

    func placement(_ intervals: [(Int, Int, Int)]) -> Placement {
        var ranges = [LayerRange?](repeating: nil, count: problem.nodes.count)
        var next = [Int](repeating: 0, count: classes.count)
        for (c, s, k) in intervals {
            ranges[classes[c].members[next[c]]] = LayerRange(start: s, end: s + k)
            next[c] += 1
        }
        return Placement(ranges: ranges)
    }

    /// Raises the best known value until no cover above it exists (proven optimal) or time runs out.
    /// With strict connectivity the covers are candidates only (each is re-scored); exhausting them
    /// then proves nothing for strict, so `proven` is reported for partial only.
    /// `exact`: coverage is the max-flow (partial connectivity, links that never bind). Otherwise
    /// covers are only candidates, each re-scored by the exact max-flow of the real graph.
    func maximize(from incumbent: Placement, connectivity: Connectivity = .partial, exact: Bool = true, clock: Clock, deadline: Double,
                  options: SolveOptions, found: (Placement) -> Void = { _ in }) -> (Placement, Double, Bool) {
        var best = incumbent
        var value = FlowScorer.objective(problem, incumbent, connectivity)
        // What the search spends: seconds until the deadline, or (work-bounded) steps, so that
        // where it stops does not depend on the machine.
        let stepLimit = options.coverStepLimit
        var used = 0
        func spent(_ extra: Int = 0) -> Double { stepLimit == nil ? clock.elapsed : Double(used + extra) }
        let end = stepLimit.map(Double.init) ?? deadline
        let unit = stepLimit.map { Double($0) / 64 } ?? 1.0  // a slice: 1 s, or 1/64 of the steps
        // Each target is tried first in the natural order (whose exhaustion is a proof), then, when
        // that runs long, by restarts with perturbed orders and growing slices.
        var slice = unit
        var restart: UInt64 = 0
        var exhaustiveDone = false
        while spent() < end && options.cancellation?.isCancelled != true {
            let target = value * (1 + 1e-7) + 1e-6
            let accept: ([(Int, Int, Int)]) -> Bool = { intervals in
                exact || FlowScorer.objective(problem, placement(intervals), connectivity) >= target
            }
            let natural = !exhaustiveDone
            let sliceEnd = min(end, spent() + (natural ? 4 : 1) * slice)
            let (answer, steps) = cover(atLeast: target, stop: { spent($0) >= sliceEnd || options.cancellation?.isCancelled == true },
                                        noiseSeed: natural ? nil : options.seed &* 7919 &+ restart, accept: accept)
            used += steps
            switch answer {
            case .found(let intervals):
                let candidate = placement(intervals)
                let v = FlowScorer.objective(problem, candidate, connectivity)
                guard v > value else { return (best, value, false) }
                best = candidate
                value = v
                found(candidate)
                exhaustiveDone = false
                slice = unit
                options.progress?(SolveProgress(elapsedSeconds: clock.elapsed, phase: "cover", bestObjective: v, bound: problem.upperBound))
            case .infeasible:
                // Every candidate was tried (in whatever order): no cover above the incumbent exists.
                return (best, value, exact)
            case .timedOut:
                if options.cancellation?.isCancelled == true { return (best, value, false) }
                if natural { exhaustiveDone = true } else { restart += 1; slice = min(slice * 1.5, 8 * unit) }
            }
        }
        return (best, value, false)
    }
}
