/// Pair terms of the phase polynomial built together through shared difference wires.
///
/// A rotation on the parity x_a ⊕ x_b of two input wires costs a cx·rz·cx gadget (2 cx) where it sits.
/// When many such pairs join two sets of wires (gf2^n_mult: every a_i with every b_j), one network at the
/// circuit's start builds them all for less: "pointer" wires p_1, p_2, … are taken one at a time; after
/// p_{k−1} ← p_{k−1} ⊕ p_k (1 cx) a single cx from p_{k−1} moves every target a from a ⊕ p_{k−1} to
/// a ⊕ p_k, where its rotation goes. Complete bipartite pairs on n + n wires: n² + 3n − 2 cx instead of 2n².
///
/// Sound by phase folding: a rotation on a parity may sit anywhere that parity is on a wire, and at the
/// start every wire holds its own input. The network's function is checked exactly (`CNOTDihedral`: the
/// identity map and exactly the moved terms) before it is used.
public enum PairNetwork {
    struct Pair: Equatable {
        var u: Int, v: Int
        var angle: Angle
    }

    /// The circuit with its input-pair rotations moved into one network at the start, or nil when no
    /// network is predicted to be smaller than the gadgets, or the circuit has gates outside {h, x, rz, cx}
    /// (fences keep their place; nothing is moved across them).
    public static func run(_ c: Circuit) -> Circuit? {
        guard c.gates.allSatisfy({ [.h, .x, .rz, .cx].contains($0.kind) }) else { return nil }
        let dag = CircuitDAG(c)
        let n = c.qubitCount
        // Rotations whose parity is exactly two input variables (variables below n are the inputs), each
        // in a cx·rz·cx gadget, so that its two cx cancel once it has moved: the saving is then certain,
        // and rotations already in a network are not moved again.
        var found: [Int: Pair] = [:]
        RotationMerging.walk(dag, rotation: { id, parity, angle in
            let vs = parity.variables
            guard vs.count == 2, vs[1] < Int32(n), isGadget(dag, id) else { return }
            found[id] = Pair(u: Int(vs[0]), v: Int(vs[1]), angle: angle)
        })
        // Several rotations on one pair (not merged yet) become one term.
        var byPair: [[Int]: (angle: Angle, ids: [Int])] = [:]
        for (id, p) in found.sorted(by: { $0.key < $1.key }) {
            let e = byPair[[p.u, p.v]] ?? (.zero, [])
            byPair[[p.u, p.v]] = (e.angle + p.angle, e.ids + [id])
        }
        let pairs = byPair.sorted { $0.key.lexicographicallyPrecedes($1.key) }
            .compactMap { k, e -> Pair? in e.angle.isZeroModTwoPi ? nil : Pair(u: k[0], v: k[1], angle: e.angle.normalized) }
        guard let plan = Plan.best(pairs, wires: n) else { return nil }
        let network = plan.gates()
        guard let f = CNOTDihedral(network, wires: n), f == expected(plan.pairs, wires: n) else { return nil }
        let moved = Set(plan.pairs.map { [$0.u, $0.v] })
        let removed = Set(moved.flatMap { byPair[$0]?.ids ?? [] })
        // Pairs whose rotations sum to zero stay where they are (rotation merging removes them).
        let rest = c.gates.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        return c.withGates(network + rest)
    }

    /// The rotation sits between two equal cx gates that target its wire.
    static func isGadget(_ dag: CircuitDAG, _ id: Int) -> Bool {
        let q = dag.gate(id).qubits[0]
        let before = dag.prev(id, on: q), after = dag.next(id, on: q)
        guard before >= 0, after >= 0 else { return false }
        let g = dag.gate(before)
        return g.kind == .cx && g.qubits[1] == q && dag.gate(after) == g
    }

    /// The function the network must compute: the identity on the wires and each pair's term.
    static func expected(_ pairs: [Pair], wires n: Int) -> CNOTDihedral? {
        var gates: [Gate] = []
        for p in pairs { gates += [.cx(p.u, p.v), .rz(p.v, p.angle), .cx(p.u, p.v)] }
        return CNOTDihedral(gates, wires: n)
    }

