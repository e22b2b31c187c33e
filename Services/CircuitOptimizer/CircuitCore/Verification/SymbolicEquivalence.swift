/// Exact equivalence of two rule circuits for every value of their symbolic parameters.
///
/// Every gate used in rules is a permutation, a phase, or a Hadamard, and every angle is a linear form in
/// the parameters. So each unitary entry, times √2 per Hadamard, is an exact sum of terms
/// c · ζ^k · e^{i(a₀p₀ + a₁p₁ + …)/2} with an integer c, ζ = e^{iπ/4} and integer a's: a Laurent
/// polynomial whose terms are collected exactly. The powers ζ⁰…ζ³ are independent over the rationals and
/// the exponentials independent as functions, so a collected polynomial is zero exactly when it is the
/// zero function. Two circuits are equal up to a global phase (which may depend on the parameters) iff
/// their matrices are proportional: A·B[pivot] = A[pivot]·B entry by entry, for a pivot where B is not zero.
public enum SymbolicEquivalence {
    public struct Unsupported: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// True when `a` and `b` agree up to a global phase for every value of the parameters.
    public static func equal(_ a: RuleCircuit, _ b: RuleCircuit) throws(Unsupported) -> Bool {
        // Only the qubits either side touches, renumbered densely.
        let used = a.usedQubits.union(b.usedQubits).sorted()
        guard used.count <= 6 else { throw Unsupported(message: "\(used.count) qubits: symbolic checks go up to 6") }
        var dense = [Int: Int]()
        for (i, q) in used.enumerated() { dense[q] = i }
        let ma = try matrix(a, dense), mb = try matrix(b, dense)
        guard let pivot = mb.firstIndex(where: { !$0.isZero }) else { return false }
        for i in ma.indices where ma[i] * mb[pivot] != ma[pivot] * mb[i] { return false }
        return true
    }

    /// Columns of the unitary (Hadamards unscaled), flattened column by column.
    static func matrix(_ c: RuleCircuit, _ dense: [Int: Int]) throws(Unsupported) -> [PhasePolynomial] {
        let n = dense.count, dim = 1 << n
        var out: [PhasePolynomial] = []
        out.reserveCapacity(dim * dim)
        for j in 0..<dim {
            var column = [PhasePolynomial](repeating: PhasePolynomial(), count: dim)
            column[j] = PhasePolynomial.one
            for g in c.gates { try apply(g, g.qubits.map { dense[$0] ?? 0 }, &column) }
            out += column
        }
        return out
    }

