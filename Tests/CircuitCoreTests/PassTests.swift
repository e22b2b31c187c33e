import DeterministicRandom
import Testing
@testable import CircuitCore

@Suite struct PassTests {
    func equivalent(_ a: Circuit, _ b: Circuit) -> Bool { EquivalenceChecker().check(a, b).isEquivalent }

    func run(_ c: Circuit, _ pass: (inout CircuitDAG) -> Int) -> Circuit {
        var dag = CircuitDAG(c)
        _ = pass(&dag)
        return dag.circuit()
    }

    /// rz(π/4) on q1, then q1 ← q0⊕q1⊕1 and back to q1⊕1: the second rz sits on the flipped parity,
    /// so the two cancel; merging them without the X parity would leave rz(π/2) and change the unitary.
    @Test func rotationMergingCarriesXParity() {
        let t = Angle.piTimes(1, over: 4)
        let c = Circuit(qubits: 2, gates: [.rz(1, t), .cx(0, 1), .x(1), .cx(0, 1), .rz(1, t)])
        let out = run(c) { RotationMerging.run(&$0) }
        #expect(out.gates.map(\.kind) == [.cx, .x, .cx])
        #expect(equivalent(c, out))
        // Merging through an x directly and through an H-separated region.
        let d = Circuit(qubits: 2, gates: [.rz(0, t), .x(0), .rz(0, t), .h(0), .rz(0, t), .cx(1, 0), .rz(0, .piTimes(1, over: 2)), .cx(1, 0), .rz(0, t)])
        let outD = run(d) { RotationMerging.run(&$0) }
        #expect(outD.gates.filter { $0.kind == .rz }.count == 2)
        #expect(equivalent(d, outD))
    }

    /// Floating rotations: the rz between two cx moves to another place holding the same parity
    /// (with the X parity flipped, so its angle is negated), and the cx pair cancels.
    @Test func rotationFloatsOutOfACxPair() {
        let a = Angle.radians(0.3)
        let c = Circuit(qubits: 2, gates: [.cx(0, 1), .rz(1, a), .cx(0, 1), .x(1), .cx(0, 1), .h(1)])
        let out = NamPipeline.simplify(c, deadline: .never)
        #expect(out.gates.count == 4)
        #expect(out.gates.filter { $0.kind == .cx }.count == 1)
        #expect(equivalent(c, out))
    }

    /// The same when the pair is further apart: an x and a cx onto the target (both commute with the
    /// pair) sit between them too. The rotation moves to the later place with its parity, the pair
    /// cancels, then the two cx(2,1) meet and cancel as well.
    @Test func rotationFloatsOutOfASpreadCxPair() {
        let a = Angle.radians(0.3)
        let c = Circuit(qubits: 3, gates: [.cx(0, 1), .x(1), .rz(1, a), .cx(2, 1), .cx(0, 1), .cx(2, 1), .cx(0, 1), .h(1)])
        let out = NamPipeline.simplify(c, deadline: .never)
        #expect(out.gates.count == 4)
        #expect(out.gates.filter { $0.kind == .cx }.count == 1)
        #expect(equivalent(c, out))
        // With x on the control between them the pair does not commute: nothing moves.
        let d = Circuit(qubits: 3, gates: [.cx(0, 1), .x(0), .rz(1, a), .cx(0, 1), .cx(0, 1), .h(1)])
        var dag = CircuitDAG(d)
        let rz = dag.nodes.indices.first { dag.gate($0).kind == .rz }!
        #expect(RotationMerging.blockedPair(dag, rz) == nil)
        dag = CircuitDAG(c)
        #expect(RotationMerging.blockedPair(dag, 2) == [0, 1, 2, 3])
    }

    @Test func rotationOnConstantWireIsGlobalPhase() {
        let c = Circuit(qubits: 2, gates: [.cx(0, 1), .cx(0, 1), .cx(1, 0), .cx(1, 0), .rz(1, .radians(0.3))])
        var dag = CircuitDAG(Circuit(qubits: 2, gates: [.cx(0, 1), .rz(1, .radians(0.3))]))
        #expect(RotationMerging.run(&dag) == 0)
        #expect(equivalent(c, run(c) { RotationMerging.run(&$0) }))
    }

