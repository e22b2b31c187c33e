import Foundation
import Testing
@testable import CircuitCore
import DeterministicRandom

@Suite struct RewriteEnvironmentTests {
    /// The shipped rule file (the project ships it, so its absence is a failure).
    static let shipped: [Rule] = {
        let path = TestData.packageRoot.appendingPathComponent("Services/CircuitOptimizer/rules/nam.rules").path
        do { return try RuleSet.load(path).rules } catch { Issue.record("cannot load \(path): \(error)"); return [] }
    }()

    /// A random Nam circuit whose angles are multiples of π/4, so that rotation rules find matches.
    static func randomCircuit(qubits: Int, gates: Int, seed: UInt64) -> Circuit {
        var rng = SplitMix64(seed: seed)
        var out: [Gate] = []
        for _ in 0..<gates {
            let q = Int(rng.next() % UInt64(qubits))
            switch rng.next() % 5 {
            case 0: out.append(.h(q))
            case 1: out.append(.x(q))
            case 2: out.append(.rz(q, .piTimes(Int(rng.next() % 7) + 1, over: 4)))
            default: out.append(.cx(q, (q + 1 + Int(rng.next() % UInt64(qubits - 1))) % qubits))
            }
        }
        return Circuit(qubits: qubits, gates: out)
    }

    /// The index finds exactly what trying every rule of the gate's kind one by one finds.
    @Test func indexedMatchingEqualsRuleByRule() {
        let engine = RewriteEngine(rules: Self.shipped)
        let c = Self.randomCircuit(qubits: 4, gates: 80, seed: 3)
        let dag = CircuitDAG(c)
        let positions = RewriteEngine.positions(dag)
        var total = 0
        for g in 0..<dag.nodes.count {
            let oneByOne = engine.rules.indices.compactMap { r in
                engine.rules[r].source.gates[0].kind == dag.gate(g).kind ? engine.match(rule: r, at: g, in: dag, positions: positions) : nil
            }
            let indexed = engine.matches(at: g, in: dag, positions: positions)
            #expect(indexed == oneByOne, "gate \(g) \(dag.gate(g))")
            total += indexed.count
        }
        #expect(total > 100)
    }

    /// After a seeded random sequence of rewrites, the kept matches, hash, counts and labels equal a
    /// recomputation from scratch, and the circuit is still equivalent to the start.
    @Test(arguments: [UInt64(1), 2, 3])
    func incrementalStateEqualsRecomputation(seed: UInt64) {
        let start = Self.randomCircuit(qubits: 4, gates: 60, seed: seed)
        var env = RewriteEnvironment(start, rules: Self.shipped)
        var rng = SplitMix64(seed: seed &+ 100)
        var applied = 0
        for step in 0..<120 {
            let live = env.gates
            guard !live.isEmpty else { break }
            let g = live[Int(rng.next() % UInt64(live.count))]
            let ms = env.matches(at: g)
            if !ms.isEmpty {
                // Keep the circuit from growing without bound: above 80 gates, only rules that do not grow it.
                let pool = env.dag.liveCount > 80 ? ms.filter { env.rules[$0.rule].gain >= 0 } : ms
                if let m = pool.isEmpty ? nil : pool[Int(rng.next() % UInt64(pool.count))] {
                    let costBefore = env.cost
                    let r = env.apply(m)
                    applied += 1
                    #expect(env.cost - costBefore == r.costChange)
                    #expect(r.created.allSatisfy { r.neighbourhood.contains($0) })
                    for n in r.created { for p in env.dag.nodes[n].prev where p >= 0 { #expect(r.neighbourhood.contains(p)) } }
                }
            }
            if step % 10 == 9 { expectMatchesRecomputation(&env) }
        }
        expectMatchesRecomputation(&env)
        #expect(applied > 40)
        #expect(EquivalenceChecker().check(start, env.circuit()).isEquivalent)
    }

    func expectMatchesRecomputation(_ env: inout RewriteEnvironment) {
        let dag = env.dag
        let positions = RewriteEngine.positions(dag)
        for g in env.gates {
            #expect(env.matches(at: g) == env.engine.matches(at: g, in: dag, positions: positions), "gate \(g)")
            for s in dag.nodes[g].next where s >= 0 { #expect(env.labels[g] < env.labels[s]) }
        }
        // The hash after each rewrite, computed without applying it, is the hash after applying it.
        for g in env.gates.prefix(20) {
            for m in env.matches(at: g) {
                var copy = env
                copy.apply(m)
                #expect(env.hash(after: m) == copy.hash, "\(env.rules[m.rule].source.text) at \(g)")
            }
        }
        let fresh = RewriteEnvironment(env.circuit(), engine: env.engine)
        #expect(RewriteEnvironment.hash(of: env.circuit()) == env.hash)
        #expect(env.hash == fresh.hash)
        #expect(env.gateCount == env.circuit().gateCount)
        #expect(env.cxCount == env.circuit().cxCount)
    }

    @Test func applyRuleAtGateAndTheHashIgnoresTheOrderOfIndependentGates() {
        let cancel = Rule(source: RuleCircuit(text: "cx 0 1; cx 0 1")!, target: RuleCircuit([]))
        let c = Circuit(qubits: 3, gates: [.h(2), .cx(0, 1), .cx(0, 1), .x(0)])
        var env = RewriteEnvironment(c, rules: [cancel])
        #expect(env.applicableRules(at: 0).isEmpty)
        #expect(env.apply(rule: 0, at: 0) == nil)
        #expect(env.mask(at: 1) == [true])
        let r = env.apply(rule: 0, at: 1)
        #expect(r?.removed == [1, 2])
        #expect(r?.created == [])
        #expect(r?.neighbourhood == [3])
        #expect(r?.costChange == -2)
        #expect(Set(env.circuit().gates) == [.h(2), .x(0)])
        #expect(env.hash == RewriteEnvironment(Circuit(qubits: 3, gates: [.x(0), .h(2)]), rules: []).hash)
        #expect(env.hash != RewriteEnvironment(Circuit(qubits: 3, gates: [.x(0), .h(1)]), rules: []).hash)
    }

    @Test func nonConvexMatchIsNotOffered() {
        let cancel = Rule(source: RuleCircuit(text: "cx 0 1; cx 0 1")!, target: RuleCircuit([]))
        var env = RewriteEnvironment(Circuit(qubits: 3, gates: [.cx(0, 1), .cx(1, 2), .cx(0, 1)]), rules: [cancel])
        #expect(env.matches(at: 0).isEmpty)
    }
}