    /// Applies one gate to a state vector of polynomials (qubit q is bit q of the index).
    static func apply(_ g: PatternGate, _ qs: [Int], _ v: inout [PhasePolynomial]) throws(Unsupported) {
        func bit(_ i: Int, _ q: Int) -> Bool { i >> qs[q] & 1 == 1 }
        func phase(_ on: (Int) -> Bool, _ m: Monomial) { for i in v.indices where on(i) { v[i] = v[i].times(m) } }
        switch g.kind {
        case .id: break
        case .h:
            let m = 1 << qs[0]
            for i in v.indices where i & m == 0 {
                let a = v[i], b = v[i | m]
                v[i] = a + b
                v[i | m] = a - b
            }
        case .x, .y:
            let m = 1 << qs[0]
            for i in v.indices where i & m == 0 { v.swapAt(i, i | m) }
            if g.kind == .y {  // y = i·|1⟩⟨0| − i·|0⟩⟨1|: after the swap, bit 1 gets i and bit 0 gets −i
                phase({ bit($0, 0) }, Monomial(eighths: 2))
                phase({ !bit($0, 0) }, Monomial(eighths: 6))
            }
        case .z: phase({ bit($0, 0) }, Monomial(eighths: 4))
        case .s: phase({ bit($0, 0) }, Monomial(eighths: 2))
        case .sdg: phase({ bit($0, 0) }, Monomial(eighths: 6))
        case .t: phase({ bit($0, 0) }, Monomial(eighths: 1))
        case .tdg: phase({ bit($0, 0) }, Monomial(eighths: 7))
        case .rz, .u1:
            // rz(θ) = diag(e^{-iθ/2}, e^{iθ/2}); u1(θ) = diag(1, e^{iθ}); θ = the sum of the listed parameters.
            var half = Monomial()
            for p in g.params {
                guard p < Monomial.maxParams else { throw Unsupported(message: "parameter p\(p): symbolic checks use p0…p\(Monomial.maxParams - 1)") }
                half.powers[p + 1] += 1
            }
            if g.kind == .rz {
                phase({ !bit($0, 0) }, half.inverse)
                phase({ bit($0, 0) }, half)
            } else {
                phase({ bit($0, 0) }, half.times(half))
            }
        case .cx, .ccx:
            let t = 1 << qs[qs.count - 1]
            for i in v.indices where i & t == 0 && (0..<(qs.count - 1)).allSatisfy({ bit(i, $0) }) { v.swapAt(i, i | t) }
        case .cz, .ccz: phase({ i in qs.indices.allSatisfy { bit(i, $0) } }, Monomial(eighths: 4))
        case .swap:
            for i in v.indices where bit(i, 0) && !bit(i, 1) { v.swapAt(i, i ^ (1 << qs[0]) ^ (1 << qs[1])) }
        default:
            throw Unsupported(message: "gate \(g.kind.name) has no exact symbolic form here (supported: h, x, y, z, s, sdg, t, tdg, rz, u1, cx, cz, swap, ccx, ccz, id)")
        }
    }
}

/// ζ^k · e^{i(a₀p₀ + a₁p₁ + …)/2}: lane 0 holds k (0..<4 once normalised; ζ⁴ = −1 moves into the sign),
/// lanes 1… hold the a's.
struct Monomial: Hashable, Sendable {
    static let maxParams = 7
    var powers = SIMD8<Int16>()

    init() {}
    init(eighths k: Int16) { powers[0] = k }

    func times(_ o: Monomial) -> Monomial {
        var m = Monomial()
        m.powers = powers &+ o.powers
        return m
    }

    var inverse: Monomial {
        var m = Monomial()
        m.powers = 0 &- powers
        return m
    }
}

/// A sum of monomials with integer coefficients, terms collected.
struct PhasePolynomial: Equatable, Sendable {
    var terms: [Monomial: Int] = [:]

    static let one = PhasePolynomial(terms: [Monomial(): 1])
    var isZero: Bool { terms.isEmpty }

    /// Adds c·m with ζ^k reduced to k in 0..<4 (ζ⁴ = −1).
    mutating func add(_ m: Monomial, _ c: Int) {
        var m = m, c = c
        var k = Int(m.powers[0]) % 8
        if k < 0 { k += 8 }
        if k >= 4 { k -= 4; c = -c }
        m.powers[0] = Int16(k)
        let sum = (terms[m] ?? 0) + c
        terms[m] = sum == 0 ? nil : sum
    }

    func times(_ m: Monomial) -> PhasePolynomial {
        var out = PhasePolynomial()
        for (t, c) in terms { out.add(t.times(m), c) }
        return out
    }

    static func + (a: PhasePolynomial, b: PhasePolynomial) -> PhasePolynomial {
        var out = a
        for (t, c) in b.terms { out.add(t, c) }
        return out
    }

    static func - (a: PhasePolynomial, b: PhasePolynomial) -> PhasePolynomial {
        var out = a
        for (t, c) in b.terms { out.add(t, -c) }
        return out
    }

    static func * (a: PhasePolynomial, b: PhasePolynomial) -> PhasePolynomial {
        var out = PhasePolynomial()
        for (s, c) in a.terms { for (t, d) in b.terms { out.add(s.times(t), c * d) } }
        return out
    }
}
