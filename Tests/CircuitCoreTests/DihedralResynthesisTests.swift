import DeterministicRandom
import Testing
@testable import CircuitCore

/// cx+rz resynthesis: every synthesized circuit is checked against the unitary checker, independently of
/// the phase-polynomial re-check the pass itself does.
@Suite struct DihedralResynthesisTests {
    func equivalent(_ a: Circuit, _ b: Circuit) -> Bool { EquivalenceChecker().check(a, b).isEquivalent }

    func randomDihedral(qubits n: Int, gates count: Int, _ rng: inout SplitMix64) -> [Gate] {
        let angles: [Angle] = [.piTimes(1, over: 4), .piTimes(-1, over: 4), .piTimes(1, over: 2), .radians(0.3)]
        return (0..<count).map { _ in
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: return .x(Int.random(in: 0..<n, using: &rng))
            case 1...4: return .rz(Int.random(in: 0..<n, using: &rng), angles.randomElement(using: &rng)!)
            default:
                let c = Int.random(in: 0..<n, using: &rng)
                return .cx(c, (c + Int.random(in: 1..<n, using: &rng)) % n)
            }
        }
    }

    @Test func synthesisComputesTheSameUnitary() throws {
        var rng = SplitMix64(seed: 11)
        for round in 0..<60 {
            let n = 2 + round % 4
            let gates = randomDihedral(qubits: n, gates: 6 + round % 20, &rng)
            let f = try #require(CNOTDihedral(gates, wires: n))
            let new = try #require(ParitySynthesis.synthesize(f))
            #expect(CNOTDihedral(new, wires: n) == f)
            #expect(equivalent(Circuit(qubits: n, gates: gates), Circuit(qubits: n, gates: new)), "round \(round)")
        }
    }

    /// The function check is what guards every replacement: it must see a dropped x, a changed angle
    /// and a changed cx.
    @Test func functionCheckRejectsWrongCircuits() throws {
        let t = Angle.piTimes(1, over: 4)
        let gates: [Gate] = [.cx(0, 1), .rz(1, t), .x(0), .cx(1, 2), .rz(2, -t), .cx(0, 1)]
        let f = try #require(CNOTDihedral(gates, wires: 3))
        #expect(CNOTDihedral(Array(gates.filter { $0.kind != .x }), wires: 3) != f)
        var angle = gates; angle[1] = .rz(1, -t)
        #expect(CNOTDihedral(angle, wires: 3) != f)
        var wiring = gates; wiring[3] = .cx(0, 2)
        #expect(CNOTDihedral(wiring, wires: 3) != f)
        // rz on a flipped parity is the negated rotation on the parity (up to global phase).
        #expect(CNOTDihedral([.x(0), .rz(0, t), .x(0)], wires: 1) == CNOTDihedral([.rz(0, -t)], wires: 1))
        #expect(CNOTDihedral([.h(0)], wires: 1) == nil)
    }

    /// The ccz phase polynomial written one term at a time (a fan-in and fan-out of cx per term: 10 cx)
    /// resynthesizes to the textbook 6 cx, with Hadamards around it left in place.
    @Test func cczPhaseNetworkShrinks() throws {
        let t = Angle.piTimes(1, over: 4)
        var gates: [Gate] = [.h(2), .rz(0, t), .rz(1, t), .rz(2, t)]
        for (c, tgt, sign) in [(0, 1, -1), (0, 2, -1), (1, 2, -1)] {
            gates += [.cx(c, tgt), .rz(tgt, sign < 0 ? -t : t), .cx(c, tgt)]
        }
        gates += [.cx(0, 2), .cx(1, 2), .rz(2, t), .cx(1, 2), .cx(0, 2), .h(2)]
        let c = Circuit(qubits: 3, gates: gates)
        let out = DihedralResynthesis.run(c)
        #expect(c.cxCount == 10)
        #expect(out.cxCount == 6)
        #expect(out.gates.first == .h(2) && out.gates.last == .h(2))
        #expect(equivalent(c, out))
    }

    /// Regions stop at Hadamards and keep the order valid: random circuits with h mixed in stay equivalent.
    @Test func regionsKeepTheCircuitEquivalent() {
        var rng = SplitMix64(seed: 3)
        for round in 0..<30 {
            let n = 3 + round % 3
            var gates = randomDihedral(qubits: n, gates: 40, &rng)
            for _ in 0..<4 { gates.insert(.h(Int.random(in: 0..<n, using: &rng)), at: Int.random(in: 0...gates.count, using: &rng)) }
            let c = Circuit(qubits: n, gates: gates)
            let out = DihedralResynthesis.run(c, maxQubits: 3)
            #expect(out.gateCount <= c.gateCount)
            #expect(out.gates.filter { $0.kind == .h }.count == 4)
            #expect(equivalent(c, out), "round \(round)")
        }
    }
}
