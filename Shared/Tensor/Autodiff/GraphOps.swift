// Differentiable ops for message passing: picking rows, joining columns and summing rows by segment.

extension Tape {
    /// Rows of `x` picked by `indices` (may repeat); the caller guarantees they are in range.
    public func gather(_ x: Variable, rows indices: [Int]) -> Variable {
        let shape = value(x).shape
        guard let y = Tensor.gather(value(x), rows: indices) else { preconditionFailure("gather: index out of \(shape[0]) rows") }
        return record(y, inputs: [x]) { g, tape in
            tape.accumulate(x, Backward.gather(tableShape: shape, rows: indices, gradient: g))
        }
    }

    /// Matrices with the same row count side by side.
    public func concatColumns(_ parts: [Variable]) -> Variable {
        let tensors = parts.map { value($0) }
        let rows = tensors[0].rows
        precondition(tensors.allSatisfy { $0.rows == rows }, "concatColumns: row counts differ")
        let widths = tensors.map(\.columns), total = widths.reduce(0, +)
        let y = Tensor(shape: [rows, total]) { out in
            var offset = 0
            for (t, w) in zip(tensors, widths) {
                for r in 0..<rows { for j in 0..<w { out[r * total + offset + j] = t.scalars[r * w + j] } }
                offset += w
            }
        }
        return record(y, inputs: parts) { g, tape in
            var offset = 0
            for (p, w) in zip(parts, widths) {
                if tape.needs(p) { tape.accumulate(p, g.columns(offset..<(offset + w))) }
                offset += w
            }
        }
    }

    /// `out[segments[i]] += x[i]` into `count` rows (scatter-sum): the neighbour sum of message passing.
    public func segmentSum(_ x: Variable, segments: [Int], count: Int) -> Variable {
        let t = value(x), width = t.columns
        precondition(segments.count == t.rows && segments.allSatisfy { $0 >= 0 && $0 < count }, "segmentSum: bad segment indices")
        let y = Backward.gather(tableShape: [count, width], rows: segments, gradient: t.reshaped([t.rows, width]))
        return record(y, inputs: [x]) { g, tape in
            guard let back = Tensor.gather(g, rows: segments) else { return }
            tape.accumulate(x, back)
        }
    }
}