    /// Which pairs go through the pointers, and in what order.
    struct Plan {
        var pointers: [Int]
        var pairs: [Pair]

        /// Each target's partners: pointer step → angle, and the first and last step it spans.
        var targets: [Int: (angles: [Int: Angle], first: Int, last: Int)] {
            let position = Dictionary(uniqueKeysWithValues: pointers.enumerated().map { ($1, $0) })
            var out: [Int: (angles: [Int: Angle], first: Int, last: Int)] = [:]
            for p in pairs {
                let (t, step) = if let k = position[p.u] { (p.v, k) } else { (p.u, position[p.v] ?? 0) }
                var e = out[t] ?? ([:], step, step)
                e.angles[step] = p.angle
                (e.first, e.last) = (min(e.first, step), max(e.last, step))
                out[t] = e
            }
            return out
        }

        /// cx count of the network: each target 2 + (steps it spans), the pointer chain 2·(m − 1).
        var cxCount: Int {
            targets.values.reduce(0) { $0 + 2 + $1.last - $1.first } + 2 * (pointers.count - 1)
        }

        /// The plan with the fewest cx among both sides of a greedy bipartition as pointers, if it beats
        /// 2 cx per pair.
        static func best(_ pairs: [Pair], wires n: Int) -> Plan? {
            guard pairs.count >= 3 else { return nil }
            let side = bipartition(pairs, wires: n)
            let cross = pairs.filter { side[$0.u] != side[$0.v] }
            var plans: [Plan] = []
            for s in [false, true] {
                // Pointers in order of their first partner, so that each target's partners are close together.
                var firstPartner: [Int: Int] = [:]
                for p in cross {
                    let (q, t) = side[p.u] == s ? (p.u, p.v) : (p.v, p.u)
                    firstPartner[q] = min(firstPartner[q] ?? t, t)
                }
                let order = firstPartner.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key)
                if !order.isEmpty { plans.append(Plan(pointers: order, pairs: cross)) }
            }
            guard let plan = plans.min(by: { $0.cxCount < $1.cxCount }), plan.cxCount < 2 * plan.pairs.count else { return nil }
            return plan
        }

        /// Two sides with as many pairs across as a greedy pass and single-vertex moves find.
        static func bipartition(_ pairs: [Pair], wires n: Int) -> [Bool] {
            var neighbours = [[Int]](repeating: [], count: n)
            for p in pairs { neighbours[p.u].append(p.v); neighbours[p.v].append(p.u) }
            var side = [Bool](repeating: false, count: n)
            var placed = [Bool](repeating: false, count: n)
            for v in (0..<n).sorted(by: { (neighbours[$0].count, $1) > (neighbours[$1].count, $0) }) {
                let onFalse = neighbours[v].filter { placed[$0] && !side[$0] }.count
                let onTrue = neighbours[v].filter { placed[$0] && side[$0] }.count
                side[v] = onFalse > onTrue
                placed[v] = true
            }
            var improved = true
            while improved {
                improved = false
                for v in 0..<n {
                    let same = neighbours[v].filter { side[$0] == side[v] }.count
                    if 2 * same > neighbours[v].count { side[v].toggle(); improved = true }
                }
            }
            return side
        }

        /// The network: step k brings pointer k in (p_{k−1} ← p_{k−1} ⊕ p_k), moves every target whose
        /// partners span step k on to a ⊕ p_k and places its rotation there; then the chain is undone.
        func gates() -> [Gate] {
            let spans = targets.sorted { $0.key < $1.key }
            var out: [Gate] = []
            for k in pointers.indices {
                if k > 0 { out.append(.cx(pointers[k], pointers[k - 1])) }
                for (t, e) in spans where e.first <= k && k <= e.last {
                    // Wire p_k is still its own input at step k; wire p_{k−1} holds p_{k−1} ⊕ p_k.
                    out.append(.cx(k == e.first ? pointers[k] : pointers[k - 1], t))
                    if let angle = e.angles[k] { out.append(.rz(t, angle)) }
                    if k == e.last { out.append(.cx(pointers[k], t)) }
                }
            }
            for k in pointers.indices.dropFirst().reversed() { out.append(.cx(pointers[k], pointers[k - 1])) }
            return out
        }
    }
}
