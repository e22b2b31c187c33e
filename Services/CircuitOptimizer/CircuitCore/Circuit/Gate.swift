/// The gates this library knows: the qelib1 set plus the fences `barrier` and `measure`.
public enum GateKind: String, CaseIterable, Hashable, Sendable, Comparable {
    case h, x, y, z, s, sdg, t, tdg, sx, sxdg, id
    case rz, rx, ry, u1, u2, u3
    case cx, cz, swap, ccx, ccz
    case barrier, measure

    public var name: String { rawValue }

    /// Number of qubits; `barrier` takes any number (0 here).
    public var qubitCount: Int {
        switch self {
        case .cx, .cz, .swap: return 2
        case .ccx, .ccz: return 3
        case .barrier: return 0
        default: return 1
        }
    }

    public var parameterCount: Int {
        switch self {
        case .rz, .rx, .ry, .u1: return 1
        case .u2: return 2
        case .u3: return 3
        default: return 0
        }
    }

    /// Fences keep their place: nothing is moved or merged across them.
    public var isFence: Bool { self == .barrier || self == .measure }

    /// Gates diagonal in the computational basis (they commute with each other and with cx controls).
    public var isDiagonal: Bool {
        switch self {
        case .z, .s, .sdg, .t, .tdg, .rz, .u1, .cz, .ccz, .id: return true
        default: return false
        }
    }

    public static func < (a: GateKind, b: GateKind) -> Bool { a.rawValue < b.rawValue }

    static let byName: [String: GateKind] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.rawValue, $0) })
    public init?(name: String) {
        guard let k = GateKind.byName[name] else { return nil }
        self = k
    }
}

/// One gate application. `cbits` is used only by `measure` (the classical bit written).
public struct Gate: Hashable, Sendable {
    public var kind: GateKind
    public var qubits: [Int]
    public var params: [Angle]
    public var cbits: [Int]

    public init(_ kind: GateKind, _ qubits: [Int], _ params: [Angle] = [], cbits: [Int] = []) {
        self.kind = kind
        self.qubits = qubits
        self.params = params
        self.cbits = cbits
    }

    public static func h(_ q: Int) -> Gate { Gate(.h, [q]) }
    public static func x(_ q: Int) -> Gate { Gate(.x, [q]) }
    public static func rz(_ q: Int, _ a: Angle) -> Gate { Gate(.rz, [q], [a]) }
    public static func cx(_ c: Int, _ t: Int) -> Gate { Gate(.cx, [c, t]) }
}
