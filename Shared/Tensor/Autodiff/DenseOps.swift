import Foundation

// Differentiable dense ops: linear layers, pointwise functions, reductions and the elementwise
// arithmetic a loss needs. Forward kernels come from Tensor, backward ones from Backward where they exist.

extension Tape {
    /// `x·Wᵀ + b` with `W` stored `[out, in]` and `b` `[out]` (BLAS).
    public func linear(_ x: Variable, weight w: Variable, bias b: Variable? = nil) -> Variable {
        var y = Tensor.linear(value(x), weight: value(w))
        if let b { y = Tensor.addRowVector(y, value(b)) }
        return record(y, inputs: [x, w] + (b.map { [$0] } ?? [])) { g, tape in
            let grads = Backward.linear(tape.value(x), weight: tape.value(w), gradient: g)
            tape.accumulate(x, grads.x)
            tape.accumulate(w, grads.weight)
            if let b { tape.accumulate(b, Backward.columnSums(g)) }
        }
    }

    public func relu(_ x: Variable) -> Variable { leakyRelu(x, slope: 0) }

    /// `max(x, slope·x)`.
    public func leakyRelu(_ x: Variable, slope: Float = 0.01) -> Variable {
        record(value(x).map { $0 > 0 ? $0 : slope * $0 }, inputs: [x]) { g, tape in
            tape.accumulate(x, Tensor.zipMap(tape.value(x), g) { v, gv in v > 0 ? gv : slope * gv })
        }
    }

    public func exp(_ x: Variable) -> Variable {
        let y = value(x).map { expf($0) }
        return record(y, inputs: [x]) { g, tape in tape.accumulate(x, g * y) }
    }

    public func log(_ x: Variable) -> Variable {
        record(value(x).map { logf($0) }, inputs: [x]) { g, tape in
            tape.accumulate(x, Tensor.zipMap(g, tape.value(x)) { $0 / $1 })
        }
    }

    /// Sum of all elements, as a one-element tensor.
    public func sum(_ x: Variable) -> Variable {
        let shape = value(x).shape
        return record(Tensor(shape: [1], repeating: value(x).scalars.reduce(0, +)), inputs: [x]) { g, tape in
            tape.accumulate(x, Tensor(shape: shape, repeating: g.scalars[0]))
        }
    }

    public func mean(_ x: Variable) -> Variable { scale(sum(x), 1 / Float(max(value(x).count, 1))) }

    public func add(_ a: Variable, _ b: Variable) -> Variable {
        record(value(a) + value(b).reshaped(value(a).shape), inputs: [a, b]) { g, tape in
            tape.accumulate(a, g)
            tape.accumulate(b, g)
        }
    }

    public func subtract(_ a: Variable, _ b: Variable) -> Variable { add(a, scale(b, -1)) }

    public func multiply(_ a: Variable, _ b: Variable) -> Variable {
        record(value(a) * value(b).reshaped(value(a).shape), inputs: [a, b]) { g, tape in
            tape.accumulate(a, g * tape.value(b).reshaped(g.shape))
            tape.accumulate(b, g * tape.value(a).reshaped(g.shape))
        }
    }

    public func scale(_ x: Variable, _ s: Float) -> Variable {
        record(value(x) * s, inputs: [x]) { g, tape in tape.accumulate(x, g * s) }
    }

    /// Elementwise clamp to [lo, hi]; the gradient passes only where the value was inside.
    public func clamp(_ x: Variable, _ lo: Float, _ hi: Float) -> Variable {
        record(value(x).map { min(max($0, lo), hi) }, inputs: [x]) { g, tape in
            tape.accumulate(x, Tensor.zipMap(tape.value(x), g) { v, gv in v >= lo && v <= hi ? gv : 0 })
        }
    }

    /// Elementwise minimum; the gradient goes to the smaller input (to `a` on ties).
    public func minimum(_ a: Variable, _ b: Variable) -> Variable {
        let va = value(a), vb = value(b).reshaped(value(a).shape)
        let takeA = zip(va.scalars, vb.scalars).map { $0 <= $1 }
        return record(Tensor.zipMap(va, vb) { min($0, $1) }, inputs: [a, b]) { g, tape in
            tape.accumulate(a, Tensor(shape: g.shape, scalars: zip(g.scalars, takeA).map { $1 ? $0 : 0 })!)
            tape.accumulate(b, Tensor(shape: g.shape, scalars: zip(g.scalars, takeA).map { $1 ? 0 : $0 })!)
        }
    }
}

extension Tensor {
    /// Adds `v` (one element per column) to every row.
    public static func addRowVector(_ x: Tensor, _ v: Tensor) -> Tensor {
        let width = x.columns
        precondition(v.count == width, "bias of \(v.count) for rows of \(width)")
        return Tensor(shape: x.shape) { out in
            for i in 0..<out.count { out[i] = x.scalars[i] + v.scalars[i % width] }
        }
    }
}

extension Backward {
    /// Gradient of a row-vector broadcast: the column sums of `g`.
    public static func columnSums(_ g: Tensor) -> Tensor {
        let width = g.columns
        var out = [Float](repeating: 0, count: width)
        for i in 0..<g.count { out[i % width] += g.scalars[i] }
        return Tensor(shape: [width], scalars: out)!
    }
}
