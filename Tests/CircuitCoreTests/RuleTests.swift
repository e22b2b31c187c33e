import Testing
@testable import CircuitCore
import DeterministicRandom

@Suite struct RuleTests {
    static let small = RuleGenerator(gates: 3, qubits: 3, params: 2).generate()

    /// Every circuit in every class equals its representative at fresh random parameter values.
    @Test func everyGeneratedRuleIsSound() {
        var rng = SplitMix64(seed: 99)
        for members in Self.small.classes {
            for c in members.dropFirst() {
                for _ in 0..<2 {
                    let values = (0..<2).map { _ in Angle.radians(rng.nextUniform() * 6 - 3) }
                    let a = Circuit(qubits: 3, gates: members[0].instantiate(qubits: [0, 1, 2], params: values))
                    let b = Circuit(qubits: 3, gates: c.instantiate(qubits: [0, 1, 2], params: values))
                    #expect(EquivalenceChecker().check(a, b).isEquivalent, "\(members[0].text) vs \(c.text)")
                }
            }
        }
    }

    @Test func knownIdentitiesAreFoundAndFalseOnesAreNot() {
        let texts = Set(Self.small.classes.map { Set($0.map(\.text)) })
        func together(_ a: String, _ b: String) -> Bool { texts.contains { $0.contains(a) && $0.contains(b) } }
        #expect(together("cx 0 1; cx 0 1", "."))
        #expect(together("rz 0 p0; rz 0 p1", "rz 0 p0+p1"))
        #expect(together("rz 0 p0; cx 0 1", "cx 0 1; rz 0 p0"))
        #expect(!together("rz 1 p0; cx 0 1", "cx 0 1; rz 1 p0"))
        #expect(!together("h 0; h 1", "."))
        #expect(Self.small.rules.allSatisfy { !$0.source.gates.isEmpty })
    }

    @Test func fileRoundTripAndVersionCheck() throws {
        let again = try RuleSet(text: Self.small.text)
        #expect(again.classes == Self.small.classes)
        #expect(again.rules.count == Self.small.rules.count)
        #expect(throws: RuleSet.FormatError.self) { try RuleSet(text: "lattice-rules 0\n") }
        #expect(throws: RuleSet.FormatError.self) {
            try RuleSet(text: "lattice-rules 1\ngate-set nam gates 3 qubits 3 params 2\nclass h 0; foo 1 | .\n")
        }
    }

    /// "Rules that apply at gate g" and "apply rule r at gate g": every match rewrites to an equivalent circuit.
    @Test func everyMatchRewritesToAnEquivalentCircuit() {
        let engine = RewriteEngine(rules: Self.small.rules)
        let a = Angle.radians(0.4), b = Angle.piTimes(1, over: 4)
        let c = Circuit(qubits: 3, gates: [.rz(0, a), .cx(0, 1), .rz(0, b), .h(2), .h(2), .cx(1, 2), .x(1), .cx(0, 1), .cx(0, 1), .rz(1, a)])
        let dag = CircuitDAG(c)
        let positions = RewriteEngine.positions(dag)
        var total = 0
        for id in 0..<dag.nodes.count {
            for m in engine.matches(at: id, in: dag, positions: positions) {
                var d = dag
                engine.apply(m, to: &d)
                #expect(EquivalenceChecker().check(c, d.circuit()).isEquivalent, "\(engine.rules[m.rule].source.text) => \(engine.rules[m.rule].target.text)")
                total += 1
            }
        }
        #expect(total > 10)
        // rz(a)·rz(b) → rz(a+b) binds both angles.
        let merge = engine.rules.firstIndex { $0.source.text == "rz 0 p0; rz 0 p1" && $0.target.text == "rz 0 p0+p1" }
        #expect(merge != nil)
        if let r = merge {
            let two = Circuit(qubits: 1, gates: [.rz(0, a), .rz(0, b)])
            var d = CircuitDAG(two)
            let m = engine.match(rule: r, at: 0, in: d, positions: RewriteEngine.positions(d))
            #expect(m != nil)
            if let m { engine.apply(m, to: &d) }
            #expect(d.circuit().gates == [.rz(0, a + b)])
        }
    }

    @Test func nonConvexMatchIsRejected() {
        // cx(0,1) · [cx(1,2)] · cx(0,1) with the middle gate leaving and re-entering: the pair may not cancel
        // through a gate on the target wire that does not commute.
        let rules = [Rule(source: RuleCircuit(text: "cx 0 1; cx 0 1")!, target: RuleCircuit([]))]
        let engine = RewriteEngine(rules: rules)
        let c = Circuit(qubits: 3, gates: [.cx(0, 1), .cx(1, 2), .cx(0, 1)])
        let dag = CircuitDAG(c)
        #expect(engine.matches(at: 0, in: dag, positions: RewriteEngine.positions(dag)).isEmpty)
    }
}
