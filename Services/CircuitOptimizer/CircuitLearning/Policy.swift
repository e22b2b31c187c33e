import CircuitCore
import Foundation
import Tensor

/// One evaluation of the network on a whole circuit: the value of every gate and, on demand, the
/// action logits at a gate.
public struct Evaluation {
    public let graph: CircuitGraph
    /// Value per row.
    public let values: [Float]
    let tape: Tape
    let embeddings: Variable
    let model: QuarlModel

    public init(_ environment: RewriteEnvironment, model: QuarlModel) {
        graph = CircuitGraph(environment.dag)
        tape = Tape()
        self.model = model
        embeddings = model.embed(graph, on: tape)
        values = tape.value(model.values(embeddings, on: tape)).scalars
    }

    /// Logits over rules + NOP at `row`.
    public func logits(atRow row: Int) -> [Float] {
        model.logits(tape.gather(embeddings, rows: [row]), on: tape).scalars(tape)
    }

    /// The largest value among DAG `nodes` (0 when none is alive).
    public func maxValue(overNodes nodes: [Int]) -> Float {
        var best: Float?
        for n in nodes where n < graph.rowOf.count && graph.rowOf[n] >= 0 {
            best = max(best ?? -.infinity, values[graph.rowOf[n]])
        }
        return best ?? 0
    }

    /// A gate to rewrite at, drawn from softmax(V/T) over rows not excluded; T makes a gate that leads
    /// all others by one unit of value get about 90% of the probability.
    public func sampleRow(excluding excluded: Set<Int> = [], using rng: inout SeededGenerator) -> Int? {
        let n = graph.nodeCount
        guard n > 0 else { return nil }
        let temperature = 1 / Foundation.log(max(9 * Float(max(n - 1, 1)), 1.5))
        let mask = excluded.isEmpty ? nil : (0..<n).map { !excluded.contains(graph.rows[$0]) }
        return Categorical.sample(logits: values.map { $0 / temperature }, mask: mask, using: &rng)
    }
}

extension Variable {
    func scalars(_ tape: Tape) -> [Float] { tape.value(self).scalars }
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
