/// Nam et al.'s Hadamard reduction: rewrite patterns that remove H gates, so that phase folding sees
/// longer {cx, x, rz} regions.
///   h·s·h → sdg·h·sdg                      (and h·sdg·h → s·h·s)
///   a block of cx gates with h around it → the block with every cx reversed (`cxBlock`; the single
///   cx with h on all four sides, h⊗h · cx(a,b) · h⊗h → cx(b,a), is the smallest case)
///   h(b)·s(b)·cx(a,b)·sdg(b)·h(b) → sdg(b)·cx(a,b)·s(b)   (and the mirror with sdg first)
public enum HadamardReduction {
    static let quarter = Angle.piTimes(1, over: 2)

    static func isRz(_ g: Gate, _ a: Angle) -> Bool { g.kind == .rz && g.params[0].equalsModTwoPi(a) }

    /// Returns the number of H gates removed.
    @discardableResult
    public static func run(_ dag: inout CircuitDAG, deadline: Deadline = .never) -> Int {
        var removed = 0
        var seen = [Bool](repeating: false, count: dag.nodes.count)
        for id in 0..<dag.nodes.count where dag.isAlive(id) {
            if id & 4095 == 0 && deadline.expired { break }
            let g = dag.gate(id)
            if g.kind == .cx {
                if !seen[id] { removed += cxBlock(&dag, id, seen: &seen) }
                if dag.isAlive(id) { removed += cxPatterns(&dag, id) }
            } else if g.kind == .h { removed += hsh(&dag, id) }
        }
        return removed
    }

    /// The cx gates connected to `id` through wires on which they are neighbours. When on every wire they
    /// touch they form one unbroken run, h on every wire before and after the block turns each cx around
    /// (h⊗h·cx(a,b)·h⊗h = cx(b,a), with h·h = I inserted between neighbours on a wire). The h already there
    /// are used, the missing ones inserted; done when that removes more h than it adds.
    /// Returns the number of h removed (net).
    static func cxBlock(_ dag: inout CircuitDAG, _ id: Int, seen: inout [Bool]) -> Int {
        var block = [id]
        seen[id] = true
        var i = 0
        while i < block.count {
            let n = block[i]
            i += 1
            for q in dag.gate(n).qubits {
                // Ids past `seen` are gates inserted during this sweep; they stay outside the block.
                for m in [dag.prev(n, on: q), dag.next(n, on: q)] where m >= 0 && m < seen.count && !seen[m] && dag.gate(m).kind == .cx {
                    seen[m] = true
                    block.append(m)
                }
            }
        }
        let members = Set(block)
        // Per wire: the gates just before and after its run (-1: the wire's end), and the run's last gate.
        var ends: [(q: Int, before: Int, last: Int, after: Int)] = []
        var onWire: [Int: Int] = [:]
        for n in block { for q in dag.gate(n).qubits { onWire[q, default: 0] += 1 } }
        for (q, count) in onWire.sorted(by: { $0.key < $1.key }) {
            var first = block.first { dag.gate($0).qubits.contains(q) }!
            while case let p = dag.prev(first, on: q), p >= 0, members.contains(p) { first = p }
            var last = first, length = 1
            while case let n = dag.next(last, on: q), n >= 0, members.contains(n) { last = n; length += 1 }
            guard length == count else { return 0 }   // the run is broken by another gate: h cannot pass it
            ends.append((q, dag.prev(first, on: q), last, dag.next(last, on: q)))
        }
        func isH(_ n: Int) -> Bool { n >= 0 && dag.gate(n).kind == .h }
        let present = ends.reduce(0) { $0 + (isH($1.before) ? 1 : 0) + (isH($1.after) ? 1 : 0) }
        let missing = 2 * ends.count - present
        guard present > missing else { return 0 }
        for e in ends {
            if isH(e.before) { dag.remove(e.before) } else { dag.insert(.h(e.q), after: [e.before]) }
            if isH(e.after) { dag.remove(e.after) } else { dag.insert(.h(e.q), after: [e.last]) }
        }
        for n in block { dag.reverseQubits(n) }
        return present - missing
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
        let pb = dag.prev(id, on: b), nb = dag.next(id, on: b)
        func isH(_ n: Int) -> Bool { n >= 0 && dag.gate(n).kind == .h }
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
