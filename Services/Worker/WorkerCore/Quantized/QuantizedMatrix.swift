import CKernels
import Dispatch
import Synchronization
import Tensor

/// A weight matrix `[rows, columns]` kept in its quantized ggml blocks (Q4_0, Q4_1, Q5_0, Q8_0, Q4_K, Q6_K),
/// each row a whole number of blocks. Products quantize the activations to 8 bits per
/// 32-block and run the C kernels, split by rows across `QuantizedMatrix.threads`.
public final class QuantizedMatrix: @unchecked Sendable {   // immutable after init
    public let type: GGMLType
    public let rows: Int
    public let columns: Int
    public let rowBytes: Int
    private let storage: UnsafeMutableRawPointer

    /// Threads a product uses (rows split evenly); the worker sets it from --threads.
    public static let threads = Atomic<Int>(1)

    /// Copies `rows` rows of quantized blocks from `source`; `rowOrder[i]` is the source row of row i.
    init(type: GGMLType, rows: Int, columns: Int, source: UnsafeRawPointer, rowOrder: [Int]? = nil) {
        precondition(type.isQuantized && columns % type.blockSize == 0)
        self.type = type
        self.rows = rows
        self.columns = columns
        rowBytes = type.byteCount(elements: columns)
        storage = UnsafeMutableRawPointer.allocate(byteCount: max(1, rows * rowBytes), alignment: 64)
        if let rowOrder {
            for (i, from) in rowOrder.enumerated() { (storage + i * rowBytes).copyMemory(from: source + from * rowBytes, byteCount: rowBytes) }
        } else {
            storage.copyMemory(from: source, byteCount: rows * rowBytes)
        }
    }

    deinit { storage.deallocate() }

    public var byteCount: Int { rows * rowBytes }

    /// Matrices of one type and width stacked on top of each other (one product for Q, K and V).
    static func stacked(_ parts: [QuantizedMatrix]) -> QuantizedMatrix? {
        guard let first = parts.first, parts.allSatisfy({ $0.type == first.type && $0.columns == first.columns }) else { return nil }
        let total = parts.reduce(0) { $0 + $1.rows }
        let joined = UnsafeMutableRawPointer.allocate(byteCount: max(1, total * first.rowBytes), alignment: 64)
        defer { joined.deallocate() }
        var offset = 0
        for part in parts {
            (joined + offset).copyMemory(from: part.storage, byteCount: part.byteCount)
            offset += part.byteCount
        }
        return QuantizedMatrix(type: first.type, rows: total, columns: first.columns, source: joined)
    }

    /// Rows `indices` converted to Float32 (the embedding lookup).
    func dequantizedRows(_ indices: [Int]) -> Tensor {
        Tensor(shape: [indices.count, columns]) { out in
            for (i, row) in indices.enumerated() {
                type.dequantize(storage + row * rowBytes, count: columns, into: out.baseAddress! + i * columns)
            }
        }
    }

    /// The whole matrix in Float32 (the reference path).
    func dequantized() -> Tensor { dequantizedRows(Array(0..<rows)) }

    /// `x · Wᵀ` for `x` of shape `[tokens, columns]`: shape `[tokens, rows]`.
    public func product(_ x: Tensor) -> Tensor {
        precondition(x.columns == columns, "quantized product: input width \(x.columns) != \(columns)")
        let tokens = x.rows, blocks = columns / 32
        var activations = [lk_q8_block](repeating: lk_q8_block(), count: tokens * blocks)
        x.scalars.withUnsafeBufferPointer { source in
            activations.withUnsafeMutableBufferPointer {
                // Q4_K and Q6_K take one activation scale per 256 (llama.cpp's Q8_K), the rest one per 32.
                let quantize = self.type.blockSize == 256 ? lk_quantize_q8_k : lk_quantize_q8
                quantize(source.baseAddress, $0.baseAddress, Int32(tokens * columns))
            }
        }
        let threads = max(1, min(Self.threads.load(ordering: .relaxed), rows / 64))
        let type = Int32(self.type.rawValue), rows = self.rows, rowBytes = self.rowBytes, kQuants = self.type.usesKQuantKernels
        return Tensor(shape: [tokens, rows]) { out in
            let output = OutputPointer(base: out.baseAddress!)
            activations.withUnsafeBufferPointer { a in
                let input = InputPointer(base: a.baseAddress!)
                let run: @Sendable (Int) -> Void = { part in
                    let begin = rows * part / threads, end = rows * (part + 1) / threads
                    let matmul = kQuants ? lk_kq_matmul : lk_matmul
                    matmul(type, self.storage, rowBytes, Int32(begin), Int32(end), Int32(blocks), input.base, Int32(tokens), output.base, rows)
                }
                if threads == 1 { run(0) } else { DispatchQueue.concurrentPerform(iterations: threads, execute: run) }
            }
        }
    }
}

/// Pointers handed to the row-parallel workers; each writes a disjoint set of output columns.
private struct OutputPointer: @unchecked Sendable { let base: UnsafeMutablePointer<Float> }
private struct InputPointer: @unchecked Sendable { let base: UnsafePointer<lk_q8_block> }
