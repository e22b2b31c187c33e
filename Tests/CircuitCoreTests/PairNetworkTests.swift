import DeterministicRandom
import Testing
@testable import CircuitCore

/// Pair terms built through shared difference wires: every result is checked by the unitary checker,
/// independently of the exact function check the pass itself makes.
@Suite struct PairNetworkTests {
    func equivalent(_ a: Circuit, _ b: Circuit) -> Bool { EquivalenceChecker().check(a, b).isEquivalent }

    let angles: [Angle] = [.piTimes(1, over: 4), .piTimes(-1, over: 4), .piTimes(1, over: 2), .radians(0.3)]

    /// Every a_i paired with every b_j, one cx·rz·cx gadget each (gf2^n_mult's control pairs), with
    /// Hadamard-wrapped work on a spare wire between them.
    func gadgetGrid(_ n: Int, _ rng: inout SplitMix64) -> Circuit {
        var gates: [Gate] = []
        let spare = 2 * n
        for i in 0..<n {
            for j in n..<2 * n {
                gates += [.cx(i, j), .rz(j, angles.randomElement(using: &rng)!), .cx(i, j)]
                gates += [.h(spare), .cx(i, spare), .rz(spare, .piTimes(1, over: 4)), .h(spare)]
            }
        }
        return Circuit(qubits: 2 * n + 1, gates: gates)
    }

    @Test func gridOfPairsNeedsFewerCX() throws {
        var rng = SplitMix64(seed: 5)
        let c = gadgetGrid(4, &rng)
        let moved = try #require(PairNetwork.run(c))
        var dag = CircuitDAG(moved), plain = CircuitDAG(c)
        NamPipeline.passes(&dag, deadline: Deadline(seconds: 30), rotationMerging: true)
        NamPipeline.passes(&plain, deadline: Deadline(seconds: 30), rotationMerging: true)
        let out = dag.circuit()
        // The 32 gadget cx become n² + 3n − 2 = 26; what the passes do on the spare wire is the same.
        #expect(out.cxCount == plain.circuit().cxCount - 6)
        #expect(equivalent(c, out))
        // The pipeline takes it on its own.
        let simplified = NamPipeline.simplify(c, deadline: Deadline(seconds: 30))
        #expect(simplified.cxCount <= out.cxCount)
        #expect(equivalent(c, simplified))
    }

    /// The exact check that guards the pass sees a network with a term dropped or a cx changed.
    @Test func functionCheckCatchesADroppedTerm() throws {
        var rng = SplitMix64(seed: 9)
        let c = gadgetGrid(3, &rng)
        let moved = try #require(PairNetwork.run(c))
        let network = Array(moved.gates.prefix { $0.kind != .h })
        // The network computes what the gadgets did (the spare wire's gates left out).
        let gadgets = c.gates.filter { !$0.qubits.contains(6) }
        let f = try #require(CNOTDihedral(network, wires: 7))
        #expect(f == CNOTDihedral(gadgets, wires: 7))
        #expect(f.terms.count == 9)
        let firstRZ = try #require(network.firstIndex { $0.kind == .rz })
        var dropped = network; dropped.remove(at: firstRZ)
        #expect(CNOTDihedral(dropped, wires: 7) != f)
        let lastCX = try #require(network.lastIndex { $0.kind == .cx })
        var rewired = network; rewired[lastCX] = .cx(rewired[lastCX].qubits[1], rewired[lastCX].qubits[0])
        #expect(CNOTDihedral(rewired, wires: 7) != f)
        // And the unitary checker sees the dropped term in the whole circuit.
        var broken = moved.gates; broken.remove(at: firstRZ)
        #expect(!equivalent(c, moved.withGates(broken)))
        #expect(equivalent(c, moved))
    }

    /// Random {h, x, rz, cx} circuits rich in input pairs across two halves (x flips, h-fresh wires and
    /// stray cx among them) stay equivalent through the pass and through the pipeline.
    @Test func randomCircuitsStayEquivalent() {
        var rng = SplitMix64(seed: 21)
        var changed = 0
        for round in 0..<40 {
            let n = 6 + round % 3
            func pair() -> (Int, Int) {
                let a = Int.random(in: 0..<n / 2, using: &rng), b = Int.random(in: n / 2..<n, using: &rng)
                return Bool.random(using: &rng) ? (a, b) : (b, a)
            }
            var gates: [Gate] = []
            for _ in 0..<(16 + round % 12) {
                let (u, v) = pair()
                gates += [.cx(u, v), .rz(v, angles.randomElement(using: &rng)!), .cx(u, v)]
            }
            // A few gates that change what the wires hold, anywhere (between a gadget's gates too).
            for _ in 0..<3 {
                let (u, v) = pair()
                let noise: [Gate] = [.x(u), .h(u), .cx(u, v), .rz(u, angles.randomElement(using: &rng)!)]
                gates.insert(noise.randomElement(using: &rng)!, at: Int.random(in: 0...gates.count, using: &rng))
            }
            let c = Circuit(qubits: n, gates: gates)
            if let moved = PairNetwork.run(c) {
                changed += 1
                #expect(equivalent(c, moved), "round \(round)")
            }
            #expect(equivalent(c, NamPipeline.simplify(c, deadline: Deadline(seconds: 30))), "round \(round)")
        }
        #expect(changed >= 10)
    }

    /// Fences keep their place: a circuit with a barrier or a measurement is left alone.
    @Test func fencedCircuitsAreLeftAlone() {
        var rng = SplitMix64(seed: 2)
        let c = gadgetGrid(3, &rng)
        #expect(PairNetwork.run(c) != nil)
        #expect(PairNetwork.run(c.withGates([Gate(.barrier, [0, 3])] + c.gates)) == nil)
    }
}
