import CircuitCore
import Foundation
import Tensor

extension GateEmbeddings {
    /// The largest value among the live DAG `nodes` (0 when none is alive).
    public func maxValue(overNodes nodes: [Int], in dag: CircuitDAG) -> Float {
        var best: Float?
        for n in nodes where dag.isAlive(n) { best = max(best ?? -.infinity, values[n]) }
        return best ?? 0
    }

    /// A gate to rewrite at, drawn from softmax(V/T) over the live gates not excluded; T makes a gate
    /// that leads all others by one unit of value get about 90% of the probability.
    public func sampleNode(in dag: CircuitDAG, excluding excluded: Set<Int> = [], using rng: inout SeededGenerator) -> Int? {
        let live = (0..<dag.nodes.count).filter { dag.isAlive($0) }
        guard !live.isEmpty else { return nil }
        let temperature = 1 / Foundation.log(max(9 * Float(max(live.count - 1, 1)), 1.5))
        let mask = excluded.isEmpty ? nil : live.map { !excluded.contains($0) }
        return Categorical.sample(logits: live.map { values[$0] / temperature }, mask: mask, using: &rng).map { live[$0] }
    }
}

/// The actions allowed at a gate: the rules that match there, and NOP.
public struct ActionMask: Sendable {
    public var matches: [Int: Match]
    public var allowed: [Bool]

    public init(_ matches: [Match], actions: Int) {
        var byRule: [Int: Match] = [:]
        for m in matches where byRule[m.rule] == nil { byRule[m.rule] = m }
        self.matches = byRule
        allowed = [Bool](repeating: false, count: actions)
        for r in byRule.keys { allowed[r] = true }
        allowed[actions - 1] = true
    }

    /// Allowed actions as indices (for storing a training state compactly).
    public var indices: [Int] { allowed.indices.filter { allowed[$0] } }
}
