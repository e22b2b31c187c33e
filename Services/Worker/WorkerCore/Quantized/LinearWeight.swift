import Tensor

/// A linear layer's weight `[out, in]`: Float32 (BLAS) or quantized blocks (C kernels).
public enum LinearWeight: @unchecked Sendable {
    case dense(Tensor)
    case quantized(QuantizedMatrix)

    public var rows: Int {
        switch self {
        case .dense(let t): t.shape[0]
        case .quantized(let q): q.rows
        }
    }

    /// Bytes the weight keeps resident.
    public var byteCount: Int {
        switch self {
        case .dense(let t): 4 * t.count
        case .quantized(let q): q.byteCount
        }
    }

    /// `x · Wᵀ`.
    public func apply(_ x: Tensor) -> Tensor {
        switch self {
        case .dense(let w): Tensor.linear(x, weight: w)
        case .quantized(let q): q.product(x)
        }
    }

    /// Rows `indices` in Float32 (embedding lookups); nil when an index is out of range.
    func rows(_ indices: [Int]) -> Tensor? {
        guard indices.allSatisfy({ (0..<rows).contains($0) }) else { return nil }
        switch self {
        case .dense(let t): return Tensor.gather(t, rows: indices)
        case .quantized(let q): return q.dequantizedRows(indices)
        }
    }

    /// The weights of `parts` stacked by rows, so one product computes all of them. Quantized
    /// parts of one type stay quantized; a mix is converted to Float32.
    static func stacked(_ parts: [LinearWeight]) -> LinearWeight {
        let quantized = parts.compactMap { if case .quantized(let q) = $0 { q } else { nil } }
        if quantized.count == parts.count, let joined = QuantizedMatrix.stacked(quantized) { return .quantized(joined) }
        return .dense(Tensor.concatenateRows(parts.map(\.dense)))
    }

    /// The weight in Float32.
    var dense: Tensor {
        switch self {
        case .dense(let t): t
        case .quantized(let q): q.dequantized()
        }
    }
}
