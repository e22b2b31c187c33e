/// What a circuit of {cx, rz, x} gates on `n` local wires computes, up to global phase:
/// |x⟩ ↦ e^{i·Σ θ_s·(s·x)} |A·x ⊕ c⟩ — an affine map of the wires and a phase polynomial whose terms are
/// parities `s` of the inputs (bit k = input wire k) with angles θ_s (mod 2π, zero terms left out).
///
/// Two circuits with equal values compute the same unitary up to global phase (the converse need not
/// hold: different term sets can agree modulo 2π), so comparing values is an exact, sound check.
struct CNOTDihedral: Equatable {
    /// Wire k's output parity over the inputs.
    var outputs: [UInt64]
    /// Wire k's output constant bit (from x gates).
    var flips: [Bool]
    /// Parity → angle, normalised, nonzero.
    var terms: [UInt64: Angle]

    static let maxWires = 64

    /// nil when a gate is not cx, rz or x, or a qubit is outside 0..<n.
    init?(_ gates: [Gate], wires n: Int) {
        guard n <= CNOTDihedral.maxWires else { return nil }
        outputs = (0..<n).map { UInt64(1) << UInt64($0) }
        flips = Array(repeating: false, count: n)
        var sums: [UInt64: Angle] = [:]
        for g in gates {
            guard g.qubits.allSatisfy({ $0 >= 0 && $0 < n }) else { return nil }
            switch g.kind {
            case .x: flips[g.qubits[0]].toggle()
            case .cx:
                let (c, t) = (g.qubits[0], g.qubits[1])
                outputs[t] ^= outputs[c]
                flips[t] = flips[t] != flips[c]
            case .rz:
                let q = g.qubits[0]
                // rz(θ) on s ⊕ 1 is rz(−θ) on s up to global phase; on a constant wire it is a global phase.
                guard outputs[q] != 0 else { continue }
                let angle = flips[q] ? -g.params[0] : g.params[0]
                sums[outputs[q]] = (sums[outputs[q]] ?? .zero) + angle
            default: return nil
            }
        }
        terms = [:]
        for (s, a) in sums where !a.isZeroModTwoPi { terms[s] = a.normalized }
    }

    /// The exact test for the same unitary up to global phase: the same affine map and, at every input,
    /// the same phase modulo 2π (both are 0 at the all-zero input), so term sets that differ by multiples of
    /// 2π on products (ccz and its adjoint) still compare equal. Visits 2^n inputs: for small n only.
    func sameUnitary(as o: CNOTDihedral) -> Bool {
        guard outputs == o.outputs, flips == o.flips, outputs.count <= 16 else { return false }
        let difference = terms.merging(o.terms.mapValues { -$0 }) { $0 + $1 }
        for x in UInt64(0)..<(UInt64(1) << UInt64(outputs.count)) {
            let phase = difference.reduce(Angle.zero) { sum, term in (term.key & x).nonzeroBitCount % 2 == 1 ? sum + term.value : sum }
            if !phase.isZeroModTwoPi { return false }
        }
        return true
    }

    static func == (a: CNOTDihedral, b: CNOTDihedral) -> Bool {
        a.outputs == b.outputs && a.flips == b.flips && a.terms == b.terms
    }
}