    @Test func hadamardReductionIdentities() {
        let s = Angle.piTimes(1, over: 2)
        let cases: [Circuit] = [
            Circuit(qubits: 1, gates: [.h(0), .rz(0, s), .h(0)]),
            Circuit(qubits: 1, gates: [.h(0), .rz(0, -s), .h(0)]),
            Circuit(qubits: 2, gates: [.h(0), .h(1), .cx(0, 1), .h(0), .h(1)]),
            Circuit(qubits: 2, gates: [.h(1), .rz(1, s), .cx(0, 1), .rz(1, -s), .h(1)]),
            Circuit(qubits: 2, gates: [.h(1), .rz(1, -s), .cx(0, 1), .rz(1, s), .h(1)]),
        ]
        for c in cases {
            let out = run(c) { HadamardReduction.run(&$0) }
            #expect(out.gates.filter { $0.kind == .h }.count < c.gates.filter { $0.kind == .h }.count)
            #expect(equivalent(c, out))
        }
    }

    /// A chain of cx in the Hadamard basis (as between the Toffoli stages of gf2^n_mult): h on three of its
    /// four wires on both sides, on the fourth only after it. The block turns around with one h left,
    /// inserted where it was missing; dropping the reversal or the inserted h changes the unitary.
    @Test func hadamardReductionTurnsACxBlockAround() {
        let t = Angle.piTimes(1, over: 4)
        let c = Circuit(qubits: 4, gates: [
            .rz(3, t), .h(0), .h(1), .h(2),
            .cx(2, 3), .cx(1, 2), .cx(0, 1),
            .h(3), .h(2), .h(1), .h(0), .rz(0, t), .rz(3, t),
        ])
        let out = run(c) { HadamardReduction.run(&$0) }
        #expect(out.gates.filter { $0.kind == .h }.count == 1)
        #expect(out.gates.filter { $0.kind == .cx } == [.cx(3, 2), .cx(2, 1), .cx(1, 0)])
        #expect(equivalent(c, out))
        let unreversed = Circuit(qubits: 4, gates: out.gates.map { $0.kind == .cx ? .cx($0.qubits[1], $0.qubits[0]) : $0 })
        #expect(!equivalent(c, unreversed))
        #expect(!equivalent(c, Circuit(qubits: 4, gates: out.gates.filter { $0.kind != .h })))
        // An rz inside the block on a wire breaks its run: h cannot pass the rz, so nothing changes.
        let broken = Circuit(qubits: 2, gates: [.h(0), .h(1), .cx(0, 1), .rz(1, t), .cx(0, 1), .h(0), .h(1)])
        #expect(run(broken) { HadamardReduction.run(&$0) }.gates == broken.gates)
    }

    /// Random {h, x, rz, cx} circuits, h-heavy so that blocks with h on some sides and not others are
    /// common: Hadamard reduction keeps every one equivalent and never adds an h.
    @Test func hadamardReductionKeepsRandomCircuitsEquivalent() {
        var rng = SplitMix64(seed: 5)
        let angles: [Angle] = [.piTimes(1, over: 4), .piTimes(1, over: 2), .piTimes(-1, over: 2), .radians(0.3)]
        for round in 0..<40 {
            let n = 2 + round % 4
            let gates: [Gate] = (0..<30).map { _ in
                let q = Int.random(in: 0..<n, using: &rng)
                switch Int.random(in: 0..<10, using: &rng) {
                case 0...3: return .h(q)
                case 4: return .x(q)
                case 5: return .rz(q, angles.randomElement(using: &rng)!)
                default: return .cx(q, (q + Int.random(in: 1..<n, using: &rng)) % n)
                }
            }
            let c = Circuit(qubits: n, gates: gates)
            let out = run(c) { HadamardReduction.run(&$0) }
            #expect(out.gates.filter { $0.kind == .h }.count <= c.gates.filter { $0.kind == .h }.count)
            #expect(equivalent(c, out), "round \(round)")
        }
    }

