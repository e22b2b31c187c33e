/// A named register as declared in OpenQASM, mapped onto a contiguous range of flat indices.
public struct Register: Hashable, Sendable {
    public var name: String
    public var size: Int
    public var offset: Int
    public init(name: String, size: Int, offset: Int) { self.name = name; self.size = size; self.offset = offset }
}

/// A circuit as an ordered gate list over flat qubit indices (registers kept for printing).
public struct Circuit: Hashable, Sendable {
    public var qregs: [Register]
    public var cregs: [Register]
    public var gates: [Gate]

    public var qubitCount: Int { qregs.reduce(0) { $0 + $1.size } }
    public var clbitCount: Int { cregs.reduce(0) { $0 + $1.size } }

    public init(qregs: [Register], cregs: [Register] = [], gates: [Gate] = []) {
        self.qregs = qregs
        self.cregs = cregs
        self.gates = gates
    }

    /// A circuit on one register `q` of `n` qubits.
    public init(qubits n: Int, gates: [Gate] = []) {
        self.init(qregs: [Register(name: "q", size: n, offset: 0)], gates: gates)
    }

    public func withGates(_ gates: [Gate]) -> Circuit {
        var c = self
        c.gates = gates
        return c
    }
}

/// What an optimizer minimises.
public enum CostKind: String, Sendable, CaseIterable {
    case gates, cx, depth
}

extension Circuit {
    /// Gate count with `ccz` counted as 13 and `ccx` as 15 (their Nam decompositions), fences not counted.
    public var gateCount: Int { gates.reduce(0) { $0 + $1.kind.gateCountWeight } }

    /// Two-qubit gate count in cx terms (ccz and ccx count 6).
    public var cxCount: Int { gates.reduce(0) { $0 + $1.kind.cxCountWeight } }

    /// Longest path in gates (fences excluded from the count but they synchronise their qubits).
    public var depth: Int {
        var level = [Int](repeating: 0, count: max(qubitCount, 1))
        var best = 0
        for g in gates {
            let qs = g.kind == .barrier && g.qubits.isEmpty ? Array(0..<qubitCount) : g.qubits
            let start = qs.map { level[$0] }.max() ?? 0
            let end = g.kind.isFence ? start : start + 1
            for q in qs { level[q] = end }
            best = max(best, end)
        }
        return best
    }

    public func cost(_ kind: CostKind) -> Int {
        switch kind {
        case .gates: return gateCount
        case .cx: return cxCount
        case .depth: return depth
        }
    }

    /// Number of gates of each kind (each gate counted once, as written).
    public var countsByKind: [String: Int] {
        var out: [String: Int] = [:]
        for g in gates { out[g.kind.name, default: 0] += 1 }
        return out
    }
}

extension GateKind {
    /// This gate's part of `Circuit.gateCount`.
    public var gateCountWeight: Int {
        switch self {
        case .ccz: return 13
        case .ccx: return 15
        case .barrier, .measure: return 0
        default: return 1
        }
    }

    /// This gate's part of `Circuit.cxCount`.
    public var cxCountWeight: Int {
        switch self {
        case .cx, .cz: return 1
        case .swap: return 3
        case .ccz, .ccx: return 6
        default: return 0
        }
    }
}
