/// Applies only rules that make the circuit smaller, re-running the cheap passes between rounds,
/// until neither finds anything.
public enum Greedy {
    public static func run(_ c: Circuit, rules: RuleSet, cost: CostKind, deadline: Deadline, rotationMerging: Bool = true) -> Circuit {
        let engine = RewriteEngine(rules: rules.rules.filter { reduces($0, cost) })
        var best = c
        for _ in 0..<100 {
            if deadline.expired { break }
            var env = RewriteEnvironment(best, engine: engine)
            var applied = 0
            var id = 0
            while id < env.dag.nodes.count {
                if deadline.expired { break }
                if let m = env.matches(at: id).first {
                    env.apply(m)
                    applied += 1
                }
                id += 1
            }
            if applied == 0 { break }
            let next = NamPipeline.simplify(env.circuit(), deadline: deadline, rotationMerging: rotationMerging)
            if next.cost(cost) > best.cost(cost) || (next.cost(cost) == best.cost(cost) && next.gateCount >= best.gateCount) { break }
            best = next
        }
        return best
    }

    static func reduces(_ r: Rule, _ cost: CostKind) -> Bool {
        switch cost {
        case .cx: return r.source.cxCount > r.target.cxCount || (r.source.cxCount == r.target.cxCount && r.gain > 0)
        default: return r.gain > 0
        }
    }
}
