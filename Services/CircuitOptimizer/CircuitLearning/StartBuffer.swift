import CircuitCore
import Foundation
import Tensor

/// Every distinct circuit reached from one training circuit, sampled towards low cost:
/// weight exp(−(cost − best) / 2), so circuits a few gates above the best still get picked.
public struct StartBuffer: Sendable {
    public let name: String
    public let initialCost: Int
    public private(set) var entries: [(cost: Int, circuit: Circuit)] = []
    private var seen = Set<Int>()
    public let capacity: Int

    public init(name: String, circuit: Circuit, cost: Int, capacity: Int = 200) {
        self.name = name
        initialCost = cost
        self.capacity = capacity
        add(circuit, cost: cost)
    }

    public var best: (cost: Int, circuit: Circuit) { entries.min { $0.cost < $1.cost }! }

    public mutating func add(_ c: Circuit, cost: Int) {
        guard seen.insert(c.structuralHash).inserted else { return }
        entries.append((cost, c))
        if entries.count > capacity {
            // Drop the most expensive (never the original, which is first and kept as an anchor).
            if let worst = entries.indices.dropFirst().max(by: { entries[$0].cost < entries[$1].cost }) { entries.remove(at: worst) }
        }
    }

    public func sample(using rng: inout SeededGenerator) -> Circuit {
        let bestCost = best.cost
        let logits = entries.map { -Float($0.cost - bestCost) / 2 }
        return entries[Categorical.sample(logits: logits, using: &rng) ?? 0].circuit
    }
}
