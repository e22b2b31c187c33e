import Foundation

/// Vector-Jacobian products of the forward ops: given an op's inputs and the gradient of a
/// loss with respect to its output, the gradients with respect to its inputs. A reverse-mode
/// tape records forward calls and replays these in reverse order.
public enum Backward {
    /// `C = op(A)·op(B)`.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
                              gradient g: Tensor) -> (a: Tensor, b: Tensor) {
        // dA = g·op(B)ᵀ (transposed back if A was), dB = op(A)ᵀ·g (likewise).
        let da = transposeA ? Tensor.matmul(b, g, transposeA: transposeB, transposeB: true)
                            : Tensor.matmul(g, b, transposeB: !transposeB)
        let db = transposeB ? Tensor.matmul(g, a, transposeA: true, transposeB: transposeA)
                            : Tensor.matmul(a, g, transposeA: !transposeA)
        return (da, db)
    }

    /// `y = x·Wᵀ` with `W` stored `[out, in]`.
    public static func linear(_ x: Tensor, weight: Tensor, gradient g: Tensor) -> (x: Tensor, weight: Tensor) {
        let x2 = x.reshaped([x.rows, x.columns]), g2 = g.reshaped([g.rows, g.columns])
        return (Tensor.matmul(g2, weight).reshaped(x.shape), Tensor.matmul(g2, x2, transposeA: true))
    }

    /// `y = x · sigmoid(x)`: `dy/dx = s + x·s·(1 − s)`.
    public static func silu(_ x: Tensor, gradient g: Tensor) -> Tensor {
        Tensor.zipMap(x, g) { v, gv in
            let s = 1 / (1 + expf(-v))
            return gv * (s + v * s * (1 - s))
        }
    }

    /// Softmax over the last dimension, from its output `y`: `dx = y ⊙ (g − Σ g⊙y)` per row.
    public static func softmax(output y: Tensor, gradient g: Tensor) -> Tensor {
        let width = y.columns
        return Tensor(shape: y.shape) { out in
            for row in 0..<y.rows {
                let base = row * width
                var dot: Float = 0
                for j in 0..<width { dot += g.scalars[base + j] * y.scalars[base + j] }
                for j in 0..<width { out[base + j] = y.scalars[base + j] * (g.scalars[base + j] - dot) }
            }
        }
    }

    /// `y = x·r·w` with `r = 1/sqrt(mean(x²) + ε)` per row.
    public static func rmsNorm(_ x: Tensor, weight: Tensor, epsilon: Float, gradient g: Tensor) -> (x: Tensor, weight: Tensor) {
        let width = x.columns
        var dWeight = [Float](repeating: 0, count: width)
        let dx = Tensor(shape: x.shape) { out in
            for row in 0..<x.rows {
                let base = row * width
                var sum: Float = 0
                for j in 0..<width { sum += x.scalars[base + j] * x.scalars[base + j] }
                let r = 1 / sqrtf(sum / Float(width) + epsilon)
                // dx_j = r·w_j·g_j − x_j·r³/n · Σ_k g_k·w_k·x_k
                var projection: Float = 0
                for k in 0..<width { projection += g.scalars[base + k] * weight.scalars[k] * x.scalars[base + k] }
                for j in 0..<width {
                    out[base + j] = r * weight.scalars[j] * g.scalars[base + j] - x.scalars[base + j] * r * r * r / Float(width) * projection
                    dWeight[j] += g.scalars[base + j] * x.scalars[base + j] * r
                }
            }
        }
        return (dx, Tensor(shape: weight.shape, scalars: dWeight)!)
    }

    /// Embedding lookup: gradients of picked rows are added back into a zero table.
    public static func gather(tableShape: [Int], rows indices: [Int], gradient g: Tensor) -> Tensor {
        var table = Tensor(shape: tableShape)
        let width = table.columns
        for (r, index) in indices.enumerated() {
            for j in 0..<width { table.scalars[index * width + j] += g.scalars[r * width + j] }
        }
        return table
    }
}
