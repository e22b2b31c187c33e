import CircuitCore
import CircuitLearning
import Testing
import Tensor

@Suite struct IncrementalEmbeddingTests {
    static let rules = RuleGenerator(gates: 2, qubits: 2, params: 1).generate()

    /// A seeded random Nam circuit on five wires, with plenty of cancelling pairs for rules to match.
    static func circuit(seed: UInt64) -> Circuit {
        var rng = SeededGenerator(seed: seed)
        var gates: [Gate] = []
        for _ in 0..<80 {
            let q = Int(rng.next() % 5), r = (q + 1 + Int(rng.next() % 4)) % 5
            switch rng.next() % 4 {
            case 0: gates.append(.h(q))
            case 1: gates.append(.x(q))
            case 2: gates.append(.rz(q, .piTimes(Int(rng.next() % 7) + 1, over: 4)))
            default: gates.append(.cx(q, r))
            }
        }
        return Circuit(qubits: 5, gates: gates)
    }

    /// Values of every live gate and the logits at a few, computed on the tape over the whole circuit.
    static func reference(_ dag: CircuitDAG, _ model: QuarlModel) -> (values: [Int: Float], logits: [Int: [Float]]) {
        let graph = CircuitGraph(dag)
        let tape = Tape()
        let h = model.embed(graph, on: tape)
        let v = tape.value(model.values(h, on: tape)).scalars
        let picked = [0, graph.nodeCount / 2, graph.nodeCount - 1]
        let l = tape.value(model.logits(tape.gather(h, rows: picked), on: tape))
        var logits: [Int: [Float]] = [:]
        for (i, row) in picked.enumerated() { logits[graph.rows[row]] = l.rows(i..<(i + 1)).scalars }
        return (Dictionary(uniqueKeysWithValues: graph.rows.enumerated().map { ($1, v[$0]) }), logits)
    }

    static func close(_ a: Float, _ b: Float) -> Bool { abs(a - b) <= 1e-4 * max(1, abs(b)) }

    @Test(arguments: [UInt64(1), 2, 3])
    func incrementalEmbeddingsEqualAFullRecomputeAfterRandomRewrites(seed: UInt64) {
        let model = QuarlModel(config: ModelConfig(rules: Self.rules.rules.count, hidden: 16, layers: 3), seed: seed)
        var env = RewriteEnvironment(Self.circuit(seed: seed), rules: Self.rules.rules)
        var embeddings = GateEmbeddings(env.dag, model: model)
        var rng = SeededGenerator(seed: seed + 100)
        var moves = 0, partial = 0
        for _ in 0..<200 where moves < 25 {
            let live = env.gates
            let g = live[Int(rng.next() % UInt64(live.count))]
            let matches = env.matches(at: g)
            guard !matches.isEmpty else { continue }
            let rewrite = env.apply(matches[Int(rng.next() % UInt64(matches.count))])
            embeddings.update(after: rewrite, in: env.dag)
            moves += 1
            if embeddings.lastRecomputed < env.dag.liveCount { partial += 1 }
            let expected = Self.reference(env.dag, model)
            #expect(expected.values.allSatisfy { Self.close(embeddings.values[$0.key], $0.value) }, "values after move \(moves)")
            for (node, logits) in expected.logits {
                #expect(zip(embeddings.logits(at: node), logits).allSatisfy { Self.close($0, $1) }, "logits at \(node) after move \(moves)")
            }
        }
        #expect(moves == 25)
        // The update is local: most moves recompute only part of the circuit.
        #expect(partial > moves / 2)
    }

    @Test func kHopStateReadOffTheDAGMatchesTheWholeGraphsNeighbourhood() {
        let dag = CircuitDAG(Self.circuit(seed: 9))
        let whole = CircuitGraph(dag)
        for center in [0, 31, 77] {
            let direct = CircuitGraph(dag, around: center, hops: 3)
            let cut = whole.neighbourhood(of: whole.rowOf[center], hops: 3).graph
            #expect(direct.rows[0] == center)
            #expect(direct.nodeCount == cut.nodeCount && direct.edgeCount == cut.edgeCount)
            #expect(direct.kinds.sorted() == cut.kinds.sorted())
        }
    }
}
