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
        var segments: [[Int32]: [Segment]] = [:]
        let terms = collect(dag, segments: &segments)
        var removed = 0
        var kept: [(node: Int, key: [Int32])] = []
        for (key, term) in terms {
            if term.total.isZeroModTwoPi {
                dag.remove(term.first)
                for o in term.others { dag.remove(o) }
                removed += 1 + term.others.count
            } else {
                if !term.others.isEmpty {
                    dag.setParams(term.first, [term.firstFlipped ? -term.total : term.total])
                    for o in term.others { dag.remove(o) }
                    removed += term.others.count
                }
                kept.append((term.first, key))
            }
        }
        // Floating rotations: a rotation may sit anywhere its parity is on a wire. One that keeps a cx
        // pair apart (cx(c,q) … rz(q) … cx(c,q), with only gates the pair commutes with between them)
        // moves to another place with the same parity outside that stretch, so that the cancellation
        // passes can remove the pair.
        for (node, key) in kept {
            guard let stretch = blockedPair(dag, node) else { continue }
            let q = dag.gate(node).qubits[0]
            let own = segmentStart(dag, node)
            guard let target = segments[key]?.first(where: { s in
                !(s.wire == q && (s.after == own || stretch.contains(s.after))) && !insertionBlocks(dag, s)
            }), let ownFlip = segments[key]?.first(where: { $0.wire == q && $0.after == own })?.flipped else { continue }
            let angle = dag.gate(node).params[0]
            dag.remove(node)
            dag.insert(.rz(target.wire, ownFlip == target.flipped ? angle : -angle), after: [target.after])
        }
        return removed
    }

    /// A stretch of one wire on which the parity does not change: it begins after node `after` (-1: the wire's start).
    struct Segment {
        var wire: Int
        var after: Int
        var flipped: Bool
    }

    static func isPair(_ a: Gate, _ b: Gate) -> Bool { a.kind == .cx && b.kind == .cx && a.qubits == b.qubits }

    /// The rotation `node` on q lies between cx(c,q) and cx(c,q) that would cancel but for rotations on q:
    /// between them q carries only x, rz and cx onto q from other controls, and c only rz and cx from c
    /// (all commute with the pair). Returns the nodes on q from the first cx up to the second (the
    /// stretch whose parity changes when the pair goes), or nil.
    static func blockedPair(_ dag: CircuitDAG, _ node: Int) -> [Int]? {
        let q = dag.gate(node).qubits[0]
        func commutesOnTarget(_ g: Gate) -> Bool { g.kind == .x || g.kind == .rz || (g.kind == .cx && g.qubits[1] == q) }
        // Each cx onto q before the rotation (within the commuting stretch) may be the first of the pair.
        var first = dag.prev(node, on: q)
        var looked = 0
        while first >= 0 && looked < 8 && commutesOnTarget(dag.gate(first)) {
            looked += 1
            defer { first = dag.prev(first, on: q) }
            let g = dag.gate(first)
            guard g.kind == .cx else { continue }
            let c = g.qubits[0]
            func isPartner(_ n: Int) -> Bool { let h = dag.gate(n); return h.kind == .cx && h.qubits == [c, q] }
            // The partner: the next cx(c,q) after the rotation, through gates that commute on q.
            var second = dag.next(node, on: q)
            while second >= 0 && !isPartner(second) && commutesOnTarget(dag.gate(second)) { second = dag.next(second, on: q) }
            guard second >= 0 && isPartner(second) else { continue }
            // No cx(c,q) between first and the rotation either (else that one is the first).
            var stretch: [Int] = []
            var n = first
            var clean = true
            while n != second {
                if n != first && isPartner(n) { clean = false; break }
                stretch.append(n)
                n = dag.next(n, on: q)
            }
            guard clean else { continue }
            // On the control: only rz and cx from c onto other wires between the two.
            var a = dag.next(first, on: c)
            while a >= 0 && a != second {
                let h = dag.gate(a)
                guard h.kind == .rz || (h.kind == .cx && h.qubits[0] == c && h.qubits[1] != q) else { a = -1; break }
                a = dag.next(a, on: c)
            }
            if a == second { return stretch }
        }
        return nil
    }

    static func insertionBlocks(_ dag: CircuitDAG, _ s: Segment) -> Bool {
        guard s.after >= 0 else { return false }
        guard dag.isAlive(s.after) else { return true }
        let n = dag.next(s.after, on: s.wire)
        return n >= 0 && isPair(dag.gate(s.after), dag.gate(n))
    }

    /// The node after which the rotation's segment begins (walking back over rotations).
    static func segmentStart(_ dag: CircuitDAG, _ node: Int) -> Int {
        let q = dag.gate(node).qubits[0]
        var p = dag.prev(node, on: q)
        while p >= 0 && dag.gate(p).kind == .rz { p = dag.prev(p, on: q) }
        return p
    }

    static func collect(_ dag: CircuitDAG) -> [[Int32]: Term] {
        var unused: [[Int32]: [Segment]]? = nil
        return collect(dag, segments: &unused)
    }

    static func collect(_ dag: CircuitDAG, segments: inout [[Int32]: [Segment]]) -> [[Int32]: Term] {
        var s: [[Int32]: [Segment]]? = [:]
        let t = collect(dag, segments: &s)
        segments = s ?? [:]
        return t
    }

    /// Walks the DAG in topological order tracking each wire's parity; records every rotation's term and,
    /// when `segments` is given, every wire segment on which each parity appears.
    static func collect(_ dag: CircuitDAG, segments: inout [[Int32]: [Segment]]?) -> [[Int32]: Term] {
        if segments != nil {
            for q in 0..<dag.qubitCount { segments?[[Int32(q)], default: []].append(Segment(wire: q, after: -1, flipped: false)) }
        }
        var terms: [[Int32]: Term] = [:]
        var marks: [[Int32]: [Segment]]? = segments
        walk(dag, rotation: { id, w, angle in
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
        }, segment: segments == nil ? nil : { q, id, w in
            marks?[w.variables, default: []].append(Segment(wire: q, after: id, flipped: w.flipped))
        })
        segments = marks
        return terms
    }

    /// The phase-folding walk: in topological order, calls `rotation` for every rz with its wire's parity
    /// and its angle on that parity (negated on a flipped wire), and `segment` after every gate on each of
    /// its wires with the parity the wire holds from there on.
    static func walk(_ dag: CircuitDAG, rotation: (Int, Parity, Angle) -> Void, segment: ((Int, Int, Parity) -> Void)? = nil) {
        var wires = (0..<dag.qubitCount).map { Parity(variables: [Int32($0)], flipped: false) }
        var fresh = Int32(dag.qubitCount)
        for id in dag.topologicalOrder() {
            let g = dag.nodes[id].gate
            switch g.kind {
            case .x:
                wires[g.qubits[0]].flipped.toggle()
                segment?(g.qubits[0], id, wires[g.qubits[0]])
            case .cx:
                wires[g.qubits[1]].add(wires[g.qubits[0]])
                segment?(g.qubits[1], id, wires[g.qubits[1]])
                segment?(g.qubits[0], id, wires[g.qubits[0]])
            case .rz:
                let w = wires[g.qubits[0]]
                rotation(id, w, w.flipped ? -g.params[0] : g.params[0])
            default:
                for q in g.qubits {
                    wires[q] = Parity(variables: [fresh], flipped: false)
                    fresh += 1
                    segment?(q, id, wires[q])
                }
            }
        }
    }
}
