import Foundation

// Elementwise and row-wise ops of a Llama forward. Each takes tensors and returns a new one.

extension Tensor {
    /// Elementwise sum of two tensors of the same shape.
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor { zipMap(lhs, rhs, +) }
    /// Elementwise difference.
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor { zipMap(lhs, rhs, -) }
    /// Elementwise (Hadamard) product.
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor { zipMap(lhs, rhs, *) }
    /// Every element times a scalar.
    public static func * (lhs: Tensor, rhs: Float) -> Tensor { lhs.map { $0 * rhs } }

    /// Applies `transform` to every element.
    public func map(_ transform: (Float) -> Float) -> Tensor {
        Tensor(shape: shape, scalars: scalars.map(transform))!
    }

    static func zipMap(_ lhs: Tensor, _ rhs: Tensor, _ op: (Float, Float) -> Float) -> Tensor {
        precondition(lhs.shape == rhs.shape, "elementwise op on shapes \(lhs.shape) and \(rhs.shape)")
        return Tensor(shape: lhs.shape) { out in
            lhs.scalars.withUnsafeBufferPointer { a in
                rhs.scalars.withUnsafeBufferPointer { b in
                    for i in 0..<out.count { out[i] = op(a[i], b[i]) }
                }
            }
        }
    }

    /// SiLU (swish): `x · sigmoid(x)`.
    public static func silu(_ x: Tensor) -> Tensor { x.map { $0 / (1 + expf(-$0)) } }

    /// SwiGLU's gate: `silu(gate) ⊙ up`, fused so the intermediate is not materialised twice.
    public static func siluGate(_ gate: Tensor, _ up: Tensor) -> Tensor {
        zipMap(gate, up) { g, u in g / (1 + expf(-g)) * u }
    }

    /// RMSNorm over the last dimension: `x / sqrt(mean(x²) + eps) ⊙ weight`.
    public static func rmsNorm(_ x: Tensor, weight: Tensor, epsilon: Float) -> Tensor {
        let width = x.columns
        precondition(weight.count == width, "rmsNorm: weight has \(weight.count) elements, rows have \(width)")
        return Tensor(shape: x.shape) { out in
            x.scalars.withUnsafeBufferPointer { px in
                weight.scalars.withUnsafeBufferPointer { pw in
                    for row in 0..<x.rows {
                        let base = row * width
                        var sum: Float = 0
                        for j in 0..<width { sum += px[base + j] * px[base + j] }
                        let inverse = 1 / sqrtf(sum / Float(width) + epsilon)
                        for j in 0..<width { out[base + j] = px[base + j] * inverse * pw[j] }
                    }
                }
            }
        }
    }

    /// Softmax over the last dimension, stabilised by subtracting each row's maximum.
    public static func softmax(_ x: Tensor) -> Tensor {
        var result = x
        let width = x.columns
        result.scalars.withUnsafeMutableBufferPointer { buffer in
            for row in 0..<x.rows {
                softmaxInPlace(UnsafeMutableBufferPointer(rebasing: buffer[(row * width)..<((row + 1) * width)]))
            }
        }
        return result
    }

    /// Softmax of one row in place.
    public static func softmaxInPlace(_ row: UnsafeMutableBufferPointer<Float>) {
        guard !row.isEmpty else { return }
        var maximum = -Float.infinity
        for v in row where v > maximum { maximum = v }
        var sum: Float = 0
        for i in 0..<row.count {
            let e = expf(row[i] - maximum)
            row[i] = e
            sum += e
        }
        let inverse = 1 / sum
        for i in 0..<row.count { row[i] *= inverse }
    }

    /// Rows of `table` picked by `indices` (an embedding lookup). Nil when an index is out of range.
    public static func gather(_ table: Tensor, rows indices: [Int]) -> Tensor? {
        let width = table.columns, available = table.rows
        guard indices.allSatisfy({ $0 >= 0 && $0 < available }) else { return nil }
        return Tensor(shape: [indices.count, width]) { out in
            table.scalars.withUnsafeBufferPointer { src in
                for (r, index) in indices.enumerated() {
                    UnsafeMutableRawPointer(out.baseAddress! + r * width)
                        .copyMemory(from: src.baseAddress! + index * width, byteCount: width * MemoryLayout<Float>.stride)
                }
            }
        }
    }

    /// Rotary position embedding in the "rotate half" layout used by Hugging Face Llama.
    ///
    /// `x` is `[tokens, heads · headDim]`; within a head, element `i` pairs with `i + headDim/2`
    /// and the pair is rotated by `positions[token] · inverseFrequencies[i]`.
    public static func rope(_ x: Tensor, positions: [Int], headDim: Int, inverseFrequencies: [Float]) -> Tensor {
        rope(x, table: RotaryTable(positions: positions, inverseFrequencies: inverseFrequencies), headDim: headDim)
    }

    /// RoPE with angles computed once per batch (every layer of a forward reuses them).
    public static func rope(_ x: Tensor, table: RotaryTable, headDim: Int) -> Tensor {
        let half = headDim / 2
        precondition(headDim % 2 == 0 && table.half == half, "rope: head dimension \(headDim) needs \(half) frequencies")
        precondition(table.rows == x.rows && x.columns % headDim == 0, "rope: shape \(x.shape) vs \(table.rows) positions")
        var result = x
        let width = x.columns, heads = width / headDim
        result.scalars.withUnsafeMutableBufferPointer { p in
            table.cosines.withUnsafeBufferPointer { cosines in
                table.sines.withUnsafeBufferPointer { sines in
                    for row in 0..<table.rows {
                        for h in 0..<heads {
                            let base = row * width + h * headDim
                            for i in 0..<half {
                                let a = p[base + i], b = p[base + i + half]
                                let c = cosines[row * half + i], s = sines[row * half + i]
                                p[base + i] = a * c - b * s
                                p[base + i + half] = b * c + a * s
                            }
                        }
                    }
                }
            }
        }
        return result
    }

    /// Columns `range` of a matrix, as a new `[rows, range.count]` matrix.
    public func columns(_ range: Range<Int>) -> Tensor {
        let width = columns, rowCount = rows
        precondition(range.lowerBound >= 0 && range.upperBound <= width, "columns \(range) out of \(width)")
        return Tensor(shape: [rowCount, range.count]) { out in
            scalars.withUnsafeBufferPointer { src in
                for r in 0..<rowCount {
                    (out.baseAddress! + r * range.count).update(from: src.baseAddress! + r * width + range.lowerBound, count: range.count)
                }
            }
        }
    }
}

/// Cosines and sines of RoPE angles for a batch's positions, `[rows, half]` each.
public struct RotaryTable: Sendable {
    public let rows: Int
    public let half: Int
    public let cosines: [Float]
    public let sines: [Float]

    public init(positions: [Int], inverseFrequencies: [Float]) {
        rows = positions.count
        half = inverseFrequencies.count
        var cosines = [Float](repeating: 0, count: rows * half), sines = cosines
        for (row, position) in positions.enumerated() {
            for i in 0..<half {
                // Double keeps the angle exact for long positions before rounding to Float.
                let angle = Double(position) * Double(inverseFrequencies[i])
                cosines[row * half + i] = Float(cos(angle))
                sines[row * half + i] = Float(sin(angle))
            }
        }
        self.cosines = cosines
        self.sines = sines
    }
}
