/// Nam et al.'s Hadamard reduction: rewrite patterns that remove H gates, so that phase folding sees
/// longer {cx, x, rz} regions.
///   h·s·h → sdg·h·sdg                      (and h·sdg·h → s·h·s)
///   h⊗h · cx(a,b) · h⊗h → cx(b,a)
///   h(b)·s(b)·cx(a,b)·sdg(b)·h(b) → sdg(b)·cx(a,b)·s(b)   (and the mirror with sdg first)
public enum HadamardReduction {
    static let quarter = Angle.piTimes(1, over: 2)

    static func isRz(_ g: Gate, _ a: Angle) -> Bool { g.kind == .rz && g.params[0].equalsModTwoPi(a) }

    /// Returns the number of H gates removed.
    @discardableResult
    public static func run(_ dag: inout CircuitDAG) -> Int {
        var removed = 0
        for id in 0..<dag.nodes.count where dag.isAlive(id) {
            let g = dag.gate(id)
            if g.kind == .cx { removed += cxPatterns(&dag, id) } else if g.kind == .h { removed += hsh(&dag, id) }
        }
        return removed
    }

    private static func hsh(_ dag: inout CircuitDAG, _ id: Int) -> Int {
        let q = dag.gate(id).qubits[0]
        let s = dag.next(id, on: q)
        guard s >= 0 else { return 0 }
        let sg = dag.gate(s)
        guard isRz(sg, quarter) || isRz(sg, -quarter) else { return 0 }
        let h2 = dag.next(s, on: q)
        guard h2 >= 0, dag.gate(h2).kind == .h else { return 0 }
        let inv = -sg.params[0]
        dag.replace([id, s, h2], with: [.rz(q, inv), .h(q), .rz(q, inv)])
        return 1
    }

    private static func cxPatterns(_ dag: inout CircuitDAG, _ id: Int) -> Int {
        let (a, b) = (dag.gate(id).qubits[0], dag.gate(id).qubits[1])
        let pa = dag.prev(id, on: a), pb = dag.prev(id, on: b), na = dag.next(id, on: a), nb = dag.next(id, on: b)
        func isH(_ n: Int) -> Bool { n >= 0 && dag.gate(n).kind == .h }
        if isH(pa) && isH(pb) && isH(na) && isH(nb) {
            for n in [pa, pb, na, nb] { dag.remove(n) }
            dag.reverseQubits(id)
            return 4
        }
        // h s · cx · sdg h on the target.
        guard pb >= 0, nb >= 0 else { return 0 }
        let s1 = dag.gate(pb), s2 = dag.gate(nb)
        guard s1.kind == .rz, s2.kind == .rz, s1.params[0].equalsModTwoPi(-s2.params[0]),
              isRz(s1, quarter) || isRz(s1, -quarter) else { return 0 }
        let h1 = dag.prev(pb, on: b), h2 = dag.next(nb, on: b)
        guard isH(h1), isH(h2) else { return 0 }
        dag.replace([h1, pb, id, nb, h2], with: [.rz(b, s2.params[0]), .cx(a, b), .rz(b, s1.params[0])])
        return 2
    }
}
