/// Compute/uncompute pairs of Toffoli groups rebuilt up to a relative phase (after Maslov's relative-phase
/// Toffolis, for whole groups such as an adder's carry, `t ^= maj(a, b, c)`, at once).
///
/// A block is the {ccz, cx, rz, x} gates on a few wires W that sit between two h on one wire t, where
/// every gate touching t is a ccz or rz (so t is a phase wire of the block) and no other wire's output
/// depends on t. Its function is an affine map L and a phase polynomial; the terms on parities with t
/// decide which bit is flipped on t in the h frame (`f`), the others are a diagonal phase on W∖t.
/// Any other phase polynomial with the same `f` gives R' = E·R with E diagonal on W∖t. When the block's
/// exact inverse comes later on the same wires, and every gate between them is diagonal on W∖t (touches
/// those wires only as rz, ccz or a cx control), E commutes to the inverse's E⁻¹ and the pair is exact.
/// The cheapest such polynomial here is the Fourier expansion of π·f on the parities with t, with no
/// other term: 5 rotations for a majority (an adder's carry), against 13 for the exact form.
///
/// Each new block is re-checked exactly before it is used (`CNOTDihedral` of the built gates, and `f`
/// and the map of both forms compared), and the pipeline keeps the result only when it is smaller.
public enum RelativePhaseBlocks {
    /// Wires a block may span: the Fourier expansion visits 2^(wires−1) points per parity.
    static let maxWires = 8

    struct Block {
        var target: Int
        /// The block's wires, sorted; local wire k is `wires[k]`.
        var wires: [Int]
        /// Indices of its gates in the circuit, in order.
        var gates: [Int]
        var first: Int { gates[0] }
        var last: Int { gates[gates.count - 1] }
    }

    /// The circuit with each compute/uncompute pair of blocks in the relative-phase form, or nil when it
    /// has no such pair. Gates other than h, x, rz, cx, ccz and fences are left alone.
    public static func run(_ c: Circuit) -> Circuit? {
        let blocks = findBlocks(c)
        var replaced: [Int: [Gate]] = [:]   // first gate index of a rebuilt block → its new gates
        var removed = Set<Int>()
        for (a, blockA) in blocks.enumerated() {
            guard blockA.gates.allSatisfy({ !removed.contains($0) }) else { continue }
            let gatesA = local(c, blockA)
            guard let fA = CNOTDihedral(gatesA, wires: blockA.wires.count),
                  let fInverse = CNOTDihedral(DihedralResynthesis.inverse(gatesA), wires: blockA.wires.count) else { continue }
            let partner = blocks[(a + 1)...].first { b in
                b.first > blockA.last && b.target == blockA.target && b.wires == blockA.wires
                    && b.gates.allSatisfy { !removed.contains($0) }
                    && CNOTDihedral(local(c, b), wires: b.wires.count)?.sameUnitary(as: fInverse) == true
            }
            guard let blockB = partner, diagonalBetween(c, blockA, blockB),
                  let t = blockA.wires.firstIndex(of: blockA.target),
                  let relative = relativeForm(fA, target: t),
                  let built = build(relative), built.count < gatesA.count else { continue }
            let global = { (g: Gate) in Gate(g.kind, g.qubits.map { blockA.wires[$0] }, g.params) }
            replaced[blockA.first] = built.map(global)
            replaced[blockB.first] = DihedralResynthesis.inverse(built).map(global)
            removed.formUnion(blockA.gates)
            removed.formUnion(blockB.gates)
        }
        guard !replaced.isEmpty else { return nil }
        var out: [Gate] = []
        out.reserveCapacity(c.gates.count)
        for (i, g) in c.gates.enumerated() {
            if let new = replaced[i] { out += new }
            if !removed.contains(i) { out.append(g) }
        }
        return c.withGates(out)
    }

    /// Every block: for each two successive h on a wire t, the gates between them that touch t (ccz or
    /// rz only) and every gate from the first to the last of those on the ccz's wires. A block has at
    /// least two ccz: a pair of single Toffolis is `ToffoliPolarity.relativePairs`' job, which reaches
    /// the same 4 rotations and also picks the cz partner (this pass found nothing more on tof_n,
    /// barenco_tof_4, hwb6, grover_5, ham15-low, qcla_adder_10 or mod_mult_55, and took up to twice the time).
    static func findBlocks(_ c: Circuit) -> [Block] {
        // A block holds two ccz at least: most circuits have none, and are done in one pass.
        guard c.gates.count(where: { $0.kind == .ccz }) >= 2 else { return [] }
        // Each wire's gates (bare barriers on every wire), so a stretch between two h on a wire is a
        // slice of its list, not a scan of the whole circuit between them (O(gates × wires) at 1M gates).
        var onWire = [[Int]](repeating: [], count: c.qubitCount)
        for (i, g) in c.gates.enumerated() {
            if isBareBarrier(g) {
                for t in onWire.indices { onWire[t].append(i) }
            } else {
                for q in Set(g.qubits) { onWire[q].append(i) }
            }
        }
        var stretches: [(target: Int, onTarget: ArraySlice<Int>)] = []
        for t in onWire.indices {
            let hs = onWire[t].indices.filter { c.gates[onWire[t][$0]].kind == .h }
            for (open, close) in zip(hs, hs.dropFirst()) { stretches.append((t, onWire[t][(open + 1)..<close])) }
        }
        var blocks: [Block] = []
        for (t, onTarget) in stretches {
            guard let first = onTarget.first, let last = onTarget.last,
                  onTarget.allSatisfy({ [.ccz, .rz].contains(c.gates[$0].kind) }),
                  onTarget.count(where: { c.gates[$0].kind == .ccz }) >= 2 else { continue }
            let wires = Set(onTarget.flatMap { c.gates[$0].qubits })
            guard wires.count <= maxWires else { continue }
            let inside = (first...last).filter { i in
                isBareBarrier(c.gates[i]) || c.gates[i].qubits.contains { wires.contains($0) }
            }
            guard inside.allSatisfy({ i in
                let g = c.gates[i]
                return [.ccz, .cx, .rz, .x].contains(g.kind) && g.qubits.allSatisfy { wires.contains($0) }
            }) else { continue }
            blocks.append(Block(target: t, wires: wires.sorted(), gates: inside))
        }
        return blocks.sorted { $0.first < $1.first }
    }

