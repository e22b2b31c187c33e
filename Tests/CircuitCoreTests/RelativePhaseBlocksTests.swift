import DeterministicRandom
import Testing
@testable import CircuitCore

/// Compute/uncompute pairs of Toffoli groups in the relative-phase form: every result is checked by the
/// unitary checker, independently of the exact function checks the pass makes itself.
@Suite struct RelativePhaseBlocksTests {
    func equivalent(_ a: Circuit, _ b: Circuit) -> Bool { EquivalenceChecker().check(a, b).isEquivalent }

    /// The gates of a ccz-level block in reverse with rz negated: its exact inverse.
    func inverse(_ gates: [Gate]) -> [Gate] {
        gates.reversed().map { $0.kind == .rz ? .rz($0.qubits[0], -$0.params[0]) : $0 }
    }

    /// t ^= maj(a, b, c) as an adder computes its carry (vbe_adder_3's blocks): h t, ccz(a,b,t), cx(a,b),
    /// ccz(c,b,t), h t; on wires a=0, b=1, c=2, t=3, with `middle` between it and its inverse.
    func majorityPair(middle: [Gate]) -> Circuit {
        let block: [Gate] = [Gate(.ccz, [0, 1, 3]), .cx(0, 1), Gate(.ccz, [2, 1, 3])]
        return Circuit(qubits: 6, gates: [.h(3)] + block + [.h(3)] + middle + [.h(3)] + inverse(block) + [.h(3)])
    }

    /// Work on the carry wire and two spare wires; it touches a, b, c only as rz and a cx control.
    let diagonalMiddle: [Gate] = [.h(5), Gate(.ccz, [3, 4, 5]), .h(5), .cx(3, 4), .rz(0, .piTimes(1, over: 4)),
                                  .cx(2, 5), .h(3), .rz(3, .piTimes(1, over: 2)), .h(3)]

    @Test func majorityPairTakesFiveRotationsABlock() throws {
        let c = majorityPair(middle: diagonalMiddle)
        let relative = try #require(RelativePhaseBlocks.run(c))
        // Both majority blocks become {cx, rz} networks with 4 T-like rotations and one of π/2 each; the
        // middle's ccz stays, and its rz pass through unchanged.
        #expect(relative.gates.count { $0.kind == .ccz } == 1)
        #expect(relative.gates.count { $0.kind == .rz } == 2 * 5 + 2)
        #expect(equivalent(c, relative))
        // Through the whole pipeline the pair ends smaller than the exact forms manage.
        let exact = NamPipeline.simplify(ToffoliPolarity.expand(c, deadline: Deadline(seconds: 60)), deadline: Deadline(seconds: 60))
        let piped = NamPipeline.run(c, deadline: Deadline(seconds: 60))
        #expect(piped.gateCount < exact.gateCount)
        #expect(equivalent(c, piped))
    }

