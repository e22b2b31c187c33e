import Foundation

// Differentiable ops over categorical distributions: masked log-softmax, entropy and picking the
// log-probability of the action taken.

extension Tape {
    /// Log-softmax of each row over the entries where `mask` (row-major, one per element) is true;
    /// masked-out entries are 0 and get no gradient. Every row needs at least one allowed entry.
    public func maskedLogSoftmax(_ x: Variable, mask: [Bool]) -> Variable {
        let t = value(x), width = t.columns
        precondition(mask.count == t.count, "mask of \(mask.count) for \(t.shape)")
        let y = Tensor(shape: t.shape) { out in
            for r in 0..<t.rows {
                let base = r * width
                var maximum = -Float.infinity
                for j in 0..<width where mask[base + j] { maximum = max(maximum, t.scalars[base + j]) }
                var total: Float = 0
                for j in 0..<width where mask[base + j] { total += expf(t.scalars[base + j] - maximum) }
                let logTotal = maximum + logf(total)
                for j in 0..<width { out[base + j] = mask[base + j] ? t.scalars[base + j] - logTotal : 0 }
            }
        }
        return record(y, inputs: [x]) { g, tape in
            // dx_j = g_j − p_j · Σ_k g_k over allowed entries.
            let dx = Tensor(shape: t.shape) { out in
                for r in 0..<t.rows {
                    let base = r * width
                    var sum: Float = 0
                    for j in 0..<width where mask[base + j] { sum += g.scalars[base + j] }
                    for j in 0..<width { out[base + j] = mask[base + j] ? g.scalars[base + j] - expf(y.scalars[base + j]) * sum : 0 }
                }
            }
            tape.accumulate(x, dx)
        }
    }

    /// Entropy `−Σ p·log p` of each row of log-probabilities over allowed entries: `[rows, 1]`.
    public func entropy(logProbabilities l: Variable, mask: [Bool]) -> Variable {
        let t = value(l), width = t.columns
        let y = Tensor(shape: [t.rows, 1]) { out in
            for r in 0..<t.rows {
                var h: Float = 0
                for j in 0..<width where mask[r * width + j] { h -= expf(t.scalars[r * width + j]) * t.scalars[r * width + j] }
                out[r] = h
            }
        }
        return record(y, inputs: [l]) { g, tape in
            // dH/dl_j = −p_j·(l_j + 1).
            let dl = Tensor(shape: t.shape) { out in
                for i in 0..<t.count {
                    out[i] = mask[i] ? -g.scalars[i / width] * expf(t.scalars[i]) * (t.scalars[i] + 1) : 0
                }
            }
            tape.accumulate(l, dl)
        }
    }

    /// One element per row, `x[r, columns[r]]`: `[rows, 1]`.
    public func pick(_ x: Variable, columns: [Int]) -> Variable {
        let t = value(x), width = t.columns
        precondition(columns.count == t.rows && columns.allSatisfy { $0 >= 0 && $0 < width }, "pick: bad column indices")
        let y = Tensor(shape: [t.rows, 1], scalars: columns.enumerated().map { t.scalars[$0 * width + $1] })!
        return record(y, inputs: [x]) { g, tape in
            var dx = Tensor(shape: t.shape)
            for (r, c) in columns.enumerated() { dx.scalars[r * width + c] = g.scalars[r] }
            tape.accumulate(x, dx)
        }
    }
}
