import CKernels
import Foundation
import Tensor
import Testing
@testable import WorkerCore

/// Q4_K, Q6_K and Q5_0 (the types of Q4_K_M files) against llama.cpp: Fixtures/kquant-rows.gguf
/// holds rows of each type cut from a Q4_K_M SmolLM2 beside llama.cpp's dequantization of them
/// (scripts/gen-model-fixtures).
@Suite struct KQuantTests {
    static let types: [GGMLType] = [.q4_K, .q6_K, .q5_0]

    static func fixture() throws -> GGUFFile {
        try GGUFFile(path: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/kquant-rows.gguf").path)
    }

    /// The quantized rows and llama.cpp's Float32 values of them.
    static func rows(_ type: GGMLType, in file: GGUFFile) throws -> (QuantizedMatrix, [Float]) {
        let quantized = try #require(file.tensors["\(type).quantized"]), dequantized = try #require(file.tensors["\(type).dequantized"])
        #expect(quantized.type == type && dequantized.type == .f32 && quantized.shape == dequantized.shape)
        let matrix = file.withBytes(of: quantized) {
            QuantizedMatrix(type: type, rows: quantized.shape[0], columns: quantized.shape[1], source: $0.baseAddress!)
        }
        let values = file.withBytes(of: dequantized) { Array($0.bindMemory(to: Float.self)) }
        return (matrix, values)
    }

    @Test func dequantizationEqualsLlamaCpp() throws {
        let file = try Self.fixture()
        for type in Self.types {
            let (matrix, reference) = try Self.rows(type, in: file)
            let ours = matrix.dequantized().scalars
            #expect(ours.count == reference.count)
            let differing = zip(ours, reference).filter { $0 != $1 }.count
            #expect(differing == 0, "\(type): \(differing) of \(ours.count) values differ from llama.cpp's")
        }
    }

    /// With activations that 8-bit blocks hold exactly (integers, each block's largest 127), the
    /// kernels' products equal the dequantized rows' dot products up to Float32 summation; the
    /// AVX2 and scalar kernels agree.
    @Test func productsEqualTheDequantizedRowsProducts() throws {
        let file = try Self.fixture()
        var rng = SystemRandomNumberGenerator()
        for type in Self.types {
            let (matrix, weights) = try Self.rows(type, in: file)
            let tokens = 6, columns = matrix.columns
            let x = Tensor(shape: [tokens, columns]) { out in
                for i in 0..<out.count { out[i] = i % 32 == 0 ? 127 : Float(Int.random(in: -60...60, using: &rng)) }
            }
            let fast = matrix.product(x)
            let previous = lk_limit_simd(0)
            let scalar = matrix.product(x)
            _ = lk_limit_simd(previous)
            for t in 0..<tokens {
                for r in 0..<matrix.rows {
                    var exact = 0.0, magnitude = 0.0
                    for c in 0..<columns {
                        let term = Double(weights[r * columns + c]) * Double(x.scalars[t * columns + c])
                        exact += term
                        magnitude += abs(term)
                    }
                    let got = Double(fast.scalars[t * matrix.rows + r])
                    #expect(abs(got - exact) <= 1e-5 * magnitude, "\(type) row \(r) token \(t): \(got) vs \(exact)")
                    #expect(abs(got - Double(scalar.scalars[t * matrix.rows + r])) <= 1e-5 * magnitude, "\(type) AVX2 vs scalar")
                }
            }
        }
    }

    /// Q, K and V of different types (as in Q4_K_M files) stay quantized when stacked: one product
    /// each, side by side, not a Float32 copy.
    @Test func stackingMixedTypesKeepsEachQuantized() throws {
        let file = try Self.fixture()
        let (q4, _) = try Self.rows(.q4_K, in: file), (q6, _) = try Self.rows(.q6_K, in: file)
        let stacked = LinearWeight.stacked([.quantized(q4), .quantized(q6)])
        guard case .quantizedParts = stacked else { Issue.record("stacked as \(stacked), not quantized parts"); return }
        #expect(stacked.rows == q4.rows + q6.rows && stacked.byteCount == q4.byteCount + q6.byteCount)
        let x = Tensor(shape: [3, q4.columns]) { out in for i in 0..<out.count { out[i] = Float(i % 97) / 50 - 1 } }
        let joined = stacked.apply(x), first = q4.product(x), second = q6.product(x)
        for t in 0..<3 {
            #expect(Array(joined.scalars[(t * 8)..<(t * 8 + 4)]) == Array(first.scalars[(t * 4)..<(t * 4 + 4)]))
            #expect(Array(joined.scalars[(t * 8 + 4)..<(t * 8 + 8)]) == Array(second.scalars[(t * 4)..<(t * 4 + 4)]))
        }
    }
}
