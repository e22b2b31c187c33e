import CKernels
import Synchronization
import Tensor

/// A weight matrix `[rows, columns]` kept in its quantized ggml blocks, each row a whole number of
/// blocks. Q4_0, Q4_1 and Q8_0 are repacked into the C kernels' 16-row tiles (same bytes, reordered
/// so one SIMD multiply-accumulate covers 16 rows); Q5_0, Q4_K and Q6_K (the other types of Q4_K_M
/// files) stay in ggml's row order for kquants.c. Products quantize the activations to 8 bits per
/// 32-block and run the C kernels on `QuantizedMatrix.threads` threads.
public final class QuantizedMatrix: @unchecked Sendable {   // immutable after init
    public let type: GGMLType
    public let rows: Int
    public let columns: Int
    /// Bytes of one row in ggml blocks.
    public let rowBytes: Int
    private let packed: UnsafeMutableRawPointer
    private let packedBytes: Int
    /// In the 16-row tiles of kernels.c; else whole ggml rows for kquants.c.
    private let tiled: Bool

    /// Threads a product uses; the worker sets it from --threads.
    public static let threads = Atomic<Int>(1)

    /// Packs `rows` rows of quantized blocks from `source`; `rowOrder[i]` is the source row of row i.
    init(type: GGMLType, rows: Int, columns: Int, source: UnsafeRawPointer, rowOrder: [Int]? = nil) {
        let kind = Int32(type.rawValue)
        precondition(type.isQuantized && columns % type.blockSize == 0)
        self.type = type
        self.rows = rows
        self.columns = columns
        rowBytes = type.byteCount(elements: columns)
        tiled = lk_is_packable(kind) == 1
        packedBytes = tiled ? lk_packed_size(kind, Int32(rows), Int32(columns / 32)) : rows * rowBytes
        packed = UnsafeMutableRawPointer.allocate(byteCount: max(1, packedBytes), alignment: 64)
        let order = rowOrder.map { $0.map(Int64.init) }
        if tiled {
            lk_pack(kind, source, rowBytes, order, Int32(rows), Int32(columns / 32), packed)
        } else if let rowOrder {
            for (i, from) in rowOrder.enumerated() { (packed + i * rowBytes).copyMemory(from: source + from * rowBytes, byteCount: rowBytes) }
        } else {
            packed.copyMemory(from: source, byteCount: rows * rowBytes)
        }
    }

    deinit { packed.deallocate() }

    /// Bytes kept resident (the file's quantized bytes, plus padding to whole tiles).
    public var byteCount: Int { packedBytes }

    /// Row `row` in ggml blocks into `out` (`rowBytes` bytes).
    private func unpack(row: Int, into out: UnsafeMutableRawPointer) {
        if tiled {
            lk_unpack_row(Int32(type.rawValue), packed, Int32(columns / 32), Int32(row), out)
        } else {
            out.copyMemory(from: packed + row * rowBytes, byteCount: rowBytes)
        }
    }

    /// Matrices of one type and width stacked on top of each other (one product for Q, K and V).
    static func stacked(_ parts: [QuantizedMatrix]) -> QuantizedMatrix? {
        guard let first = parts.first, parts.allSatisfy({ $0.type == first.type && $0.columns == first.columns }) else { return nil }
        let total = parts.reduce(0) { $0 + $1.rows }
        let joined = UnsafeMutableRawPointer.allocate(byteCount: max(1, total * first.rowBytes), alignment: 64)
        defer { joined.deallocate() }
        var row = 0
        for part in parts {
            for r in 0..<part.rows { part.unpack(row: r, into: joined + (row + r) * first.rowBytes) }
            row += part.rows
        }
        return QuantizedMatrix(type: first.type, rows: total, columns: first.columns, source: joined)
    }

    /// Rows `indices` converted to Float32 (the embedding lookup).
    func dequantizedRows(_ indices: [Int]) -> Tensor {
        let blocks = UnsafeMutableRawPointer.allocate(byteCount: rowBytes, alignment: 16)
        defer { blocks.deallocate() }
        return Tensor(shape: [indices.count, columns]) { out in
            for (i, row) in indices.enumerated() {
                unpack(row: row, into: blocks)
                type.dequantize(blocks, count: columns, into: out.baseAddress! + i * columns)
            }
        }
    }

    /// The whole matrix in Float32 (the reference path).
    func dequantized() -> Tensor { dequantizedRows(Array(0..<rows)) }

    /// `x · Wᵀ` for `x` of shape `[tokens, columns]`: shape `[tokens, rows]`.
    public func product(_ x: Tensor) -> Tensor {
        precondition(x.columns == columns, "quantized product: input width \(x.columns) != \(columns)")
        let tokens = x.rows
        return Tensor(shape: [tokens, rows]) { out in
            x.scalars.withUnsafeBufferPointer { product($0.baseAddress!, tokens: tokens, into: out.baseAddress!) }
        }
    }

    /// `x · Wᵀ` on raw rows: `x` holds `tokens` rows of `columns` floats, `out` gets `tokens` rows of `rows`.
    func product(_ x: UnsafePointer<Float>, tokens: Int, into out: UnsafeMutablePointer<Float>) {
        let blocks = columns / 32, threads = Int32(Self.threads.load(ordering: .relaxed))
        withUnsafeTemporaryAllocation(of: lk_q8_block.self, capacity: tokens * blocks) { activations in
            if tiled {
                lk_quantize_q8(x, activations.baseAddress, Int32(tokens * columns))
                lk_matmul(Int32(type.rawValue), packed, Int32(rows), Int32(blocks), activations.baseAddress, Int32(tokens), out, rows, threads)
            } else {
                // Q4_K and Q6_K take one activation scale per 256 (llama.cpp's Q8_K), Q5_0 one per 32.
                let quantize = type.blockSize == 256 ? lk_quantize_q8_k : lk_quantize_q8
                quantize(x, activations.baseAddress, Int32(tokens * columns))
                lk_kq_matmul_threads(Int32(type.rawValue), packed, rowBytes, Int32(rows), Int32(blocks), activations.baseAddress, Int32(tokens),
                                     out, rows, threads)
            }
        }
    }
}
