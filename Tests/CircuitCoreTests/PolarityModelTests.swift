import DeterministicRandom
import Testing
@testable import CircuitCore

/// The polarity model scores a flip by the terms it touches; it must agree with what rotation merging
/// really leaves, or the choice it makes is blind.
@Suite struct PolarityModelTests {
    func rotationsLeft(_ c: Circuit, _ toffolis: [Int], _ flipped: [Bool]) -> Int {
        var choice = [ToffoliPolarity.Choice](repeating: .init(), count: toffolis.count)
        for k in choice.indices where flipped[k] { choice[k].polarity = .negative }
        var dag = CircuitDAG(ToffoliPolarity.expanded(c, toffolis, choice))
        HadamardReduction.run(&dag)
        RotationMerging.run(&dag)
        return dag.circuit().gates.count(where: { $0.kind == .rz })
    }

    /// Two Toffolis sharing both controls: at equal polarity the three control terms add to ±π/2, at
    /// opposite polarity they cancel (14 rotations → 8).
    @Test func oppositePolaritiesCancelSharedControlTerms() {
        let c = Circuit(qubits: 4, gates: [Gate(.ccz, [0, 1, 2]), .h(2), .h(3), Gate(.ccz, [0, 1, 3])])
        var model = PolarityModel(c, [0, 3])
        #expect(model.nonzero == 11)
        #expect(model.nonzero == rotationsLeft(c, [0, 3], model.flipped))
        model.minimize(deadline: .never)
        #expect(model.nonzero == 8)
        #expect(model.flipped[0] != model.flipped[1])
        #expect(rotationsLeft(c, [0, 3], model.flipped) == 8)
    }

    /// Random circuits of ccz, h, cx, x and t: after every flip the model's count is the count rotation
    /// merging leaves, and minimizing never ends above the start.
    @Test func modelCountMatchesRotationMerging() {
        var rng = SplitMix64(seed: 9)
        for round in 0..<25 {
            let n = 4 + round % 3
            var gates: [Gate] = []
            for _ in 0..<14 {
                var q = Array(0..<n); q.shuffle(using: &rng)
                switch Int.random(in: 0..<8, using: &rng) {
                case 0...2: gates.append(Gate(.ccz, Array(q[0..<3])))
                case 3: gates.append(.h(q[0]))
                case 4, 5: gates.append(.cx(q[0], q[1]))
                case 6: gates.append(.x(q[0]))
                default: gates.append(.rz(q[0], .piTimes(1, over: 4)))
                }
            }
            let c = Circuit(qubits: n, gates: gates)
            let toffolis = c.gates.indices.filter { c.gates[$0].kind == .ccz }
            guard !toffolis.isEmpty else { continue }
            var model = PolarityModel(c, toffolis)
            let start = model.nonzero
            #expect(start == rotationsLeft(c, toffolis, model.flipped), "round \(round)")
            for k in toffolis.indices where Bool.random(using: &rng) {
                model.flip(k)
                #expect(model.nonzero == rotationsLeft(c, toffolis, model.flipped), "round \(round), flip \(k)")
            }
            let before = model.nonzero
            model.minimize(deadline: .never)
            #expect(model.nonzero <= before)
            #expect(model.nonzero == rotationsLeft(c, toffolis, model.flipped), "round \(round)")
        }
    }
}
