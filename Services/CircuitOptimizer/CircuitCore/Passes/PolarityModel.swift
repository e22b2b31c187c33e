/// The phase polynomial of a circuit with its Toffolis expanded, as a function of their polarities: each
/// term's angle is the input's own rotations on it plus ± each Toffoli's (a flip negates all of one
/// Toffoli's rotations and nothing else). Scored by the number of nonzero terms (the rz left after
/// rotation merging), so a flip costs only the terms that Toffoli touches, not a pass over the circuit.
/// Terms are read after Hadamard reduction, on the circuit expanded at positive polarity.
struct PolarityModel {
    /// Per term: the angle from the input's rotations and then from the Toffolis at the current polarities.
    var value: [Angle]
    /// Per Toffoli: its rotations' contributions (term, angle) at positive polarity.
    var parts: [[(term: Int, angle: Angle)]]
    /// Per Toffoli: whether it is negative.
    var flipped: [Bool]
    var nonzero: Int

    init(_ c: Circuit, _ toffolis: [Int]) {
        let plain = [ToffoliPolarity.Choice](repeating: .init(), count: toffolis.count)
        let (expanded, owners) = ToffoliPolarity.expandedWithOwners(c, toffolis, plain)
        var dag = CircuitDAG(expanded)   // node ids are the gate indices; gates the reduction inserts come later
        HadamardReduction.run(&dag)
        var index: [[Int32]: Int] = [:]
        var value: [Angle] = []
        var parts = [[(term: Int, angle: Angle)]](repeating: [], count: toffolis.count)
        RotationMerging.walk(dag, rotation: { id, wire, angle in
            guard !wire.variables.isEmpty else { return }   // a global phase
            let term = index[wire.variables] ?? { index[wire.variables] = value.count; value.append(.zero); return value.count - 1 }()
            let owner = id < owners.count ? owners[id] : -1
            if owner >= 0 { parts[owner].append((term, angle)) }
            value[term] = value[term] + angle
        })
        self.value = value
        self.parts = parts
        flipped = Array(repeating: false, count: toffolis.count)
        nonzero = value.count(where: { !$0.isZeroModTwoPi })
    }

    /// The change in nonzero terms if Toffoli k flipped.
    func gain(_ k: Int) -> Int {
        var delta = 0
        var touched: [Int: Angle] = [:]
        for (term, angle) in parts[k] {
            let a = flipped[k] ? -angle : angle
            touched[term] = (touched[term] ?? value[term]) - a - a
        }
        for (term, after) in touched {
            delta += (after.isZeroModTwoPi ? 0 : 1) - (value[term].isZeroModTwoPi ? 0 : 1)
        }
        return delta
    }

    mutating func flip(_ k: Int) {
        nonzero += gain(k)
        for (term, angle) in parts[k] {
            let a = flipped[k] ? -angle : angle
            value[term] = value[term] - a - a
        }
        flipped[k].toggle()
    }

    /// Flips while one flip, or two flips of Toffolis sharing a term, lowers the count.
    mutating func minimize(deadline: Deadline) {
        var sharing = [[Int]](repeating: [], count: value.count)
        for k in parts.indices { for (term, _) in parts[k] where sharing[term].last != k { sharing[term].append(k) } }
        var improved = true
        while improved && !deadline.expired {
            improved = false
            for k in parts.indices where gain(k) < 0 { flip(k); improved = true }
            if improved { continue }
            // No single flip helps: try pairs on a common nonzero term (one flip alone may only move the term).
            pairs: for term in value.indices where !value[term].isZeroModTwoPi {
                if deadline.expired { break }
                for (x, i) in sharing[term].enumerated() {
                    for j in sharing[term][(x + 1)...] {
                        let before = nonzero
                        flip(i); flip(j)
                        if nonzero < before { improved = true; break pairs }
                        flip(j); flip(i)
                    }
                }
            }
        }
    }
}
