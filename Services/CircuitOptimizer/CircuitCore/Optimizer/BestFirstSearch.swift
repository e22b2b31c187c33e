/// `Search`'s best-first search as a value that can be paused at a deadline and resumed later with its
/// queue intact, and be handed better circuits found by someone else (the learned search's walks).
public struct BestFirstSearch: Sendable {
    let engine: RewriteEngine
    let cost: CostKind
    let ceilings: [Double]
    let queueLimit: Int
    let rotationMerging: Bool
    public private(set) var best: Circuit
    public private(set) var bestCost: Int
    /// Index into `ceilings` of the one in use.
    private var level = 0
    private var queue = Heap()
    private var seen = Set<Int>()
    /// Every ceiling's reachable space has been searched; only `offer` gives it more to do.
    public private(set) var exhausted = false

    public init(_ start: Circuit, rules: RuleSet, cost: CostKind, ceiling: Double = 1.05, queueLimit: Int = 2000,
                rotationMerging: Bool = true) {
        engine = RewriteEngine(rules: rules.rules.filter { $0.gain >= -1 })
        self.cost = cost
        ceilings = [ceiling, ceiling + 0.05, ceiling + 0.15, ceiling + 0.25]
        self.queueLimit = queueLimit
        self.rotationMerging = rotationMerging
        best = start
        bestCost = start.cost(cost)
        restart(from: start)
    }

    private mutating func restart(from c: Circuit) {
        queue = Heap()
        seen = [RewriteEnvironment.hash(of: c)]
        queue.push(cost: c.cost(cost), circuit: c)
    }

    /// A circuit found elsewhere: when it is cheaper than the best, the search goes on from it first
    /// (it is the cheapest in the queue), and an exhausted search comes back to life.
    public mutating func offer(_ c: Circuit) {
        let k = c.cost(cost)
        guard k < bestCost else { return }
        best = c
        bestCost = k
        if seen.insert(RewriteEnvironment.hash(of: c)).inserted { queue.push(cost: k, circuit: c) }
        exhausted = false
    }

    /// Searches until `deadline` or until every ceiling is exhausted; `improved` hears each new best cost.
    public mutating func run(until deadline: Deadline, improved: (Int) -> Void = { _ in }) {
        while !deadline.expired {
            guard let (_, current) = queue.pop() else {
                // This ceiling's space is exhausted: start again from the best with the next, looser one.
                guard level + 1 < ceilings.count else { exhausted = true; return }
                level += 1
                restart(from: best)
                continue
            }
            let cleaned = NamPipeline.simplify(current, deadline: deadline, rotationMerging: rotationMerging)
            if cleaned.cost(cost) < bestCost {
                best = cleaned
                bestCost = cleaned.cost(cost)
                improved(bestCost)
            }
            let env = RewriteEnvironment(cleaned, engine: engine)
            let ids = Array(0..<env.dag.nodes.count)
            let limit = Int(Double(bestCost) * ceilings[level])
            let base = cleaned.cost(cost)
            var found: [(Int, Int, Circuit)] = []
            do {
                // Both cores: each takes half of the anchor gates and returns (cost, hash, circuit) within the ceiling.
                // (The snapshot of `seen` ends with this block, so inserting below does not copy the set.)
                let known = seen, cost = cost
                let halves = ParallelPair.run({ Search.neighbours(ids.filter { $0 % 2 == 0 }, env, known, cost, base, limit, deadline) },
                                              { Search.neighbours(ids.filter { $0 % 2 == 1 }, env, known, cost, base, limit, deadline) })
                found = halves.0 + halves.1
            }
            for (k, h, c) in found where seen.insert(h).inserted {
                queue.push(cost: k, circuit: c)
            }
            // Cut off part-way: expand this circuit again when the search resumes (what it found is seen already).
            if deadline.expired { queue.push(cost: current.cost(cost), circuit: current) }
            queue.trim(to: queueLimit)
            if seen.count > 2_000_000 { seen.removeAll() }
        }
    }
}
