import DeterministicRandom

/// A dense state of n qubits (qubit k is bit k of the amplitude index), simulated gate by gate.
struct StateVector: Sendable {
    let qubits: Int
    var re: [Double]
    var im: [Double]

    init(qubits: Int, re: [Double], im: [Double]) {
        self.qubits = qubits
        self.re = re
        self.im = im
    }

    /// A reproducible random state (normalised Gaussian amplitudes).
    static func random(qubits: Int, seed: UInt64) -> StateVector {
        var rng = SplitMix64(seed: seed)
        let n = 1 << qubits
        var re = [Double](repeating: 0, count: n), im = re
        var norm = 0.0
        for i in 0..<n {
            re[i] = rng.nextGaussian()
            im[i] = rng.nextGaussian()
            norm += re[i] * re[i] + im[i] * im[i]
        }
        let s = 1 / norm.squareRoot()
        for i in 0..<n { re[i] *= s; im[i] *= s }
        return StateVector(qubits: qubits, re: re, im: im)
    }

    static func basis(qubits: Int, index: Int) -> StateVector {
        var re = [Double](repeating: 0, count: 1 << qubits)
        re[index] = 1
        return StateVector(qubits: qubits, re: re, im: [Double](repeating: 0, count: 1 << qubits))
    }

    /// ⟨self|other⟩.
    func inner(_ o: StateVector) -> (Double, Double) {
        var sr = 0.0, si = 0.0
        for i in 0..<re.count {
            sr += re[i] * o.re[i] + im[i] * o.im[i]
            si += re[i] * o.im[i] - im[i] * o.re[i]
        }
        return (sr, si)
    }

    mutating func run(_ gates: [Gate], inverse: Bool = false) {
        if inverse { for g in gates.reversed() { apply(g, inverse: true) } } else { for g in gates { apply(g, inverse: false) } }
    }

    /// Applies one gate (or its inverse). Fences do nothing to the state.
    mutating func apply(_ g: Gate, inverse: Bool) {
        let q = g.qubits
        switch g.kind {
        case .barrier, .measure: return
        case .cx: controlledX(controls: (1 << q[0]), target: q[1])
        case .ccx: controlledX(controls: (1 << q[0]) | (1 << q[1]), target: q[2])
        case .cz: phaseFlip(mask: (1 << q[0]) | (1 << q[1]))
        case .ccz: phaseFlip(mask: (1 << q[0]) | (1 << q[1]) | (1 << q[2]))
        case .swap:
            controlledX(controls: 1 << q[0], target: q[1])
            controlledX(controls: 1 << q[1], target: q[0])
            controlledX(controls: 1 << q[0], target: q[1])
        default:
            guard let m = Matrix2.of(g) else { return }
            single(inverse ? m.adjoint : m, q[0])
        }
    }

    private mutating func controlledX(controls: Int, target: Int) {
        let t = 1 << target
        re.withUnsafeMutableBufferPointer { r in
            im.withUnsafeMutableBufferPointer { m in
                for i in 0..<r.count where i & t == 0 && i & controls == controls {
                    let j = i | t
                    (r[i], r[j]) = (r[j], r[i])
                    (m[i], m[j]) = (m[j], m[i])
                }
            }
        }
    }

    private mutating func phaseFlip(mask: Int) {
        re.withUnsafeMutableBufferPointer { r in
            im.withUnsafeMutableBufferPointer { m in
                for i in 0..<r.count where i & mask == mask {
                    r[i] = -r[i]
                    m[i] = -m[i]
                }
            }
        }
    }

    private mutating func single(_ u: Matrix2, _ qubit: Int) {
        let t = 1 << qubit
        let n = re.count
        let diagonal = u.b == (0, 0) && u.c == (0, 0)
        re.withUnsafeMutableBufferPointer { r in
            im.withUnsafeMutableBufferPointer { m in
                var base = 0
                while base < n {
                    for i in base..<(base + t) {
                        let j = i + t
                        let (xr, xi, yr, yi) = (r[i], m[i], r[j], m[j])
                        if diagonal {
                            r[i] = u.a.0 * xr - u.a.1 * xi; m[i] = u.a.0 * xi + u.a.1 * xr
                            r[j] = u.d.0 * yr - u.d.1 * yi; m[j] = u.d.0 * yi + u.d.1 * yr
                        } else {
                            r[i] = u.a.0 * xr - u.a.1 * xi + u.b.0 * yr - u.b.1 * yi
                            m[i] = u.a.0 * xi + u.a.1 * xr + u.b.0 * yi + u.b.1 * yr
                            r[j] = u.c.0 * xr - u.c.1 * xi + u.d.0 * yr - u.d.1 * yi
                            m[j] = u.c.0 * xi + u.c.1 * xr + u.d.0 * yi + u.d.1 * yr
                        }
                    }
                    base += 2 * t
                }
            }
        }
    }
}

/// Uniform and Gaussian draws for fingerprints and checks, reproducible from a seed.
extension SplitMix64 {
    mutating func nextUniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func nextGaussian() -> Double {
        let u = max(nextUniform(), 1e-300), v = nextUniform()
        return (-2 * _log(u)).squareRoot() * _cos(2 * .pi * v)
    }
}

import Foundation
private func _log(_ x: Double) -> Double { log(x) }
private func _cos(_ x: Double) -> Double { cos(x) }
