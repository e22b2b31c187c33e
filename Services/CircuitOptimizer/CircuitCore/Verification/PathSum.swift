import Foundation

/// Exact equivalence of two circuits by sum over paths, for circuits too wide to simulate.
///
/// The method is Amy's path-sum verification ("Towards large-scale functional verification of universal
/// quantum circuits", QPL 2018), written here from the math. The miter a·b⁻¹ maps a basis state |x⟩ to
///     Σ_y e^{iπ·P(x, y)} |f(x, y)⟩   (up to a scalar),
/// with one path variable y per Hadamard, each output wire f_i a Boolean polynomial (ANF) over the input
/// bits x and the path variables, and P a multilinear polynomial with dyadic coefficients (units of π,
/// mod 2). Reduction rules remove path variables exactly; when none is left the miter is a permutation
/// with phases, which is the identity (up to global phase) iff every f_i = x_i and P is constant. ANF and
/// multilinear-mod-2 forms are canonical, so that answer is exact both ways. Anything the rules cannot
/// remove leaves the check unverified: it never claims equivalence it has not derived.
public enum PathSumCheck {
    /// Checks `a` against `b` up to global phase. Gives up (unverified) past `deadline` or `maxTerms` phase terms.
    public static func check(_ a: Circuit, _ b: Circuit, deadline: Deadline, maxTerms: Int = 1 << 20) -> Verdict {
        guard a.qubitCount == b.qubitCount else { return .notEquivalent("qubit counts differ (\(a.qubitCount) vs \(b.qubitCount))") }
        let start = Deadline.now()
        // The seconds spent go into every verdict's text: the CLI prints it, and the cost shows.
        func took() -> String { String(format: "%.2f s", Deadline.now() - start) }
        var result = miter(a, b, deadline: deadline, maxTerms: maxTerms)
        // a·b⁻¹ = c·I exactly when b·a⁻¹ = c⁻¹·I, and the other order can reduce where this one grew too large.
        let settled: Bool
        switch result {
        case .success(let v): settled = v.isEquivalent || v.isRefuted
        case .failure(let stop): settled = stop.reason == "out of time"
        }
        if !settled, case .success(let v) = miter(b, a, deadline: deadline, maxTerms: maxTerms), v.isEquivalent || v.isRefuted {
            result = .success(v)
        }
        switch result {
        case .failure(let stop): return .unverified("path sum: \(stop.reason) after \(took())")
        case .success(.equivalent(let m)): return .equivalent(method: "\(m), \(took())")
        case .success(.notEquivalent(let why)): return .notEquivalent("\(why) (\(took()))")
        case .success(.unverified(let why)): return .unverified("\(why) after \(took())")
        }
    }

    /// The path sum of a·b⁻¹, reduced.
    static func miter(_ a: Circuit, _ b: Circuit, deadline: Deadline, maxTerms: Int) -> Result<Verdict, PathSum.Stop> {
        var sum = PathSum(qubits: a.qubitCount, deadline: deadline, maxTerms: maxTerms)
        do throws(PathSum.Stop) {
            for g in a.gates { try sum.apply(g, inverse: false) }
            // Reducing after each Hadamard of b⁻¹ cancels the two halves from the middle outward, pairing each
            // path variable of b⁻¹ with its mirror in a. Reducing only at the end leaves the choice of which
            // variable survives each HH step to chance, and on 3 of 60 small random miters (a against a with
            // identities spliced in, or against its passes output) it ended with variables stuck in output wires.
            for g in b.gates.reversed() {
                sum.touched = []
                let before = sum.nextVar
                try sum.apply(g, inverse: true)
                // A Hadamard (a new path variable) frees the variables its wire held: only they (and what they touch) can reduce now.
                if sum.nextVar != before { try sum.reduce(sum.touched) }
            }
            try sum.reduce()
        } catch {
            return .failure(error)
        }
        return .success(sum.verdict())
    }
}

struct PathSum {
    typealias Var = Int32