    static func isBareBarrier(_ g: Gate) -> Bool { g.kind == .barrier && g.qubits.isEmpty }

    /// The block's gates on its local wires, each ccz written out exactly.
    static func local(_ c: Circuit, _ b: Block) -> [Gate] {
        var index: [Int: Int] = [:]
        for (k, w) in b.wires.enumerated() { index[w] = k }
        return b.gates.flatMap { i -> [Gate] in
            let g = c.gates[i]
            let q = g.qubits.map { index[$0] ?? -1 }
            return g.kind == .ccz ? Decompose.ccz(q[0], q[1], q[2]) : [Gate(g.kind, q, g.params)]
        }
    }

    /// Every gate strictly between the two blocks that touches the wires other than the target is
    /// diagonal there: rz, ccz, or a cx whose target is elsewhere.
    static func diagonalBetween(_ c: Circuit, _ a: Block, _ b: Block) -> Bool {
        let others = Set(a.wires).subtracting([a.target])
        return (a.last + 1..<b.first).allSatisfy { i in
            let g = c.gates[i]
            if isBareBarrier(g) { return false }
            guard g.qubits.contains(where: { others.contains($0) }) else { return true }
            switch g.kind {
            case .rz, .ccz: return true
            case .cx: return !others.contains(g.qubits[1])
            default: return false
            }
        }
    }

    /// The bit the block flips on the target in the h frame, per assignment of the other local wires
    /// (bit k of the index: wire k, the target's bit always 0); nil when a term on the target is not an
    /// exact multiple of π, or the block is not such a flip (a term difference other than 0 or π).
    static func flips(_ f: CNOTDihedral, target t: Int) -> [Bool]? {
        let n = f.outputs.count
        let tBit = UInt64(1) << UInt64(t)
        var withTarget: [(parity: UInt64, angle: Rational)] = []
        for (s, a) in f.terms where s & tBit != 0 {
            guard case .pi(let r) = a else { return nil }
            withTarget.append((s & ~tBit, r))
        }
        var out: [Bool] = []
        for x in UInt64(0)..<(UInt64(1) << UInt64(n)) where x & tBit == 0 {
            // The phase with the target at 1 minus at 0: Σ θ_s·(−1)^(s'·x), in units of π.
            var sum = Rational.zero
            for (p, r) in withTarget {
                guard let next = sum.adding((p & x).nonzeroBitCount % 2 == 0 ? r : r.negated) else { return nil }
                sum = next
            }
            let mod = sum.reducedModTwo
            guard mod.isZero || mod == .one else { return nil }
            out.append(mod == .one)
        }
        return out
    }

    /// The same map, and on the target's parities the Fourier expansion of π·f and nothing else; nil when
    /// the block is not a phase flip on the target or another wire's output depends on the target.
    static func relativeForm(_ f: CNOTDihedral, target t: Int) -> CNOTDihedral? {
        let n = f.outputs.count
        let tBit = UInt64(1) << UInt64(t)
        guard f.outputs.indices.allSatisfy({ $0 == t || f.outputs[$0] & tBit == 0 }),
              let bits = flips(f, target: t) else { return nil }
        let points = (UInt64(0)..<(UInt64(1) << UInt64(n))).filter { $0 & tBit == 0 }
        var relative = f
        relative.terms = [:]
        for s in points {
            // θ_s = π/2^(n−1) · Σ_x f(x)·(−1)^(s·x): the term's share of π·f.
            let coefficient = zip(points, bits).reduce(0) { sum, point in
                point.1 ? sum + ((s & point.0).nonzeroBitCount % 2 == 0 ? 1 : -1) : sum
            }
            let angle = Angle.piTimes(coefficient, over: points.count)
            if !angle.isZeroModTwoPi { relative.terms[s | tBit] = angle.normalized }
        }
        // The exact check that the two differ by a phase on the other wires only.
        guard relative.outputs == f.outputs, relative.flips == f.flips, flips(relative, target: t) == bits else { return nil }
        return relative
    }

    /// The smaller of the forward build and the inverse's build run backwards, checked exactly.
    static func build(_ f: CNOTDihedral) -> [Gate]? {
        let n = f.outputs.count
        var candidates: [[Gate]] = []
        if let forwards = ParitySynthesis.synthesize(f) {
            candidates.append(forwards)
            if let g = CNOTDihedral(DihedralResynthesis.inverse(forwards), wires: n), let backwards = ParitySynthesis.synthesize(g) {
                candidates.append(DihedralResynthesis.inverse(backwards))
            }
        }
        return candidates.filter { CNOTDihedral($0, wires: n) == f }.min { $0.count < $1.count }
    }
}