    /// The pair is left alone when a gate between the blocks is not diagonal on a, b or c: the relative
    /// phase would not commute through it, and the rebuilt pair would be wrong.
    @Test func nonDiagonalGateBetweenKeepsTheExactForm() throws {
        let valid = majorityPair(middle: diagonalMiddle)
        let rebuilt = try #require(RelativePhaseBlocks.run(valid))
        for breaker: Gate in [.x(1), .cx(4, 0), .h(2)] {
            let middle = diagonalMiddle + [breaker]
            #expect(RelativePhaseBlocks.run(majorityPair(middle: middle)) == nil)
            // What the pass would have built is indeed wrong there.
            let split = try #require(rebuilt.gates.firstIndex(of: .h(5)))
            var broken = rebuilt.gates
            broken.insert(breaker, at: split)
            var reference = valid.gates
            reference.insert(breaker, at: try #require(reference.firstIndex(of: .h(5))))
            #expect(!equivalent(valid.withGates(reference), rebuilt.withGates(broken)))
        }
    }

    /// The check inside `relativeForm` sees a term changed: the flipped bits on the target differ.
    @Test func flipCheckSeesAChangedTerm() throws {
        let gates = Decompose.ccz(0, 1, 3) + [.cx(0, 1)] + Decompose.ccz(2, 1, 3)
        let f = try #require(CNOTDihedral(gates, wires: 4))
        let bits = try #require(RelativePhaseBlocks.flips(f, target: 3))
        // maj(a, b, c) over the 8 assignments of wires 0..2 (a ⊕ b on wire 1 after the cx is the same map).
        #expect(bits == (0..<8).map { x in [x & 1, x >> 1 & 1, x >> 2 & 1].reduce(0, +) >= 2 })
        let relative = try #require(RelativePhaseBlocks.relativeForm(f, target: 3))
        #expect(relative.terms.count == 5)
        #expect(RelativePhaseBlocks.flips(relative, target: 3) == bits)
        var changed = relative
        let key = try #require(changed.terms.keys.min())
        changed.terms[key] = (changed.terms[key] ?? .zero) + .piTimes(1, over: 2)
        #expect(RelativePhaseBlocks.flips(changed, target: 3) != bits)
    }

    /// Random groups of 2–3 Toffolis on a shared target, their inverses later, random gates between them that are
    /// diagonal on the group's other wires (and anything on the target and elsewhere), all on 7 wires.
    @Test func randomPairsStayEquivalent() {
        var rng = SplitMix64(seed: 41)
        var rebuilt = 0
        for _ in 0..<30 {
            let target = 6, spare = 5
            let controls = Array([0, 1, 2, 3].shuffled(using: &rng).prefix(Int.random(in: 2...4, using: &rng)))
            var block: [Gate] = []
            for _ in 0..<Int.random(in: 2...3, using: &rng) {
                let pair = Array(controls.shuffled(using: &rng).prefix(2))
                block.append(Gate(.ccz, pair + [target]))
                if Bool.random(using: &rng) { block.append(.cx(pair[0], pair[1])) }
                if Bool.random(using: &rng) { block.append(.rz(controls[0], .piTimes(1, over: 4))) }
            }
            var middle: [Gate] = [.h(spare), .cx(target, spare)]
            for _ in 0..<6 {
                let w = controls.randomElement(using: &rng) ?? 0
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: middle.append(.rz(w, .piTimes(Int.random(in: 1...7, using: &rng), over: 4)))
                case 1: middle.append(.cx(w, spare))
                case 2: middle.append(Gate(.ccz, [w, target, spare]))
                default: middle += [.h(target), .rz(target, .piTimes(1, over: 4)), .h(target), .x(4), .cx(4, spare)]
                }
            }
            let c = Circuit(qubits: 7, gates: [.x(0), .h(target)] + block + [.h(target)] + middle
                                              + [.h(target)] + inverse(block) + [.h(target), .cx(1, 2)])
            guard let relative = RelativePhaseBlocks.run(c) else { continue }
            rebuilt += 1
            #expect(equivalent(c, relative))
        }
        // Most draws form a pair the pass rebuilds (17 of 30 with this seed); it declines the others.
        #expect(rebuilt >= 15)
    }

    /// vbe_adder_3's four compute/uncompute carry blocks, and what the pipeline makes of it.
    @Test func vbeAdderCarries() throws {
        let c = Decompose.toNam(try TestData.nam("vbe_adder_3"), keepCCZ: true)
        let relative = try #require(RelativePhaseBlocks.run(c))
        // Only the last carry (onto wire 9, never uncomputed) keeps its two ccz.
        #expect(relative.gates.count { $0.kind == .ccz } == 2)
        #expect(equivalent(c, relative))
        // The exact forms reach 81 (42 cx, 29 rz, 10 h); the relative carries 77 (38 cx).
        let piped = NamPipeline.run(c, deadline: Deadline(seconds: 120))
        #expect(piped.gateCount <= 77)
        #expect(equivalent(c, piped))
    }
}