    /// A product of variables: sorted, no repeats; empty is the constant 1.
    struct Mono: Hashable {
        var vars: [Var]
        static let one = Mono(vars: [])
        func contains(_ v: Var) -> Bool { vars.contains(v) }
        func removing(_ v: Var) -> Mono { Mono(vars: vars.filter { $0 != v }) }
        /// The product of two monomials over Booleans (x·x = x) is the union of their variables.
        func times(_ o: Mono) -> Mono {
            var out: [Var] = []
            out.reserveCapacity(vars.count + o.vars.count)
            var i = 0, j = 0
            while i < vars.count || j < o.vars.count {
                if j == o.vars.count || (i < vars.count && vars[i] < o.vars[j]) { out.append(vars[i]); i += 1 }
                else if i == vars.count || o.vars[j] < vars[i] { out.append(o.vars[j]); j += 1 }
                else { out.append(vars[i]); i += 1; j += 1 }
            }
            return Mono(vars: out)
        }
    }
    /// A Boolean polynomial: the XOR of its monomials.
    typealias ANF = Set<Mono>

    struct Stop: Error { var reason: String }

    /// Phase coefficients are integers in units of π/2^K, taken mod 2π = M units. Angles with a larger
    /// power-of-two denominator (or not dyadic, or not exact) stop the check.
    static let K = 6
    static let M = 1 << (K + 1)
    static let pi = 1 << K, halfPi = 1 << (K - 1)
    /// Cap on the monomials of one output wire and on the subsets of one [f] expansion.
    static let maxWireTerms = 1 << 14

    let n: Int
    var wires: [ANF]
    var phase: [Mono: Int] = [:]
    /// Path variables still summed over (numbered from n; 0..<n are the inputs).
    var alive: Set<Var> = []
    var nextVar: Var
    /// Where each path variable occurs: the phase terms holding it, and how many monomials of which wires.
    /// Kept current by every change, so a reduction step looks a variable up instead of scanning.
    var terms: [Var: Set<Mono>] = [:]
    var wireCount: [Var: [Int: Int]] = [:]
    /// Variables whose terms or wires changed: the reductions look at them again.
    var touched: Set<Var> = []
    let deadline: Deadline
    let maxTerms: Int
    var steps = 0

    init(qubits: Int, deadline: Deadline, maxTerms: Int) {
        n = qubits
        wires = (0..<qubits).map { [Mono(vars: [Var($0)])] }
        nextVar = Var(qubits)
        self.deadline = deadline
        self.maxTerms = maxTerms
    }

    mutating func tick() throws(Stop) {
        steps += 1
        if steps & 63 == 0 && deadline.expired { throw Stop(reason: "out of time") }
    }

    // MARK: Building

    /// An exact angle in units of π/2^K (mod M), or a stop saying why it is not one.
    static func units(_ a: Angle) throws(Stop) -> Int {
        guard case .pi(let r) = a else { throw Stop(reason: "angle \(a) not dyadic (not an exact multiple of π)") }
        let d = r.denominator
        guard d > 0, d & (d - 1) == 0, d <= (1 << K) else { throw Stop(reason: "angle \(a) not dyadic (denominator above 2^\(K))") }
        let u = (r.numerator % (2 * d)) * ((1 << K) / d)
        return ((u % M) + M) % M
    }

