/// Nam et al.'s gate cancellation: move a gate forward through gates it commutes with until it meets
/// its inverse (or a rotation it merges with).
public enum Cancellation {
    /// h·h, x·x (through cx targets and rz, which flip sign), and rz·rz merged through cx controls and x.
    /// Returns the number of gates removed.
    @discardableResult
    public static func singleQubit(_ dag: inout CircuitDAG) -> Int {
        var removed = 0
        for id in 0..<dag.nodes.count where dag.isAlive(id) {
            let g = dag.gate(id)
            guard g.kind == .h || g.kind == .x || g.kind == .rz else { continue }
            let q = g.qubits[0]
            switch g.kind {
            case .h:
                let m = dag.next(id, on: q)
                if m >= 0 && dag.gate(m).kind == .h { dag.remove(id); dag.remove(m); removed += 2 }
            case .x:
                var passed: [Int] = []
                var cur = dag.next(id, on: q)
                while cur >= 0 {
                    let c = dag.gate(cur)
                    if c.kind == .x {
                        for r in passed { dag.setParams(r, [-dag.gate(r).params[0]]) }
                        dag.remove(id); dag.remove(cur); removed += 2
                        break
                    } else if c.kind == .rz {
                        passed.append(cur)
                    } else if !(c.kind == .cx && c.qubits[1] == q) {
                        break
                    }
                    cur = dag.next(cur, on: q)
                }
            default:
                var angle = g.params[0]
                var sign = 1
                var cur = dag.next(id, on: q)
                var merged = false
                while cur >= 0 {
                    let c = dag.gate(cur)
                    let following = dag.next(cur, on: q)
                    if c.kind == .rz {
                        angle = angle + c.params[0].scaled(by: sign)
                        dag.remove(cur); removed += 1
                        merged = true
                    } else if c.kind == .x {
                        sign = -sign
                    } else if !(c.kind == .cx && c.qubits[0] == q) {
                        break
                    }
                    cur = following
                }
                if angle.isZeroModTwoPi { dag.remove(id); removed += 1 } else if merged { dag.setParams(id, [angle]) }
            }
        }
        return removed
    }

    /// cx·cx on the same control and target, through gates that commute with the control (rz, cx sharing
    /// the control) on one wire and with the target (x, cx sharing the target) on the other.
    @discardableResult
    public static func twoQubit(_ dag: inout CircuitDAG) -> Int {
        var removed = 0
        for id in 0..<dag.nodes.count where dag.isAlive(id) && dag.gate(id).kind == .cx {
            let (c, t) = (dag.gate(id).qubits[0], dag.gate(id).qubits[1])
            func isPartner(_ n: Int) -> Bool { let g = dag.gate(n); return g.kind == .cx && g.qubits[0] == c && g.qubits[1] == t }
            var a = dag.next(id, on: c)
            while a >= 0 && !isPartner(a) {
                let g = dag.gate(a)
                guard g.kind == .rz || (g.kind == .cx && g.qubits[0] == c && g.qubits[1] != t) else { a = -1; break }
                a = dag.next(a, on: c)
            }
            guard a >= 0 else { continue }
            var b = dag.next(id, on: t)
            while b >= 0 && b != a {
                let g = dag.gate(b)
                guard g.kind == .x || (g.kind == .cx && g.qubits[1] == t && g.qubits[0] != c) else { b = -1; break }
                b = dag.next(b, on: t)
            }
            if b == a {
                dag.remove(id); dag.remove(a); removed += 2
            }
        }
        return removed
    }
}
