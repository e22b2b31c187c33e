import Tensor

/// A linear layer's weight `[out, in]`: Float32 (BLAS) or quantized blocks (C kernels).
public enum LinearWeight: @unchecked Sendable {
    case dense(Tensor)
    case quantized(QuantizedMatrix)
    /// Quantized matrices of different types stacked by rows (Q4_K_M files mix Q5_0 Q and K with
    /// a Q8_0 or Q6_K V): one product each, side by side in the output.
    case quantizedParts([QuantizedMatrix])

    public var rows: Int {
        switch self {
        case .dense(let t): t.shape[0]
        case .quantized(let q): q.rows
        case .quantizedParts(let parts): parts.reduce(0) { $0 + $1.rows }
        }
    }

    /// Bytes the weight keeps resident.
    public var byteCount: Int {
        switch self {
        case .dense(let t): 4 * t.count
        case .quantized(let q): q.byteCount
        case .quantizedParts(let parts): parts.reduce(0) { $0 + $1.byteCount }
        }
    }

    /// `x · Wᵀ`.
    public func apply(_ x: Tensor) -> Tensor {
        switch self {
        case .dense(let w): return Tensor.linear(x, weight: w)
        case .quantized(let q): return q.product(x)
        case .quantizedParts(let parts):
            let products = parts.map { $0.product(x) }, width = rows
            return Tensor(shape: [x.rows, width]) { out in
                var offset = 0
                for product in products {
                    product.scalars.withUnsafeBufferPointer { p in
                        for t in 0..<x.rows {
                            (out.baseAddress! + t * width + offset).update(from: p.baseAddress! + t * product.columns, count: product.columns)
                        }
                    }
                    offset += product.columns
                }
            }
        }
    }

    /// Rows `indices` in Float32 (embedding lookups); nil when an index is out of range.
    func rows(_ indices: [Int]) -> Tensor? {
        guard indices.allSatisfy({ (0..<rows).contains($0) }) else { return nil }
        switch self {
        case .dense(let t): return Tensor.gather(t, rows: indices)
        case .quantized(let q): return q.dequantizedRows(indices)
        case .quantizedParts: return Tensor.gather(dense, rows: indices)
        }
    }

    /// The weights of `parts` stacked by rows, so one product computes all of them. Quantized
    /// parts stay quantized (in one matrix when of one type); a mix with Float32 is converted to Float32.
    static func stacked(_ parts: [LinearWeight]) -> LinearWeight {
        let quantized = parts.compactMap { if case .quantized(let q) = $0 { q } else { nil } }
        if quantized.count == parts.count {
            return QuantizedMatrix.stacked(quantized).map { .quantized($0) } ?? .quantizedParts(quantized)
        }
        return .dense(Tensor.concatenateRows(parts.map(\.dense)))
    }

    /// The weight in Float32.
    var dense: Tensor {
        switch self {
        case .dense(let t): t
        case .quantized(let q): q.dequantized()
        case .quantizedParts(let parts): Tensor.concatenateRows(parts.map { $0.dequantized() })
        }
    }
}