    mutating func apply(_ g: Gate, inverse: Bool) throws(Stop) {
        try tick()
        let q = g.qubits
        let sign = inverse ? -1 : 1
        switch g.kind {
        case .id, .barrier: break  // the identity
        case .x: flip(q[0])
        case .y:  // Y = i·X·Z; the i is a global phase, and Y is its own inverse up to it
            try addPhase(PathSum.pi, [wires[q[0]]])
            flip(q[0])
        case .cx:
            guard q[0] != q[1] else { throw Stop(reason: "cx with control = target") }
            try setWire(q[1], wires[q[1]].symmetricDifference(wires[q[0]]))
        case .swap:  // through setWire: the per-wire occurrence counts move with the values
            let (w0, w1) = (wires[q[0]], wires[q[1]])
            try setWire(q[0], w1)
            try setWire(q[1], w0)
        case .z: try addPhase(PathSum.pi, [wires[q[0]]])
        case .s, .sdg: try addPhase((g.kind == .s ? 1 : -1) * sign * PathSum.halfPi, [wires[q[0]]])
        case .t, .tdg: try addPhase((g.kind == .t ? 1 : -1) * sign * PathSum.halfPi / 2, [wires[q[0]]])
        case .rz, .u1:  // rz(θ) = e^{-iθ/2}·diag(1, e^{iθ}); the e^{-iθ/2} is global
            try addPhase(sign * PathSum.units(g.params[0]), [wires[q[0]]])
        case .cz: try addPhase(PathSum.pi, [wires[q[0]], wires[q[1]]])
        case .ccz: try addPhase(PathSum.pi, [wires[q[0]], wires[q[1]], wires[q[2]]])
        case .h: try hadamard(q[0])
        case .ccx:
            try hadamard(q[2])
            try addPhase(PathSum.pi, [wires[q[0]], wires[q[1]], wires[q[2]]])
            try hadamard(q[2])
        case .sx, .sxdg:  // sx = h·s·h exactly
            try hadamard(q[0])
            try addPhase((g.kind == .sx ? 1 : -1) * sign * PathSum.halfPi, [wires[q[0]]])
            try hadamard(q[0])
        case .rx:  // rx(θ) = h·rz(θ)·h
            try hadamard(q[0])
            try addPhase(sign * PathSum.units(g.params[0]), [wires[q[0]]])
            try hadamard(q[0])
        default:
            throw Stop(reason: "gate \(g.kind.name) not supported")
        }
    }

    mutating func flip(_ q: Int) {
        if wires[q].contains(.one) { wires[q].remove(.one) } else { wires[q].insert(.one) }
    }

    /// Replaces wire q, keeping `wireCount` current; the variables that entered or left it are touched.
    mutating func setWire(_ q: Int, _ w: ANF) throws(Stop) {
        if w.count > PathSum.maxWireTerms { throw Stop(reason: "a wire grew past \(PathSum.maxWireTerms) terms") }
        for mono in wires[q] { for v in mono.vars where Int(v) >= n {
            let k = (wireCount[v]?[q] ?? 0) - 1
            if k == 0 { wireCount[v]?.removeValue(forKey: q); if wireCount[v]?.isEmpty == true { wireCount.removeValue(forKey: v) } }
            else { wireCount[v, default: [:]][q] = k }
            touched.insert(v)
        } }
        for mono in w { for v in mono.vars where Int(v) >= n { wireCount[v, default: [:]][q, default: 0] += 1; touched.insert(v) } }
        wires[q] = w
    }

    /// H|w⟩ = Σ_y (−1)^{w·y}|y⟩/√2: a new path variable y, phase += π·w·y, the wire becomes y.
    mutating func hadamard(_ q: Int) throws(Stop) {
        let y = nextVar
        nextVar += 1
        alive.insert(y)
        try addPhase(PathSum.pi, [wires[q], [Mono(vars: [y])]])
        try setWire(q, [Mono(vars: [y])])
    }

    // MARK: Phase arithmetic

    /// phase += c·[f₁]·[f₂]·…, with [f] the 0/1 integer value of a Boolean polynomial f, as a multilinear
    /// polynomial: [m₁ ⊕ … ⊕ m_k] = Σ_{∅≠T⊆{m_i}} (−2)^{|T|−1} Π_{i∈T} m_i. With c = odd·2^j units, only the
    /// product mod 2^{K+1−j} matters (the rest is a multiple of 2π), so large subsets drop out: for c = π
    /// only single monomials survive, for π/4 subsets up to three.
    mutating func addPhase(_ c0: Int, _ factors: [ANF]) throws(Stop) {
        let c = ((c0 % PathSum.M) + PathSum.M) % PathSum.M
        if c == 0 { return }
        let m = PathSum.M >> c.trailingZeroBitCount
        var product: [Mono: Int] = [.one: 1]
        for f in factors {
            let e = try expand(f, mod: m)
            // Bound the product before forming it: one multiplication must not run for minutes between deadline checks.
            if product.count * e.count > maxTerms { throw Stop(reason: "path sum grew past \(maxTerms) terms") }
            var next: [Mono: Int] = [:]
            for (a, ka) in product { for (b, kb) in e {
                try tick()
                let ab = a.times(b)
                let k = (next[ab, default: 0] + ka * kb) % m
                if k == 0 { next.removeValue(forKey: ab) } else { next[ab] = k }
            } }
            if next.count > maxTerms { throw Stop(reason: "path sum grew past \(maxTerms) terms") }
            product = next
        }
        for (mono, k) in product { add(mono, k * c) }
        if phase.count > maxTerms { throw Stop(reason: "path sum grew past \(maxTerms) terms") }
    }

