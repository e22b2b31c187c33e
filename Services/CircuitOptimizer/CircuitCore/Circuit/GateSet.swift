/// The sign pattern of a ccz decomposition: `.positive` uses t on the three inputs, `.negative` tdg.
/// Both are exactly ccz (ccz is its own inverse); which one merges better depends on the neighbours.
public enum Polarity: Sendable, Hashable {
    case positive, negative
    public var flipped: Polarity { self == .positive ? .negative : .positive }
}

/// Target gate sets for output, each reached exactly from the Nam set {h, x, rz, cx}.
public enum GateSet: String, CaseIterable, Sendable {
    case nam
    case ibm             // rz, sx, x, cx
    case ibmU = "ibm-u"  // u1, u2, u3, cx
    case cliffordT = "clifford-t"
    case rigetti         // rx, rz, cz

    public var kinds: Set<GateKind> {
        switch self {
        case .nam: return [.h, .x, .rz, .cx]
        case .ibm: return [.rz, .sx, .x, .cx]
        case .ibmU: return [.u1, .u2, .u3, .cx]
        case .cliffordT: return [.h, .s, .sdg, .t, .tdg, .x, .cx]
        case .rigetti: return [.rx, .rz, .cz]
        }
    }
}

public struct GateSetError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

public enum Decompose {
    /// ccz as 6 cx + 7 rz(±π/4). `reversed` gives the mirror image, also exactly ccz (it is the adjoint of
    /// the other polarity, and ccz is its own inverse); it lets the cx of a compute/uncompute pair meet.
    public static func ccz(_ a: Int, _ b: Int, _ c: Int, _ polarity: Polarity = .positive, reversed: Bool = false) -> [Gate] {
        let s = polarity == .positive ? 1 : -1
        let t = Angle.piTimes(s, over: 4), td = Angle.piTimes(-s, over: 4)
        let gates: [Gate] = [.cx(b, c), .rz(c, td), .cx(a, c), .rz(c, t), .cx(b, c), .rz(c, td), .cx(a, c),
                             .rz(b, t), .rz(c, t), .cx(a, b), .rz(a, t), .rz(b, td), .cx(a, b)]
        return reversed ? gates.reversed() : gates
    }

    /// ccz as a relative-phase Toffoli core on target c (3 cx, its 4 rotations on parities with c), the 3
    /// rotations on a, b, a⊕b, and the core's left-over cx(a, c) written as h(c)·cz(a, c)·h(c), the cz as
    /// its phase polynomial with sign `czSign` (cz is its own inverse, so either sign is exact). Alone it is
    /// larger than `ccz`; around a compute/uncompute pair of Toffolis on target c, the two cz (opposite
    /// signs) fold away between them, leaving two 3-cx cores (Maslov's relative-phase Toffolis).
    /// `reversed` is the mirror image (cz first), exact because every gate here is a symmetric matrix.
    public static func relativeCCZ(_ a: Int, _ b: Int, _ c: Int, _ polarity: Polarity = .positive, czSign: Int,
                                   reversed: Bool = false) -> [Gate] {
        let s = polarity == .positive ? 1 : -1
        let t = Angle.piTimes(s, over: 4), td = Angle.piTimes(-s, over: 4)
        let z = Angle.piTimes(czSign, over: 2), zd = Angle.piTimes(-czSign, over: 2)
        let gates: [Gate] = [.rz(a, t), .rz(b, t), .cx(a, b), .rz(b, td), .cx(a, b),
                             .rz(c, t), .cx(b, c), .rz(c, td), .cx(a, c), .rz(c, t), .cx(b, c), .rz(c, td),
                             .h(c), .rz(a, z), .rz(c, z), .cx(a, c), .rz(c, zd), .cx(a, c), .h(c)]
        return reversed ? gates.reversed() : gates
    }

