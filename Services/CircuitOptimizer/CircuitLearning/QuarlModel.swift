import Tensor

/// Sizes of the network.
public struct ModelConfig: Sendable, Equatable {
    public var embedding = 16
    public var hidden = 64
    public var layers = 4
    /// Rules of the rule set; the policy has one more output, NOP.
    public var rules: Int

    public init(rules: Int, hidden: Int = 64, layers: Int = 4) {
        self.rules = rules
        self.hidden = hidden
        self.layers = layers
    }

    public var actions: Int { rules + 1 }
    public var nop: Int { rules }
}

/// The Quarl network: a gate-kind embedding, `layers` QConv message-passing layers, a value head that
/// scores every gate as a place to rewrite, and a policy head over the rules + NOP at a gate.
/// Parameter names start with "gnn.", "actor." or "critic." so the optimizer can give each its rate.
public struct QuarlModel: Sendable {
    public let config: ModelConfig
    public var parameters: ParameterStore

    public init(config: ModelConfig, seed: UInt64) {
        self.config = config
        var rng = SeededGenerator(seed: seed)
        var p = ParameterStore()
        let h = config.hidden
        p.set("gnn.embedding", Initializer.uniform([CircuitGraph.kindCount, config.embedding], limit: 1, using: &rng))
        var width = config.embedding
        for l in 0..<config.layers {
            p.set("gnn.\(l).message.w", Initializer.he([h, width + CircuitGraph.edgeWidth], using: &rng))
            p.set("gnn.\(l).message.b", Tensor(shape: [h]))
            p.set("gnn.\(l).update.w", Initializer.he([h, width + h], using: &rng))
            p.set("gnn.\(l).update.b", Tensor(shape: [h]))
            width = h
        }
        for head in ["actor", "critic"] {
            p.set("\(head).1.w", Initializer.he([h, h], using: &rng))
            p.set("\(head).1.b", Tensor(shape: [h]))
            let outputs = head == "actor" ? config.actions : 1
            p.set("\(head).2.w", Initializer.xavier([outputs, h], using: &rng).map { $0 * 0.1 })
            p.set("\(head).2.b", Tensor(shape: [outputs]))
        }
        parameters = p
    }

    public init(config: ModelConfig, parameters: ParameterStore) {
        self.config = config
        self.parameters = parameters
    }

    /// Gate embeddings `[rows, hidden]` after the message passing.
    public func embed(_ graph: CircuitGraph, on tape: Tape) -> Variable {
        let p = { (name: String) in tape.parameter(name, in: self.parameters) }
        var h = tape.gather(p("gnn.embedding"), rows: graph.kinds)
        let edges = tape.constant(Tensor(shape: [graph.edgeCount, CircuitGraph.edgeWidth], scalars: graph.edgeFeatures)!)
        for l in 0..<config.layers {
            // For each neighbour ReLU(W·[h_src, e]), summed per gate, then ReLU(W·[h, sum]).
            let incoming = tape.concatColumns([tape.gather(h, rows: graph.sources), edges])
            let messages = tape.relu(tape.linear(incoming, weight: p("gnn.\(l).message.w"), bias: p("gnn.\(l).message.b")))
            let sum = tape.segmentSum(messages, segments: graph.targets, count: graph.nodeCount)
            h = tape.relu(tape.linear(tape.concatColumns([h, sum]), weight: p("gnn.\(l).update.w"), bias: p("gnn.\(l).update.b")))
        }
        return h
    }

    /// Value of rewriting at each row of `h`: `[rows, 1]`.
    public func values(_ h: Variable, on tape: Tape) -> Variable { head("critic", h, tape) }

    /// Unmasked action logits (rules then NOP) at each row of `h`: `[rows, actions]`.
    public func logits(_ h: Variable, on tape: Tape) -> Variable { head("actor", h, tape) }

    private func head(_ name: String, _ h: Variable, _ tape: Tape) -> Variable {
        let p = { (n: String) in tape.parameter("\(name).\(n)", in: self.parameters) }
        return tape.linear(tape.relu(tape.linear(h, weight: p("1.w"), bias: p("1.b"))), weight: p("2.w"), bias: p("2.b"))
    }
}
