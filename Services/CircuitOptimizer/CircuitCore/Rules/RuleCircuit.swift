/// A gate of a rule pattern: qubits are pattern qubits (0..<q), an rz takes symbolic parameter `param`.
public struct PatternGate: Hashable, Sendable {
    public var kind: GateKind
    public var qubits: [Int]
    public var param: Int   // -1 when the gate has no parameter

    public init(_ kind: GateKind, _ qubits: [Int], param: Int = -1) {
        self.kind = kind
        self.qubits = qubits
        self.param = param
    }

    /// `h 0`, `cx 0 1`, `rz 2 p1`.
    public var text: String {
        ([kind.name] + qubits.map(String.init) + (param >= 0 ? ["p\(param)"] : [])).joined(separator: " ")
    }

    public init?(text: Substring) {
        let parts = text.split(separator: " ")
        guard let first = parts.first, let k = GateKind(name: String(first)), !k.isFence else { return nil }
        var qs: [Int] = []
        var p = -1
        for part in parts.dropFirst() {
            if part.hasPrefix("p") { guard let v = Int(part.dropFirst()), v >= 0 else { return nil }; p = v } else {
                guard let v = Int(part), v >= 0, v < 64 else { return nil }
                qs.append(v)
            }
        }
        guard qs.count == k.qubitCount, (k.parameterCount == 1) == (p >= 0), Set(qs).count == qs.count else { return nil }
        self.init(k, qs, param: p)
    }
}

/// A small circuit over symbolic parameters: one side of a rewrite rule.
public struct RuleCircuit: Hashable, Sendable {
    public var gates: [PatternGate]
    public init(_ gates: [PatternGate]) { self.gates = gates }

    public var count: Int { gates.count }
    public var cxCount: Int { gates.filter { $0.kind == .cx }.count }
    public var usedQubits: Set<Int> { Set(gates.flatMap(\.qubits)) }
    public var usedParams: Set<Int> { Set(gates.map(\.param).filter { $0 >= 0 }) }

    public var text: String { gates.isEmpty ? "." : gates.map(\.text).joined(separator: "; ") }

    public init?(text: Substring) {
        if text == "." { self.init([]); return }
        var gs: [PatternGate] = []
        for part in text.split(separator: ";") {
            guard let g = PatternGate(text: part.drop(while: { $0 == " " })) else { return nil }
            gs.append(g)
        }
        self.init(gs)
    }

    /// Gates with nothing before them on any of their wires.
    var starts: Set<PatternGate> {
        var touched = Set<Int>()
        var out = Set<PatternGate>()
        for g in gates {
            if touched.isDisjoint(with: g.qubits) { out.insert(g) }
            touched.formUnion(g.qubits)
        }
        return out
    }

    /// Gates with nothing after them on any of their wires.
    var ends: Set<PatternGate> { RuleCircuit(gates.reversed()).starts }

    /// The same circuit with qubits and parameters renamed.
    func renamed(qubits: [Int], params: [Int]) -> RuleCircuit {
        RuleCircuit(gates.map { PatternGate($0.kind, $0.qubits.map { qubits[$0] }, param: $0.param >= 0 ? params[$0.param] : -1) })
    }

    /// Canonical order: every gate at its earliest layer, ties broken by first qubit.
    var canonical: RuleCircuit {
        var level = [Int](repeating: 0, count: 64)
        let layered = gates.map { g -> (Int, PatternGate) in
            let l = g.qubits.map { level[$0] }.max() ?? 0
            for q in g.qubits { level[q] = l + 1 }
            return (l, g)
        }
        return RuleCircuit(layered.sorted { a, b in
            a.0 != b.0 ? a.0 < b.0 : a.1.qubits[0] < b.1.qubits[0]
        }.map(\.1))
    }

    /// Concrete gates for a binding of qubits and parameter values.
    func instantiate(qubits: [Int], params: [Angle]) -> [Gate] {
        gates.map { g in Gate(g.kind, g.qubits.map { qubits[$0] }, g.param >= 0 ? [params[g.param]] : []) }
    }
}

/// A verified rewrite: `source` and `target` are equal up to global phase for every parameter value.
public struct Rule: Hashable, Sendable {
    public var source: RuleCircuit
    public var target: RuleCircuit
    public init(source: RuleCircuit, target: RuleCircuit) { self.source = source; self.target = target }

    /// Gates saved by applying it (negative when it grows the circuit).
    public var gain: Int { source.count - target.count }
}