    /// One gate in {h, x, rz, cx}, keeping ccz whole when `keepCCZ` (so that its polarity can be chosen later).
    public static func toNam(_ g: Gate, keepCCZ: Bool = false, polarity: Polarity = .positive) -> [Gate] {
        let q = g.qubits
        let p = g.params
        let half = Angle.piTimes(1, over: 2)
        func rz(_ a: Angle) -> [Gate] { a.isZeroModTwoPi ? [] : [.rz(q[0], a.normalized)] }
        switch g.kind {
        case .h, .x, .cx, .barrier, .measure: return [g]
        case .rz: return rz(p[0])
        case .u1: return rz(p[0])
        case .z: return rz(.piTimes(1))
        case .s: return rz(half)
        case .sdg: return rz(-half)
        case .t: return rz(.piTimes(1, over: 4))
        case .tdg: return rz(.piTimes(-1, over: 4))
        case .id: return []
        case .y: return rz(.piTimes(1)) + [.x(q[0])]
        case .sx: return [.h(q[0])] + rz(half) + [.h(q[0])]
        case .sxdg: return [.h(q[0])] + rz(-half) + [.h(q[0])]
        case .rx: return [.h(q[0])] + rz(p[0]) + [.h(q[0])]
        case .ry: return rz(-half) + [.h(q[0])] + rz(p[0]) + [.h(q[0])] + rz(half)
        case .u3: return u3(q[0], p[0], p[1], p[2])
        case .u2: return u3(q[0], half, p[0], p[1])
        case .cz: return [.h(q[1]), .cx(q[0], q[1]), .h(q[1])]
        case .swap: return [.cx(q[0], q[1]), .cx(q[1], q[0]), .cx(q[0], q[1])]
        case .ccz: return keepCCZ ? [g] : ccz(q[0], q[1], q[2], polarity)
        case .ccx:
            return [.h(q[2])] + (keepCCZ ? [Gate(.ccz, q)] : ccz(q[0], q[1], q[2], polarity)) + [.h(q[2])]
        }
    }

    /// u3(θ,φ,λ) = rz(φ)·ry(θ)·rz(λ) up to phase, with ry(θ) = s·h·rz(θ)·h·sdg.
    static func u3(_ q: Int, _ theta: Angle, _ phi: Angle, _ lambda: Angle) -> [Gate] {
        let half = Angle.piTimes(1, over: 2)
        var out: [Gate] = []
        func rz(_ a: Angle) { if !a.isZeroModTwoPi { out.append(.rz(q, a.normalized)) } }
        if theta.isZeroModTwoPi {
            rz(phi + lambda)
            return out
        }
        rz(lambda - half)
        out.append(.h(q))
        rz(theta)
        out.append(.h(q))
        rz(phi + half)
        return out
    }

    /// A whole circuit in {h, x, rz, cx} (plus ccz when `keepCCZ`).
    public static func toNam(_ c: Circuit, keepCCZ: Bool = false) -> Circuit {
        c.withGates(c.gates.flatMap { toNam($0, keepCCZ: keepCCZ) })
    }

    /// Writes a Nam circuit in another gate set, exactly; Clifford+T needs angles that are multiples of π/4.
    public static func convert(_ c: Circuit, to set: GateSet) throws(GateSetError) -> Circuit {
        let nam = toNam(c)
        if set == .nam { return nam }
        var out: [Gate] = []
        out.reserveCapacity(nam.gates.count * 2)
        let half = Angle.piTimes(1, over: 2)
        for g in nam.gates {
            let q = g.qubits
            if g.kind.isFence { out.append(g); continue }
            switch (set, g.kind) {
            case (.ibm, .h): out += [.rz(q[0], half), Gate(.sx, q), .rz(q[0], half)]
            case (.ibmU, .h): out.append(Gate(.u2, q, [.zero, .piTimes(1)]))
            case (.ibmU, .x): out.append(Gate(.u3, q, [.piTimes(1), .zero, .piTimes(1)]))
            case (.ibmU, .rz): out.append(Gate(.u1, q, g.params))
            case (.rigetti, .h): out += [.rz(q[0], half), Gate(.rx, q, [half]), .rz(q[0], half)]
            case (.rigetti, .x): out.append(Gate(.rx, q, [.piTimes(1)]))
            case (.rigetti, .cx):
                let hq = [Gate.rz(q[1], half), Gate(.rx, [q[1]], [half]), Gate.rz(q[1], half)]
                out += hq + [Gate(.cz, q)] + hq
            case (.cliffordT, .rz):
                guard case .pi(let r) = g.params[0], let k8 = r.multiplying(Rational(unchecked: 4, 1)), k8.isInteger else {
                    throw GateSetError(message: "rz(\(g.params[0])) on qubit \(q[0]) is not a multiple of pi/4, so it has no exact Clifford+T form; choose another gate set")
                }
                let k = ((k8.numerator % 8) + 8) % 8
                let names: [[GateKind]] = [[], [.t], [.s], [.s, .t], [.s, .s], [.sdg, .tdg], [.sdg], [.tdg]]
                out += names[k].map { Gate($0, q) }
            default: out.append(g)
            }
        }
        return c.withGates(out)
    }
}
