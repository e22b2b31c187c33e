import CircuitCore
import Tensor

/// The network's per-gate embeddings, values and message projections for a circuit under rewriting,
/// indexed by DAG node id and kept up to date incrementally: after a rewrite, layer l is recomputed
/// only for gates within l hops of the rewritten region (a gate's layer-l embedding depends on nothing
/// farther), and everything else is reused. Each layer's recomputation is one batched BLAS product.
/// Equal to `QuarlModel.embed` on the whole circuit up to float rounding (tested).
public struct GateEmbeddings: Sendable {
    let weights: InferenceWeights
    /// `embeddings[l]`: layer-l embedding per node id (`widths[l]` floats; layer 0 is the kind embedding).
    var embeddings: [[Float]]
    /// `projections[l]`: `W_h·h` of layer l's embedding per node id, the part of a message its source makes.
    var projections: [[Float]]
    /// Value of rewriting at each node id (meaningless for dead ids).
    public private(set) var values: [Float] = []
    /// Gates recomputed at the last layer by the last update (for measurements).
    public private(set) var lastRecomputed = 0

    public init(_ dag: CircuitDAG, model: QuarlModel) {
        self.init(dag, weights: InferenceWeights(model))
    }

    init(_ dag: CircuitDAG, weights: InferenceWeights) {
        self.weights = weights
        embeddings = [[Float]](repeating: [], count: weights.config.layers + 1)
        projections = [[Float]](repeating: [], count: weights.config.layers)
        let live = (0..<dag.nodes.count).filter { dag.isAlive($0) }
        recompute([[Int]](repeating: live, count: weights.config.layers + 1), in: dag)
    }

    /// Brings the embeddings up to date after `rewrite` was applied to `dag`.
    public mutating func update(after rewrite: Rewrite, in dag: CircuitDAG) {
        // Layer 0 changes at the new gates; layer 1 also at their neighbours and at gates whose wire
        // neighbours changed; every further layer reaches one hop farther.
        var member = Set(rewrite.created)
        var current = rewrite.created
        func add(_ n: Int) {
            if n >= 0 && dag.isAlive(n) && member.insert(n).inserted { current.append(n) }
        }
        func widen() {
            for n in current {
                for x in dag.nodes[n].prev { add(x) }
                for x in dag.nodes[n].next { add(x) }
            }
        }
        var sets = [current]
        widen()
        for n in rewrite.rewired { add(n) }
        sets.append(current)
        for _ in 1..<weights.config.layers {
            widen()
            sets.append(current)
        }
        recompute(sets, in: dag)
    }

    /// Action logits (rules then NOP) at node `node`.
    public func logits(at node: Int) -> [Float] {
        let h = weights.config.hidden, top = weights.config.layers
        return weights.actor.apply(Array(embeddings[top][(node * h)..<((node + 1) * h)]), rows: 1)
    }

    /// Recomputes layer l at the nodes `sets[l]` (each set contains the previous one).
    private mutating func recompute(_ sets: [[Int]], in dag: CircuitDAG) {
        let config = weights.config, h = config.hidden
        grow(to: dag.nodes.count)
        // Layer 0: the kind embedding, and its projection for the first messages.
        let e = config.embedding
        for n in sets[0] {
            let kind = CircuitGraph.kindIndex[dag.nodes[n].gate.kind] ?? 0
            for i in 0..<e { embeddings[0][n * e + i] = weights.embedding.scalars[kind * e + i] }
        }
        project(layer: 0, sets[0])
        for l in 1...config.layers {
            let nodes = sets[l], width = weights.widths[l - 1]
            // Rows [h_prev, Σ messages] for the update, then ReLU(U·row + b).
            var input = [Float](repeating: 0, count: nodes.count * (width + h))
            let edge = weights.messageEdge[l - 1].scalars
            embeddings[l - 1].withUnsafeBufferPointer { previous in
                projections[l - 1].withUnsafeBufferPointer { projection in
                    input.withUnsafeMutableBufferPointer { rows in
                        for (r, n) in nodes.enumerated() {
                            let row = r * (width + h)
                            for i in 0..<width { rows[row + i] = previous[n * width + i] }
                            // Σ ReLU(W_h·h_u + W_e·e + b) over the wire neighbours u (the edge's kind picks W_e·e + b).
                            func message(from u: Int, qubit q: Int, port p: Int, forward: Bool) {
                                guard u >= 0 else { return }
                                let k = InferenceWeights.edgeKind(sourcePort: dag.port(of: q, in: u), targetPort: p, forward: forward)
                                for o in 0..<h {
                                    let m = projection[u * h + o] + edge[k * h + o]
                                    if m > 0 { rows[row + width + o] += m }
                                }
                            }
                            let node = dag.nodes[n]
                            for (p, q) in node.gate.qubits.enumerated() {
                                message(from: node.prev[p], qubit: q, port: p, forward: true)
                                message(from: node.next[p], qubit: q, port: p, forward: false)
                            }
                        }
                    }
                }
            }
            var out = InferenceWeights.linear(input, rows: nodes.count, inputs: width + h,
                                              weight: weights.update[l - 1], bias: weights.updateBias[l - 1])
            for i in out.indices where out[i] < 0 { out[i] = 0 }
            for (r, n) in nodes.enumerated() {
                for o in 0..<h { embeddings[l][n * h + o] = out[r * h + o] }
            }
            if l < config.layers {
                project(layer: l, nodes)
            } else {
                let v = weights.critic.apply(out, rows: nodes.count)
                for (r, n) in nodes.enumerated() { values[n] = v[r] }
            }
        }
        lastRecomputed = sets[config.layers].count
    }

    /// `projections[l] = W_h·embeddings[l]` at `nodes`.
    private mutating func project(layer l: Int, _ nodes: [Int]) {
        let width = weights.widths[l], h = weights.config.hidden
        var x = [Float](repeating: 0, count: nodes.count * width)
        for (r, n) in nodes.enumerated() {
            for i in 0..<width { x[r * width + i] = embeddings[l][n * width + i] }
        }
        let y = InferenceWeights.linear(x, rows: nodes.count, inputs: width, weight: weights.messageNode[l], bias: nil)
        for (r, n) in nodes.enumerated() {
            for o in 0..<h { projections[l][n * h + o] = y[r * h + o] }
        }
    }

    private mutating func grow(to count: Int) {
        guard values.count < count else { return }
        let extra = count - values.count
        values += [Float](repeating: 0, count: extra)
        for l in embeddings.indices {
            let width = l == 0 ? weights.config.embedding : weights.config.hidden
            embeddings[l] += [Float](repeating: 0, count: extra * width)
        }
        for l in projections.indices { projections[l] += [Float](repeating: 0, count: extra * weights.config.hidden) }
    }
}
