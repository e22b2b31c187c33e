import Tensor

/// A model's weights laid out for inference without a tape. A message layer computes
/// `W·[h_src, e] + b`; split as `W_h·h_src + (W_e·e + b)`, the first part is made once per gate (not
/// once per edge) and the second, since `e` is one-hot ports plus a direction flag, is one of a few
/// precomputed rows looked up by the edge's kind.
struct InferenceWeights: Sendable {
    /// Edge kinds: source port × target port × direction (ports ≥ 2 share the last one-hot slot).
    static let edgeKinds = 3 * 3 * 2

    static func edgeKind(sourcePort: Int, targetPort: Int, forward: Bool) -> Int {
        (min(sourcePort, 2) * 3 + min(targetPort, 2)) * 2 + (forward ? 1 : 0)
    }

    let config: ModelConfig
    let embedding: Tensor
    /// Input width of each layer (the embedding size, then `hidden`).
    let widths: [Int]
    /// Per layer: `W_h` `[hidden, width]`.
    let messageNode: [Tensor]
    /// Per layer: `W_e·e + b` for every edge kind, `[edgeKinds, hidden]`.
    let messageEdge: [Tensor]
    /// Per layer: the update `[hidden, width + hidden]` and its bias.
    let update: [Tensor]
    let updateBias: [Tensor]
    let critic: Head
    let actor: Head

    /// Two linear layers with a ReLU between them.
    struct Head: Sendable {
        let w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor
    }

    init(_ model: QuarlModel) {
        let p = model.parameters
        func get(_ name: String) -> Tensor {
            // A QuarlModel always holds its own parameters (the checkpoint loader checks names and shapes).
            guard let t = p[name] else { preconditionFailure("model has no parameter \(name)") }
            return t
        }
        config = model.config
        embedding = get("gnn.embedding")
        let h = config.hidden
        var widths: [Int] = [], node: [Tensor] = [], edge: [Tensor] = [], update: [Tensor] = [], updateBias: [Tensor] = []
        var width = config.embedding
        for l in 0..<config.layers {
            let w = get("gnn.\(l).message.w"), b = get("gnn.\(l).message.b")
            let inputs = width + CircuitGraph.edgeWidth
            node.append(Tensor(shape: [h, width]) { out in
                for o in 0..<h { for i in 0..<width { out[o * width + i] = w.scalars[o * inputs + i] } }
            })
            edge.append(Tensor(shape: [Self.edgeKinds, h]) { out in
                for s in 0..<3 { for t in 0..<3 { for forward in [false, true] {
                    let k = Self.edgeKind(sourcePort: s, targetPort: t, forward: forward)
                    for o in 0..<h {
                        let row = o * inputs + width
                        out[k * h + o] = b.scalars[o] + w.scalars[row + s] + w.scalars[row + 3 + t] + (forward ? w.scalars[row + 6] : 0)
                    }
                } } }
            })
            update.append(get("gnn.\(l).update.w"))
            updateBias.append(get("gnn.\(l).update.b"))
            widths.append(width)
            width = h
        }
        self.widths = widths
        messageNode = node
        messageEdge = edge
        self.update = update
        self.updateBias = updateBias
        critic = Head(w1: get("critic.1.w"), b1: get("critic.1.b"), w2: get("critic.2.w"), b2: get("critic.2.b"))
        actor = Head(w1: get("actor.1.w"), b1: get("actor.1.b"), w2: get("actor.2.w"), b2: get("actor.2.b"))
    }
}

extension InferenceWeights.Head {
    /// `W2·ReLU(W1·x + b1) + b2` for `rows` rows of `x` (row-major, `w1` columns wide).
    func apply(_ x: [Float], rows: Int) -> [Float] {
        var middle = InferenceWeights.linear(x, rows: rows, inputs: w1.shape[1], weight: w1, bias: b1)
        for i in middle.indices where middle[i] < 0 { middle[i] = 0 }
        return InferenceWeights.linear(middle, rows: rows, inputs: w1.shape[0], weight: w2, bias: b2)
    }
}

extension InferenceWeights {
    /// `x[rows, inputs]·Wᵀ (+ b)` with `W` `[outputs, inputs]` (BLAS).
    static func linear(_ x: [Float], rows: Int, inputs: Int, weight: Tensor, bias: Tensor?) -> [Float] {
        let outputs = weight.shape[0]
        var y = [Float](repeating: 0, count: rows * outputs)
        guard rows > 0 else { return y }
        x.withUnsafeBufferPointer { px in
            weight.scalars.withUnsafeBufferPointer { pw in
                y.withUnsafeMutableBufferPointer { py in
                    Tensor.linearKernel(rows: rows, inputs: inputs, outputs: outputs, x: px.baseAddress, weight: pw.baseAddress, out: py.baseAddress)
                }
            }
        }
        if let bias { for r in 0..<rows { for o in 0..<outputs { y[r * outputs + o] += bias.scalars[o] } } }
        return y
    }
}
