import CKernels
import Foundation
import Tensor
import Testing
@testable import WorkerCore
import DeterministicRandom

/// Q4_K, Q6_K and Q5_0 (the types of Q4_K_M files) against llama.cpp: Fixtures/kquant-rows.gguf
/// holds rows of each type cut from a Q4_K_M SmolLM2 beside llama.cpp's dequantization of them,
/// kquant-products.gguf llama.cpp's products of those rows with activations of 1, 5 and 9 rows
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
        var rng = SplitMix64(seed: 0x4B51)   // seeded: reproducible, and TSan-safe (see EnvelopeCodecTests)
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

    /// The products are llama.cpp's floats, bit for bit, on every path (AVX2 and scalar) and batch
    /// size: its x86 kernels round differently per batch (Q4_K: a 4-row gemm then a gemv for the
    /// rest; Q6_K: its AVX2 dot below 8 rows, its tiled kernel from 8), and one flipped rounding
    /// changes greedy tokens after 30 layers.
    @Test func productsEqualLlamaCppBitForBit() throws {
        let rows = try Self.fixture()
        let products = try GGUFFile(path: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/kquant-products.gguf").path)
        var cases = 0
        for type in Self.types {
            let (matrix, _) = try Self.rows(type, in: rows)
            for batch in [1, 5, 9] {
                let xInfo = try #require(products.tensors["\(type).x\(batch)"]), yInfo = try #require(products.tensors["\(type).y\(batch)"])
                #expect(xInfo.elementCount == batch * matrix.columns && yInfo.elementCount == batch * matrix.rows)
                let x = try #require(Tensor(shape: [batch, matrix.columns], scalars: products.withBytes(of: xInfo) { Array($0.bindMemory(to: Float.self)) }))
                let expected = products.withBytes(of: yInfo) { Array($0.bindMemory(to: Float.self)) }
                let fast = matrix.product(x).scalars
                let previous = lk_limit_simd(0)
                let scalar = matrix.product(x).scalars
                _ = lk_limit_simd(previous)
                let differing = zip(fast, expected).filter { $0 != $1 }.count
                #expect(differing == 0, "\(type), \(batch) rows: \(differing) of \(expected.count) products differ from llama.cpp's")
                let scalarDiffering = zip(scalar, expected).filter { $0 != $1 }.count
                #expect(scalarDiffering == 0, "\(type), \(batch) rows: \(scalarDiffering) products of the scalar path differ from llama.cpp's")
                cases += 1
            }
        }
        #expect(cases == 9)
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
        let joined = stacked.apply(x), first = q4.product(x), second = q6.product(x), width = q4.rows + q6.rows
        for t in 0..<3 {
            #expect(Array(joined.scalars[(t * width)..<(t * width + q4.rows)]) == Array(first.scalars[(t * q4.rows)..<((t + 1) * q4.rows)]))
            #expect(Array(joined.scalars[(t * width + q4.rows)..<((t + 1) * width)]) == Array(second.scalars[(t * q6.rows)..<((t + 1) * q6.rows)]))
        }
    }
}
