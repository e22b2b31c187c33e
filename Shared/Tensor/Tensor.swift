/// A dense, row-major Float32 tensor with value semantics.
///
/// Every op in this module is a pure function from tensors to a new tensor (no hidden state),
/// so a reverse-mode tape can later record `(op, inputs)` and pair each op with its
/// backward kernel without changing the forward code.
public struct Tensor: Sendable, Equatable {
    /// Sizes of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// Elements in row-major order; `count == shape.product`.
    public var scalars: [Float]

    /// Wraps `scalars` as a tensor of `shape`; returns nil when the counts disagree.
    public init?(shape: [Int], scalars: [Float]) {
        guard shape.allSatisfy({ $0 >= 0 }), Tensor.elementCount(shape) == scalars.count else { return nil }
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.scalars = [Float](repeating: value, count: Tensor.elementCount(shape))
    }

    /// Builds a tensor of `shape` by letting `body` fill an uninitialized buffer of the right size.
    public init(shape: [Int], unsafeUninitialized body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let count = Tensor.elementCount(shape)
        self.shape = shape
        self.scalars = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            body(buffer)
            initialized = count
        }
    }

    public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    public var count: Int { scalars.count }
    public var rank: Int { shape.count }
    /// Rows when the tensor is viewed as a matrix `[rows, lastDimension]`.
    public var rows: Int { shape.isEmpty ? 1 : count / max(shape[shape.count - 1], 1) }
    /// The innermost dimension (1 for a scalar).
    public var columns: Int { shape.last ?? 1 }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(Tensor.elementCount(newShape) == count, "reshape \(shape) -> \(newShape) changes the element count")
        var copy = self
        copy.shape = newShape
        return copy
    }

    /// Element at a multi-dimensional index (for tests and small tools, not hot loops).
    public subscript(_ index: Int...) -> Float {
        get { scalars[flatIndex(index)] }
        set { scalars[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index rank \(index.count) != tensor rank \(shape.count)")
        var flat = 0
        for (i, dim) in zip(index, shape) {
            precondition(i >= 0 && i < dim, "index \(index) out of bounds for shape \(shape)")
            flat = flat * dim + i
        }
        return flat
    }

    /// Rows `range` of a tensor viewed as a matrix `[rows, columns]`.
    public func rows(_ range: Range<Int>) -> Tensor {
        let width = columns
        return Tensor(shape: [range.count, width],
                      scalars: Array(scalars[(range.lowerBound * width)..<(range.upperBound * width)]))!
    }

    /// Stacks matrices with the same column count on top of each other.
    public static func concatenateRows(_ parts: [Tensor]) -> Tensor {
        guard let first = parts.first else { return Tensor(shape: [0, 0]) }
        let width = first.columns
        var all: [Float] = []
        all.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for part in parts {
            precondition(part.columns == width, "concatenateRows: column counts differ")
            all.append(contentsOf: part.scalars)
        }
        return Tensor(shape: [all.count / max(width, 1), width], scalars: all)!
    }
}
