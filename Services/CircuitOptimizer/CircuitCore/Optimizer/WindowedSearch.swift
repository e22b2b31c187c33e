/// Best-first search on large circuits, one window at a time.
///
/// A contiguous run of a topological order is a convex piece of the DAG, so it can be optimized as a
/// circuit of its own and put back in place: equivalence of the piece up to phase gives equivalence of
/// the whole. Windows shift by half their size each round, and the cheap global passes run between
/// rounds so that rotations merge across window borders.
public enum WindowedSearch {
    public static func run(_ start: Circuit, rules: RuleSet, cost: CostKind, deadline: Deadline, window: Int = 100,
                           rotationMerging: Bool = true, improved: (Int) -> Void = { _ in }) -> Circuit {
        guard start.gates.count > 2 * window else {
            return Search.run(start, rules: rules, cost: cost, deadline: deadline, rotationMerging: rotationMerging, improved: improved)
        }
        var current = start
        var shift = 0
        var round = 0
        while !deadline.expired {
            let gates = current.gates
            var pieces: [Range<Int>] = []
            var lo = 0
            var hi = shift == 0 ? window : shift
            while lo < gates.count {
                pieces.append(lo..<min(hi, gates.count))
                lo = hi
                hi += window
            }
            // Spread what is left of the budget over this round's windows (later rounds get the rest).
            let perWindow = max(0.05, deadline.remaining / Double(pieces.count) / (round == 0 ? 2 : 1))
            var out: [Gate] = []
            out.reserveCapacity(gates.count)
            for piece in pieces {
                let sub = current.withGates(Array(gates[piece]))
                if deadline.expired || piece.count < 4 {
                    out += sub.gates
                    continue
                }
                let slice = Deadline(seconds: min(perWindow, deadline.remaining), cancelled: { deadline.expired })
                let better = Search.run(sub, rules: rules, cost: cost, deadline: slice, rotationMerging: rotationMerging)
                out += better.cost(cost) < sub.cost(cost) ? better.gates : sub.gates
            }
            let next = NamPipeline.simplify(current.withGates(out), deadline: deadline, rotationMerging: rotationMerging)
            if next.cost(cost) < current.cost(cost) {
                current = next
                improved(current.cost(cost))
            }
            shift = shift == 0 ? window / 2 : 0
            round += 1
        }
        return current
    }
}
