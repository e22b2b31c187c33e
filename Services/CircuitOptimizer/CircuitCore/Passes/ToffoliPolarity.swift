/// Chooses the sign pattern of each ccz decomposition so that phase folding removes the most rotations
/// (Quartz tries both per Toffoli, greedily, keeping the smaller).
public enum ToffoliPolarity {
    /// Expands every ccz with the polarity chosen for it; `deadline` bounds the greedy rounds.
    public static func expand(_ c: Circuit, deadline: Deadline, rounds: Int = 2) -> Circuit {
        let toffolis = c.gates.indices.filter { c.gates[$0].kind == .ccz }
        var choice = [Polarity](repeating: .positive, count: toffolis.count)
        guard !toffolis.isEmpty else { return c }
        func score(_ p: [Polarity]) -> Int {
            var dag = CircuitDAG(expanded(c, toffolis, p))
            _ = HadamardReduction.run(&dag)
            return RotationMerging.remainingRotations(dag)
        }
        var best = score(choice)
        outer: for _ in 0..<rounds {
            var improved = false
            for i in choice.indices {
                if deadline.expired { break outer }
                choice[i] = choice[i].flipped
                let s = score(choice)
                if s < best { best = s; improved = true } else { choice[i] = choice[i].flipped }
            }
            if !improved { break }
        }
        return expanded(c, toffolis, choice)
    }

    static func expanded(_ c: Circuit, _ toffolis: [Int], _ choice: [Polarity]) -> Circuit {
        var out: [Gate] = []
        out.reserveCapacity(c.gates.count + 12 * toffolis.count)
        var k = 0
        for (i, g) in c.gates.enumerated() {
            if k < toffolis.count && toffolis[k] == i {
                out += Decompose.ccz(g.qubits[0], g.qubits[1], g.qubits[2], choice[k])
                k += 1
            } else {
                out.append(g)
            }
        }
        return c.withGates(out)
    }
}