    /// [f] mod m (m a power of two) as monomial → integer coefficient.
    func expand(_ f: ANF, mod m: Int) throws(Stop) -> [Mono: Int] {
        let ms = Array(f)
        let maxSize = min(m.trailingZeroBitCount, ms.count)  // (−2)^{t−1} ≡ 0 mod m once t−1 ≥ log₂ m
        var out: [Mono: Int] = [:]
        var count = 0
        func visit(_ from: Int, _ size: Int, _ acc: Mono) throws(Stop) {
            if size > 0 {
                var coef = 1
                for _ in 1..<size { coef *= -2 }
                let k = (((out[acc, default: 0] + coef) % m) + m) % m
                if k == 0 { out.removeValue(forKey: acc) } else { out[acc] = k }
                count += 1
                if count & 1023 == 0 && deadline.expired { throw Stop(reason: "out of time") }
                if count > PathSum.maxWireTerms * 16 { throw Stop(reason: "path sum grew past \(PathSum.maxWireTerms * 16) terms in one expansion") }
            }
            if size == maxSize { return }
            for i in from..<ms.count { try visit(i + 1, size + 1, acc.times(ms[i])) }
        }
        try visit(0, 0, .one)
        return out
    }

    /// Adds k units to one phase term (the constant term is a global phase and is not kept).
    mutating func add(_ mono: Mono, _ k: Int) {
        if mono.vars.isEmpty { return }
        let old = phase[mono] ?? 0
        let v = ((old + k) % PathSum.M + PathSum.M) % PathSum.M
        if v == 0 { _ = remove(mono); return }
        phase[mono] = v
        touched.formUnion(mono.vars)
        if old == 0 { for x in mono.vars where Int(x) >= n { terms[x, default: []].insert(mono) } }
    }

    mutating func remove(_ mono: Mono) -> Int {
        guard let c = phase.removeValue(forKey: mono) else { return 0 }
        touched.formUnion(mono.vars)
        for x in mono.vars where Int(x) >= n { terms[x]?.remove(mono) }
        return c
    }

    // MARK: Reduction

