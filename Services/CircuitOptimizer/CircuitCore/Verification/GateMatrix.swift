import Foundation

/// A 2×2 complex matrix, row-major: (a b; c d).
struct Matrix2: Sendable {
    var a: (Double, Double), b: (Double, Double), c: (Double, Double), d: (Double, Double)

    static func cis(_ x: Double) -> (Double, Double) { (cos(x), sin(x)) }

    /// The conjugate transpose.
    var adjoint: Matrix2 {
        Matrix2(a: (a.0, -a.1), b: (c.0, -c.1), c: (b.0, -b.1), d: (d.0, -d.1))
    }

    /// The matrix of a one-qubit gate, from the qelib1 definitions.
    static func of(_ g: Gate) -> Matrix2? {
        let p = g.params.map(\.radians)
        let r = 1 / 2.0.squareRoot()
        switch g.kind {
        case .h: return Matrix2(a: (r, 0), b: (r, 0), c: (r, 0), d: (-r, 0))
        case .x: return Matrix2(a: (0, 0), b: (1, 0), c: (1, 0), d: (0, 0))
        case .y: return Matrix2(a: (0, 0), b: (0, -1), c: (0, 1), d: (0, 0))
        case .z: return diag(0, .pi)
        case .s: return diag(0, .pi / 2)
        case .sdg: return diag(0, -.pi / 2)
        case .t: return diag(0, .pi / 4)
        case .tdg: return diag(0, -.pi / 4)
        case .id: return diag(0, 0)
        case .sx: return Matrix2(a: (0.5, 0.5), b: (0.5, -0.5), c: (0.5, -0.5), d: (0.5, 0.5))
        case .sxdg: return Matrix2(a: (0.5, -0.5), b: (0.5, 0.5), c: (0.5, 0.5), d: (0.5, -0.5))
        case .rz: return diag(-p[0] / 2, p[0] / 2)
        case .u1: return diag(0, p[0])
        case .rx:
            let (co, si) = (cos(p[0] / 2), sin(p[0] / 2))
            return Matrix2(a: (co, 0), b: (0, -si), c: (0, -si), d: (co, 0))
        case .ry:
            let (co, si) = (cos(p[0] / 2), sin(p[0] / 2))
            return Matrix2(a: (co, 0), b: (-si, 0), c: (si, 0), d: (co, 0))
        case .u2: return u3(.pi / 2, p[0], p[1])
        case .u3: return u3(p[0], p[1], p[2])
        default: return nil
        }
    }

    static func diag(_ x: Double, _ y: Double) -> Matrix2 { Matrix2(a: cis(x), b: (0, 0), c: (0, 0), d: cis(y)) }

    static func u3(_ t: Double, _ ph: Double, _ l: Double) -> Matrix2 {
        let (co, si) = (cos(t / 2), sin(t / 2))
        let el = cis(l), ep = cis(ph), epl = cis(ph + l)
        return Matrix2(a: (co, 0), b: (-el.0 * si, -el.1 * si), c: (ep.0 * si, ep.1 * si), d: (epl.0 * co, epl.1 * co))
    }
}
