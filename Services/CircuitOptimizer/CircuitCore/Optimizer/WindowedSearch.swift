/// Best-first search on large circuits, one window at a time.
///
/// A contiguous run of a topological order is a convex piece of the DAG, so it can be optimized as a
/// circuit of its own and put back in place: equivalence of the piece up to phase gives equivalence of
/// the whole. Windows shift by half their size each round, and the cheap global passes run between
/// rounds so that rotations merge across window borders. Circuits of at most two windows are searched
/// whole (`BestFirstSearch`).
///
/// A value that can be paused at a deadline and resumed, and handed better circuits found elsewhere.
public struct WindowedSearch: Sendable {
    let rules: RuleSet
    let cost: CostKind
    let window: Int
    let rotationMerging: Bool
    /// The whole-circuit search, for circuits of at most two windows.
    private var whole: BestFirstSearch?
    private var current: Circuit
    private var shift = 0
    private var round = 0

    public init(_ start: Circuit, rules: RuleSet, cost: CostKind, window: Int = 100, rotationMerging: Bool = true) {
        self.rules = rules
        self.cost = cost
        self.window = window
        self.rotationMerging = rotationMerging
        current = start
        if start.gates.count <= 2 * window {
            whole = BestFirstSearch(start, rules: rules, cost: cost, rotationMerging: rotationMerging)
        }
    }

    public var best: Circuit { whole?.best ?? current }
    /// Whether the circuit is searched window by window: such a search spreads a turn over its windows,
    /// so it needs long turns (a short one gives each window too little time to find anything).
    public var windowed: Bool { whole == nil }
    /// Nothing more to search until `offer` gives a better circuit (only a whole-circuit search ends).
    public var exhausted: Bool { whole?.exhausted ?? false }

    public static func run(_ start: Circuit, rules: RuleSet, cost: CostKind, deadline: Deadline, window: Int = 100,
                           rotationMerging: Bool = true, improved: (Int) -> Void = { _ in }) -> Circuit {
        var search = WindowedSearch(start, rules: rules, cost: cost, window: window, rotationMerging: rotationMerging)
        search.run(until: deadline, improved: improved)
        return search.best
    }

    /// A cheaper circuit found elsewhere: the search goes on from it.
    public mutating func offer(_ c: Circuit) {
        if whole != nil {
            whole?.offer(c)
        } else if c.cost(cost) < current.cost(cost) {
            current = c
        }
    }

    public mutating func run(until deadline: Deadline, improved: (Int) -> Void = { _ in }) {
        if whole != nil {
            whole?.run(until: deadline, improved: improved)
            return
        }
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
    }
}