    /// Applies the rules until none does, looking at `candidates` (all path variables when nil) and at every
    /// variable a step touches. A variable can only become reducible when its terms or wires change, so this
    /// reaches the same fixed point as sweeping all variables again and again.
    mutating func reduce(_ candidates: Set<Var>? = nil) throws(Stop) {
        var work = candidates.map { $0.intersection(alive) } ?? alive
        while !work.isEmpty {
            let batch = work.sorted()  // sorted: the same circuit reduces the same way every run
            work = []
            for y in batch where alive.contains(y) && wireCount[y] == nil {
                try tick()
                touched = []
                let yTerms = Array(terms[y] ?? [])
                // Elim: Σ_y of a constant is a factor 2, a scalar.
                if yTerms.isEmpty { alive.remove(y); continue }
                // Split the y-part of the phase into π·y·g (g an ANF without y) and at most a lone ±π/2·y.
                var g: ANF = [], lone = 0, fits = true
                for t in yTerms {
                    let c = phase[t] ?? 0, rest = t.removing(y)
                    if c == PathSum.pi { g.insert(rest) }
                    else if rest.vars.isEmpty && (c == PathSum.halfPi || c == PathSum.M - PathSum.halfPi) { lone = c }
                    else { fits = false; break }
                }
                if !fits { continue }
                if lone == 0 {
                    // HH: Σ_y (−1)^{y·g} = 2·[g = 0]. When g = z ⊕ h with z a path variable found nowhere else
                    // in g, the sum over z keeps only z = h: substitute it and drop both y and z.
                    var counts: [Var: Int] = [:]
                    for mono in g { for v in mono.vars { counts[v, default: 0] += 1 } }
                    // Of several candidates take the newest: in the miter a·b⁻¹ that is the one from b⁻¹ mirroring y
                    // from a, so the two halves cancel from the middle outward.
                    guard let z = g.filter({ $0.vars.count == 1 }).map({ $0.vars[0] })
                        .filter({ Int($0) >= self.n && $0 != y && counts[$0] == 1 && self.alive.contains($0) }).max()
                    else { continue }
                    for t in yTerms { _ = remove(t) }
                    var h = g
                    h.remove(Mono(vars: [z]))
                    try substitute(z, h)
                    alive.remove(y); alive.remove(z)
                } else {
                    // ω: Σ_y i^{±y}(−1)^{y·g} = √2·e^{±iπ/4}·e^{∓iπ/2·[g]}; the scalar and e^{±iπ/4} are global.
                    for t in yTerms { _ = remove(t) }
                    try addPhase(lone == PathSum.halfPi ? -PathSum.halfPi : PathSum.halfPi, [g])
                    alive.remove(y)
                }
                work.formUnion(touched.intersection(alive))
            }
        }
    }

    /// z := h everywhere: in each phase term c·z·m (c·[h]·m) and in each output wire (ANF product, mod 2).
    mutating func substitute(_ z: Var, _ h: ANF) throws(Stop) {
        for t in Array(terms[z] ?? []) {
            let c = remove(t)
            if c != 0 { try addPhase(c, [h, [t.removing(z)]]) }
        }
        for q in (wireCount[z] ?? [:]).keys.sorted() {
            var w: ANF = []
            for mono in wires[q] {
                if mono.contains(z) {
                    let rest = mono.removing(z)
                    for hm in h { try tick(); let p = hm.times(rest); if w.contains(p) { w.remove(p) } else { w.insert(p) } }
                    if w.count > PathSum.maxWireTerms { throw Stop(reason: "a wire grew past \(PathSum.maxWireTerms) terms") }
                } else if w.contains(mono) { w.remove(mono) } else { w.insert(mono) }
            }
            try setWire(q, w)
        }
    }

    // MARK: Decision

    func verdict() -> Verdict {
        let method = "path sum, \(n) qubits"
        if !alive.isEmpty { return .unverified("path sum did not reduce (\(alive.count) path variables left)") }
        // No path variable left: the miter is |x⟩ ↦ e^{iπP(x)}|f(x)⟩ times a constant.
        for (q, w) in wires.enumerated() where w != [Mono(vars: [Var(q)])] {
            if w.contains(where: { $0.vars.contains { Int($0) >= n } }) { return .unverified("path sum: a summed variable is left in wire \(q)") }
            return .notEquivalent("\(method): qubit \(q) comes out as \(describe(w)) instead of x\(q)")
        }
        if let (mono, c) = phase.first {
            if mono.vars.contains(where: { Int($0) >= n }) { return .unverified("path sum: a summed variable is left in the phase") }
            return .notEquivalent("\(method): a relative phase \(c)π/\(PathSum.pi)·\(describe([mono])) remains")
        }
        return .equivalent(method: method)
    }

    func describe(_ f: ANF) -> String {
        if f.isEmpty { return "0" }
        let parts = f.map { m in m.vars.isEmpty ? "1" : m.vars.map { Int($0) < n ? "x\($0)" : "y\($0)" }.joined(separator: "·") }
        let shown = parts.sorted().prefix(4).joined(separator: " ⊕ ")
        return parts.count > 4 ? shown + " ⊕ …" : shown
    }
}