    @Test func cancellationThroughCommutingGates() {
        let a = Angle.radians(0.7)
        let c = Circuit(qubits: 3, gates: [
            .cx(0, 1), .rz(0, a), .cx(0, 2), .x(1), .cx(2, 1), .cx(0, 1),  // cx pair cancels
            .x(2), .rz(2, a), .cx(0, 2), .x(2),                              // x pair cancels, rz negated
            .h(1), .h(1),
        ])
        var dag = CircuitDAG(c)
        Cancellation.twoQubit(&dag)
        Cancellation.singleQubit(&dag)
        let out = dag.circuit()
        #expect(out.gates.count == c.gates.count - 6)
        #expect(equivalent(c, out))
    }

    @Test func toffoliPolarityChoiceHelps() throws {
        // Two Toffolis sharing controls: matched polarities cancel rotations.
        let c = Circuit(qubits: 4, gates: [Gate(.ccz, [0, 1, 2]), .h(3), Gate(.ccz, [0, 1, 3])])
        let chosen = NamPipeline.run(c, deadline: .never)
        let fixed = NamPipeline.simplify(Decompose.toNam(c), deadline: .never)
        #expect(chosen.gateCount <= fixed.gateCount)
        #expect(equivalent(c, chosen))
    }

    @Test func computeUncomputePairTakesRelativePhaseForm() {
        // Toffoli(0,1→3) computed, used as a control, uncomputed: as two relative-phase Toffolis the pair
        // needs 3 + 3 cx instead of 4 + 4 (tof_3: 14 cx → 12, 35 gates → 33, Quarl's published count).
        let toffoli = { (a: Int, b: Int, t: Int) -> [Gate] in [.h(t), Gate(.ccz, [a, b, t]), .h(t)] }
        let c = Circuit(qubits: 5, gates: toffoli(0, 1, 3) + toffoli(2, 3, 4) + toffoli(0, 1, 3))
        let out = NamPipeline.run(c, deadline: .never)
        #expect(out.gates.count(where: { $0.kind == .cx }) == 12)
        #expect(out.gateCount == 33)
        #expect(equivalent(c, out))
    }

    /// Which decomposition the choice search ends in depends on the order the input lists each ccz's
    /// qubits in (an arbitrary order: ccz is symmetric). barenco_tof_4 as listed ends at 64 gates from
    /// one search; restarts from random roles find Quarl's 62 (a copy with the qubits listed otherwise
    /// reaches it from one search), and the result stays equivalent.
    @Test func restartsFindTheDecompositionTheListedOrderMisses() throws {
        let input = try TestData.nam("barenco_tof_4")
        let c = Decompose.toNam(input, keepCCZ: true)
        let found = ToffoliPolarity.expansions(c, deadline: .never)
        #expect(NamPipeline.simplify(found.listed, deadline: .never).gateCount == 64)
        let restarted = NamPipeline.simplify(try #require(found.restarted), deadline: .never)
        #expect(restarted.gateCount <= 62)
        #expect(equivalent(input, restarted))
        // The pipeline keeps the smaller.
        #expect(NamPipeline.run(input, deadline: .never).gateCount <= 62)
    }

    /// The circuits on which the published rotation-merging pass breaks: the output must stay equivalent.
    @Test(arguments: ["mod_mult_55", "barenco_tof_4", "tof_5", "mod5_4", "vbe_adder_3"])
    func pipelineKeepsBenchmarksEquivalent(_ name: String) throws {
        let c = try TestData.nam(name)
        let out = NamPipeline.run(c, deadline: .never)
        #expect(out.gateCount < c.gateCount)
        #expect(out.gates.allSatisfy { GateSet.nam.kinds.contains($0.kind) })
        #expect(equivalent(c, out), "\(name)")
    }

    @Test func pipelineReachesPublishedNamCounts() throws {
        // Nam et al.'s heavy optimizer: tof_3 35, barenco_tof_3 40, mod_mult_55 91; we must be close.
        // With relative-phase Toffoli pairs the passes reach Quarl's tof_3 (33) and beat Nam's barenco_tof_3.
        #expect(NamPipeline.run(try TestData.nam("tof_3"), deadline: .never).gateCount <= 33)
        #expect(NamPipeline.run(try TestData.nam("barenco_tof_3"), deadline: .never).gateCount <= 36)
        #expect(NamPipeline.run(try TestData.nam("mod_mult_55"), deadline: .never).gateCount <= 98)
    }
}
