import Foundation

/// Quartz's best-first search: pop the cheapest circuit, apply every rule at every gate, keep results
/// within `ceiling` × the best cost that were not seen before (hashed), until the deadline.
/// Each popped circuit is cleaned by the cheap passes first, which is where most gains land.
public enum Search {
    public static func run(_ start: Circuit, rules: RuleSet, cost: CostKind, deadline: Deadline,
                           ceiling: Double = 1.05, queueLimit: Int = 2000,
                           improved: (Int) -> Void = { _ in }) -> Circuit {
        let engine = RewriteEngine(rules: rules.rules.filter { $0.gain >= 0 || $0.gain == -1 })
        var best = start
        var bestCost = start.cost(cost)
        var queue = Heap()
        var seen = Set<Int>()
        queue.push(cost: bestCost, circuit: start)
        seen.insert(CircuitHash.of(start))
        while let (_, current) = queue.pop() {
            if deadline.expired { break }
            let cleaned = NamPipeline.simplify(current, deadline: deadline)
            if cleaned.cost(cost) < bestCost {
                best = cleaned
                bestCost = cleaned.cost(cost)
                improved(bestCost)
            }
            let dag = CircuitDAG(cleaned)
            let positions = RewriteEngine.positions(dag)
            let ids = Array(0..<dag.nodes.count)
            // Both cores: each takes half of the anchor gates.
            let halves = ParallelPair.run({ neighbours(ids.filter { $0 % 2 == 0 }, dag, positions, engine, deadline) },
                                          { neighbours(ids.filter { $0 % 2 == 1 }, dag, positions, engine, deadline) })
            let limit = Int(Double(bestCost) * ceiling)
            for c in halves.0 + halves.1 {
                let k = c.cost(cost)
                guard k <= limit, seen.insert(CircuitHash.of(c)).inserted else { continue }
                queue.push(cost: k, circuit: c)
            }
            queue.trim(to: queueLimit)
            if seen.count > 2_000_000 { seen.removeAll() }
        }
        return best
    }

    static func neighbours(_ anchors: [Int], _ dag: CircuitDAG, _ positions: [Int], _ engine: RewriteEngine, _ deadline: Deadline) -> [Circuit] {
        var out: [Circuit] = []
        for id in anchors {
            if deadline.expired { break }
            for m in engine.matches(at: id, in: dag, positions: positions) {
                var d = dag
                engine.apply(m, to: &d)
                out.append(d.circuit())
            }
        }
        return out
    }
}

/// A hash of the circuit's DAG that does not depend on the order of independent gates.
enum CircuitHash {
    static func of(_ c: Circuit) -> Int {
        var level = [Int](repeating: 0, count: c.qubitCount)
        var keyed: [(Int, Int, Gate)] = []
        keyed.reserveCapacity(c.gates.count)
        for g in c.gates {
            let l = g.qubits.map { level[$0] }.max() ?? 0
            for q in g.qubits { level[q] = l + 1 }
            keyed.append((l, g.qubits.first ?? 0, g))
        }
        keyed.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        var h = Hasher()
        for k in keyed { h.combine(k.2) }
        return h.finalize()
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
