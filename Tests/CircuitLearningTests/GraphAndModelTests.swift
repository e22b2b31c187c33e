import CircuitCore
import CircuitLearning
import Testing
import Tensor

@Suite struct GraphAndModelTests {
    /// h 0; cx 0 1; rz(π/4) 1; x 0
    static let circuit = Circuit(qubits: 2, gates: [.h(0), .cx(0, 1), .rz(1, .piTimes(1, over: 4)), .x(0)])

    @Test func edgesCarryPortsAndDirectionBothWays() {
        let g = CircuitGraph(CircuitDAG(Self.circuit))
        #expect(g.nodeCount == 4)
        // Wire pairs: h→cx (port 0→0), cx→rz (1→0), cx→x (0→0); each as a forward and a backward edge.
        #expect(g.edgeCount == 6)
        let w = CircuitGraph.edgeWidth
        var found: [String] = []
        for e in 0..<g.edgeCount {
            let f = Array(g.edgeFeatures[(e * w)..<((e + 1) * w)])
            let from = f[0..<3].firstIndex(of: 1)!, to = f[3..<6].firstIndex(of: 1)! - 3
            found.append("\(g.sources[e])-\(g.targets[e]):\(from)\(to)\(f[6] == 1 ? "f" : "b")")
        }
        #expect(Set(found) == ["0-1:00f", "1-0:00b", "1-2:10f", "2-1:01b", "1-3:00f", "3-1:00b"])
    }

    @Test func kHopStateGivesTheSameEmbeddingAsTheWholeCircuit() throws {
        var gates: [Gate] = []
        for i in 0..<12 { gates += [.h(i % 3), .cx(i % 3, (i + 1) % 3), .rz((i + 2) % 3, .piTimes(1, over: 4))] }
        let dag = CircuitDAG(Circuit(qubits: 3, gates: gates))
        let graph = CircuitGraph(dag)
        let model = QuarlModel(config: ModelConfig(rules: 5, hidden: 16, layers: 3), seed: 4)
        let whole = Tape()
        let all = whole.value(model.embed(graph, on: whole))
        for center in [0, 17, 35] {
            let local = graph.neighbourhood(of: center, hops: 3)
            #expect(local.graph.nodeCount < graph.nodeCount)
            let tape = Tape()
            let h = tape.value(model.embed(local.graph, on: tape))
            let a = all.rows(center..<(center + 1)).scalars, b = h.rows(local.center..<(local.center + 1)).scalars
            #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-5 })
        }
        // Too few hops: the center sees less than the network does, and the embedding differs.
        let short = graph.neighbourhood(of: 17, hops: 1)
        let tape = Tape()
        let h = tape.value(model.embed(short.graph, on: tape))
        #expect(zip(all.rows(17..<18).scalars, h.rows(short.center..<(short.center + 1)).scalars).contains { abs($0 - $1) > 1e-4 })
    }

    @Test func batchingIsTheSameAsOneGraphAtATime() {
        let a = CircuitGraph(CircuitDAG(Self.circuit))
        let b = CircuitGraph(CircuitDAG(Circuit(qubits: 2, gates: [.cx(1, 0), .h(1)])))
        let (batch, offsets) = CircuitGraph.batch([a, b])
        #expect(offsets == [0, 4] && batch.nodeCount == 6 && batch.edgeCount == 8)
        let model = QuarlModel(config: ModelConfig(rules: 3, hidden: 8, layers: 2), seed: 1)
        let t1 = Tape(), t2 = Tape()
        let together = t1.value(model.embed(batch, on: t1))
        let alone = t2.value(model.embed(b, on: t2))
        #expect(zip(together.rows(4..<6).scalars, alone.scalars).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func actionMaskAllowsMatchingRulesAndNop() {
        let rules = RuleGenerator(gates: 2, qubits: 2, params: 1).generate()
        var environment = RewriteEnvironment(Circuit(qubits: 2, gates: [.cx(0, 1), .cx(0, 1), .h(0)]), rules: rules.rules)
        let mask = ActionMask(environment.matches(at: 0), actions: rules.rules.count + 1)
        #expect(mask.allowed.last == true)
        let cancelling = rules.rules.firstIndex { $0.source.text == "cx 0 1; cx 0 1" && $0.target.count == 0 }
        #expect(cancelling != nil && mask.allowed[cancelling!])
        #expect(mask.indices.count < 10 && mask.indices.count == mask.matches.count + 1)
        let none = ActionMask(environment.matches(at: 2), actions: rules.rules.count + 1)
        #expect(!none.allowed[cancelling!])
    }
}
