/// A gate of a rule pattern: qubits are pattern qubits (0..<q); an rz takes the sum of the symbolic
/// parameters listed in `params` (one for a plain rz(p0), two for rz(p0+p1)).
public struct PatternGate: Hashable, Sendable {
    public var kind: GateKind
    public var qubits: [Int]
    public var params: [Int]   // sorted; empty when the gate has no parameter

    public init(_ kind: GateKind, _ qubits: [Int], params: [Int] = []) {
        self.kind = kind
        self.qubits = qubits
        self.params = params.sorted()
    }

    public init(_ kind: GateKind, _ qubits: [Int], param: Int) {
        self.init(kind, qubits, params: [param])
    }

    /// `h 0`, `cx 0 1`, `rz 2 p1`, `rz 0 p0+p1`.
    public var text: String {
        ([kind.name] + qubits.map(String.init) + (params.isEmpty ? [] : [params.map { "p\($0)" }.joined(separator: "+")])).joined(separator: " ")
    }

    public init?(text: Substring) {
        let parts = text.split(separator: " ")
        guard let first = parts.first, let k = GateKind(name: String(first)), !k.isFence else { return nil }
        var qs: [Int] = []
        var ps: [Int] = []
        for part in parts.dropFirst() {
            if part.hasPrefix("p") {
                for term in part.split(separator: "+") {
                    guard term.hasPrefix("p"), let v = Int(term.dropFirst()), v >= 0, v < 16 else { return nil }
                    ps.append(v)
                }
            } else {
                guard let v = Int(part), v >= 0, v < 16 else { return nil }
                qs.append(v)
            }
        }
        guard qs.count == k.qubitCount, (k.parameterCount == 1) == !ps.isEmpty, Set(qs).count == qs.count,
              Set(ps).count == ps.count, k.parameterCount <= 1 else { return nil }
        self.init(k, qs, params: ps)
    }
}

/// A small circuit over symbolic parameters: one side of a rewrite rule.
public struct RuleCircuit: Hashable, Sendable {
    public var gates: [PatternGate]
    public init(_ gates: [PatternGate]) { self.gates = gates }

    public var count: Int { gates.count }
    public var cxCount: Int { gates.filter { $0.kind == .cx }.count }
    public var usedQubits: Set<Int> { Set(gates.flatMap(\.qubits)) }
    public var usedParams: Set<Int> { Set(gates.flatMap(\.params)) }

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
        RuleCircuit(gates.map { PatternGate($0.kind, $0.qubits.map { qubits[$0] }, params: $0.params.map { params[$0] }) })
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
        gates.map { g in
            Gate(g.kind, g.qubits.map { qubits[$0] }, g.params.isEmpty ? [] : [g.params.dropFirst().reduce(params[g.params[0]]) { $0 + params[$1] }])
        }
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
