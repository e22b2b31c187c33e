import Foundation

/// Quartz's best-first search: pop the cheapest circuit, apply every rule at every gate, keep results
/// within `ceiling` × the best cost that were not seen before (hashed), until the deadline.
/// Each popped circuit is cleaned by the cheap passes first, which is where most gains land.
public enum Search {
    /// Searches with `ceiling`; when the reachable space is exhausted before the deadline, starts again
    /// from the best circuit with a looser ceiling (up to 1.3×), so that longer detours are tried.
    public static func run(_ start: Circuit, rules: RuleSet, cost: CostKind, deadline: Deadline,
                           ceiling: Double = 1.05, queueLimit: Int = 2000, rotationMerging: Bool = true,
                           improved: (Int) -> Void = { _ in }) -> Circuit {
        var search = BestFirstSearch(start, rules: rules, cost: cost, ceiling: ceiling, queueLimit: queueLimit,
                                     rotationMerging: rotationMerging)
        search.run(until: deadline, improved: improved)
        return search.best
    }

    /// The rewrites of `env`'s circuit from `anchors` within the ceiling whose results are not in `seen`
    /// (hashed before they are built, so a circuit seen before costs no copy).
    static func neighbours(_ anchors: [Int], _ env: RewriteEnvironment, _ seen: Set<Int>, _ cost: CostKind,
                           _ base: Int, _ limit: Int, _ deadline: Deadline) -> [(Int, Int, Circuit)] {
        var env = env
        var out: [(Int, Int, Circuit)] = []
        for id in anchors {
            if deadline.expired { break }
            for m in env.matches(at: id) {
                let r = env.rules[m.rule]
                // Gate and cx costs change by the rule's difference: skip what would exceed the ceiling unbuilt.
                switch cost {
                case .gates: if base - r.gain > limit { continue }
                case .cx: if base - (r.source.cxCount - r.target.cxCount) > limit { continue }
                case .depth: break
                }
                let h = env.hash(after: m)
                if seen.contains(h) { continue }
                var d = env.dag
                env.engine.apply(m, to: &d)
                let c = d.circuit()
                let k = c.cost(cost)
                if k <= limit { out.append((k, h, c)) }
            }
        }
        return out
    }
}

/// A min-heap of circuits by cost (ties: the earlier pushed first).
struct Heap {
    private var items: [(cost: Int, order: Int, circuit: Circuit)] = []
    private var counter = 0

    mutating func push(cost: Int, circuit: Circuit) {
        items.append((cost, counter, circuit))
        counter += 1
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if less(i, p) { items.swapAt(i, p); i = p } else { break }
        }
    }

    mutating func pop() -> (Int, Circuit)? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count && less(l, m) { m = l }
            if r < items.count && less(r, m) { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return (top.cost, top.circuit)
    }

    /// Keeps the `n` cheapest.
    mutating func trim(to n: Int) {
        guard items.count > n * 2 else { return }
        items.sort { ($0.cost, $0.order) < ($1.cost, $1.order) }
        items.removeLast(items.count - n)
    }

    private func less(_ a: Int, _ b: Int) -> Bool { (items[a].cost, items[a].order) < (items[b].cost, items[b].order) }
}

extension Circuit {
    /// A hash of the gate DAG: equal for circuits that differ only in the order of independent gates.
    public var structuralHash: Int { RewriteEnvironment.hash(of: self) }
}
