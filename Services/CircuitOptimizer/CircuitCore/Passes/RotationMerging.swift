/// Rotation merging by phase folding (Nam et al.; Amy's path-sum view).
///
/// Every wire carries an affine parity of path variables: the inputs, plus a fresh variable after each
/// H (or any gate outside {x, cx, rz}). `cx a,b` adds a's parity to b; `x` flips the constant bit.
/// An rz(θ) on a wire holding `S ⊕ c` adds phase θ·(−1)^c to the term S (up to global phase), wherever
/// it sits, so all rotations on one S merge into the first: its angle becomes (−1)^c·Σ(−1)^cᵢθᵢ.
/// The X parity (the constant bit) is what the Quartz pass gets wrong; it is carried here.
public enum RotationMerging {
    struct Parity {
        var variables: [Int32]   // sorted
        var flipped: Bool

        mutating func add(_ o: Parity) {
            variables = Parity.symmetricDifference(variables, o.variables)
            flipped = flipped != o.flipped
        }

        static func symmetricDifference(_ a: [Int32], _ b: [Int32]) -> [Int32] {
            var out: [Int32] = []
            out.reserveCapacity(a.count + b.count)
            var i = 0, j = 0
            while i < a.count && j < b.count {
                if a[i] < b[j] { out.append(a[i]); i += 1 } else if b[j] < a[i] { out.append(b[j]); j += 1 } else { i += 1; j += 1 }
            }
            out.append(contentsOf: a[i...])
            out.append(contentsOf: b[j...])
            return out
        }
    }

    struct Term {
        var first: Int
        var firstFlipped: Bool
        var total: Angle
        var others: [Int]
    }

    /// Merges rotations in place; returns the number of rz gates removed.
    @discardableResult
    public static func run(_ dag: inout CircuitDAG) -> Int {
        let terms = collect(dag)
        var removed = 0
        for term in terms.values {
            if term.total.isZeroModTwoPi {
                dag.remove(term.first)
                for o in term.others { dag.remove(o) }
                removed += 1 + term.others.count
            } else if !term.others.isEmpty {
                dag.setParams(term.first, [term.firstFlipped ? -term.total : term.total])
                for o in term.others { dag.remove(o) }
                removed += term.others.count
            }
        }
        return removed
    }

    /// The number of rz gates that would remain after merging (cheap objective for polarity choice).
    static func remainingRotations(_ dag: CircuitDAG) -> Int {
        collect(dag).values.reduce(0) { $0 + ($1.total.isZeroModTwoPi ? 0 : 1) }
    }

    static func collect(_ dag: CircuitDAG) -> [[Int32]: Term] {
        var wires = (0..<dag.qubitCount).map { Parity(variables: [Int32($0)], flipped: false) }
        var fresh = Int32(dag.qubitCount)
        var terms: [[Int32]: Term] = [:]
        for id in dag.topologicalOrder() {
            let g = dag.nodes[id].gate
            switch g.kind {
            case .x:
                wires[g.qubits[0]].flipped.toggle()
            case .cx:
                wires[g.qubits[1]].add(wires[g.qubits[0]])
            case .rz:
                let w = wires[g.qubits[0]]
                let angle = w.flipped ? -g.params[0] : g.params[0]
                if w.variables.isEmpty {
                    // The wire holds a constant: the rotation is a global phase.
                    terms[[-1 - Int32(id)]] = Term(first: id, firstFlipped: w.flipped, total: .zero, others: [])
                } else if var t = terms[w.variables] {
                    t.total = t.total + angle
                    t.others.append(id)
                    terms[w.variables] = t
                } else {
                    terms[w.variables] = Term(first: id, firstFlipped: w.flipped, total: angle.normalized, others: [])
                }
            default:
                for q in g.qubits {
                    wires[q] = Parity(variables: [fresh], flipped: false)
                    fresh += 1
                }
            }
        }
        return terms
    }
}
