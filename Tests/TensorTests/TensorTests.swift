import Foundation
import Testing
import Tensor

private func close(_ a: [Float], _ b: [Float], tolerance: Float = 1e-5) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
}

@Suite struct TensorTests {
    @Test func shapeMismatchIsRejected() {
        #expect(Tensor(shape: [2, 2], scalars: [1, 2, 3]) == nil)
        let t = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])!
        #expect(t[1, 2] == 6)
        #expect(t.rows == 2 && t.columns == 3)
        #expect(t.rows(1..<2).scalars == [4, 5, 6])
    }

    @Test func matmulByHand() {
        // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]
        let a = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])!
        let b = Tensor(shape: [2, 2], scalars: [5, 6, 7, 8])!
        #expect(Tensor.matmul(a, b).scalars == [19, 22, 43, 50])
        // Aᵀ·B = [1 3; 2 4]·B = [26 30; 38 44]
        #expect(Tensor.matmul(a, b, transposeA: true).scalars == [26, 30, 38, 44])
        // A·Bᵀ = [1 2; 3 4]·[5 7; 6 8] = [17 23; 39 53]
        #expect(Tensor.matmul(a, b, transposeB: true).scalars == [17, 23, 39, 53])
    }

    @Test func linearUsesWeightsOutByIn() {
        // W = [[1, 0, 2], [0, 1, -1]] (2 outputs, 3 inputs)
        let w = Tensor(shape: [2, 3], scalars: [1, 0, 2, 0, 1, -1])!
        let one = Tensor(shape: [1, 3], scalars: [1, 2, 3])!          // GEMV path
        #expect(Tensor.linear(one, weight: w).scalars == [7, -1])
        let two = Tensor(shape: [2, 3], scalars: [1, 2, 3, 0, 0, 1])!  // GEMM path
        #expect(Tensor.linear(two, weight: w).scalars == [7, -1, 2, -1])
    }

    @Test func rmsNormByHand() {
        // Row [3, 4]: mean square = 12.5, rms = 3.5355; with weight [1, 2] -> [0.8485, 2.2627]
        let x = Tensor(shape: [1, 2], scalars: [3, 4])!
        let w = Tensor(shape: [2], scalars: [1, 2])!
        let y = Tensor.rmsNorm(x, weight: w, epsilon: 0)
        #expect(close(y.scalars, [3 / 12.5.squareRoot(), 8 / 12.5.squareRoot()].map(Float.init)))
    }

    @Test func softmaxByHand() {
        // softmax([0, ln 3]) = [1/4, 3/4]; a huge shift must not overflow.
        let x = Tensor(shape: [2, 2], scalars: [0, logf(3), 1000, 1000 + logf(3)])!
        #expect(close(Tensor.softmax(x).scalars, [0.25, 0.75, 0.25, 0.75]))
    }

    @Test func siluByHand() {
        // silu(0) = 0, silu(ln 3) = ln3 · 3/4
        let x = Tensor(shape: [2], scalars: [0, logf(3)])!
        #expect(close(Tensor.silu(x).scalars, [0, logf(3) * 0.75]))
        let up = Tensor(shape: [2], scalars: [5, 2])!
        #expect(close(Tensor.siluGate(x, up).scalars, [0, logf(3) * 1.5]))
    }

    @Test func elementwiseByHand() {
        let a = Tensor(shape: [3], scalars: [1, 2, 3])!, b = Tensor(shape: [3], scalars: [4, 5, 6])!
        #expect((a + b).scalars == [5, 7, 9])
        #expect((b - a).scalars == [3, 3, 3])
        #expect((a * b).scalars == [4, 10, 18])
        #expect((a * 2).scalars == [2, 4, 6])
    }

    @Test func gatherPicksRowsAndRejectsBadIndex() {
        let table = Tensor(shape: [3, 2], scalars: [0, 1, 10, 11, 20, 21])!
        #expect(Tensor.gather(table, rows: [2, 0, 2])?.scalars == [20, 21, 0, 1, 20, 21])
        #expect(Tensor.gather(table, rows: [3]) == nil)
        #expect(Tensor.gather(table, rows: [-1]) == nil)
    }

    @Test func ropeRotatesHalfPairs() {
        // headDim 4: pairs (0,2) at frequency 1 and (1,3) at frequency 0.5; position 1 rotates
        // (1,0) by 1 rad -> (cos1, sin1) and (0,1) by 0.5 rad -> (-sin.5, cos.5).
        let x = Tensor(shape: [2, 4], scalars: [1, 0, 0, 1, 1, 0, 0, 1])!
        let y = Tensor.rope(x, positions: [0, 1], headDim: 4, inverseFrequencies: [1, 0.5])
        let expected: [Float] = [1, 0, 0, 1, cosf(1), -sinf(0.5), sinf(1), cosf(0.5)]
        #expect(close(y.scalars, expected))
    }

    @Test func halfPrecisionConversions() {
        #expect(HalfPrecision.float(fromFloat16Bits: 0x3C00) == 1)
        #expect(HalfPrecision.float(fromFloat16Bits: 0xC000) == -2)
        #expect(HalfPrecision.float(fromFloat16Bits: 0x0001) == 5.9604644775390625e-08)
        #expect(HalfPrecision.float(fromFloat16Bits: 0x7C00) == .infinity)
        #expect(HalfPrecision.float(fromBFloat16Bits: 0x3F80) == 1)
        #expect(HalfPrecision.float(fromBFloat16Bits: 0xC040) == -3)
        for v: Float in [0.5, -1.25, 65504, 1e-6, 3.14159] {
            let back = HalfPrecision.float(fromFloat16Bits: HalfPrecision.float16Bits(from: v))
            #expect(abs(back - v) <= abs(v) * 1e-3 + 1e-7)
            let bf = HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(from: v))
            #expect(abs(bf - v) <= abs(v) * 1e-2)
        }
    }

    @Test func blasThreadsAreSettable() {
        BLASThreads.set(1)
        #expect(BLASThreads.current == 1)
    }
}

/// Backward kernels against central finite differences of a scalar loss L = Σ y ⊙ probe.
@Suite struct BackwardTests {
    func tensor(_ shape: [Int], seed: Int) -> Tensor {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        return Tensor(shape: shape) { out in
            for i in 0..<out.count {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                out[i] = Float(state % 2000) / 1000 - 1
            }
        }
    }

    /// dL/dx by finite differences, where L(x) = Σ f(x) ⊙ probe.
    func numeric(_ x: Tensor, probe: Tensor, _ f: (Tensor) -> Tensor) -> [Float] {
        let h: Float = 1e-2
        return (0..<x.count).map { i in
            var plus = x, minus = x
            plus.scalars[i] += h
            minus.scalars[i] -= h
            let lp = zip(f(plus).scalars, probe.scalars).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            let lm = zip(f(minus).scalars, probe.scalars).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            return (lp - lm) / (2 * h)
        }
    }

    func near(_ a: [Float], _ b: [Float]) -> Bool { zip(a, b).allSatisfy { abs($0 - $1) <= 2e-2 * max(1, abs($1)) } }

    @Test func matmulAndLinear() {
        let a = tensor([2, 3], seed: 1), b = tensor([3, 4], seed: 2), g = tensor([2, 4], seed: 3)
        let grads = Backward.matmul(a, b, gradient: g)
        #expect(near(grads.a.scalars, numeric(a, probe: g) { Tensor.matmul($0, b) }))
        #expect(near(grads.b.scalars, numeric(b, probe: g) { Tensor.matmul(a, $0) }))
        let bt = tensor([4, 3], seed: 4), at = tensor([3, 2], seed: 5)
        let t = Backward.matmul(at, bt, transposeA: true, transposeB: true, gradient: g)
        #expect(near(t.a.scalars, numeric(at, probe: g) { Tensor.matmul($0, bt, transposeA: true, transposeB: true) }))
        #expect(near(t.b.scalars, numeric(bt, probe: g) { Tensor.matmul(at, $0, transposeA: true, transposeB: true) }))
        let w = tensor([4, 3], seed: 6)
        let l = Backward.linear(a, weight: w, gradient: g)
        #expect(near(l.x.scalars, numeric(a, probe: g) { Tensor.linear($0, weight: w) }))
        #expect(near(l.weight.scalars, numeric(w, probe: g) { Tensor.linear(a, weight: $0) }))
    }

    @Test func pointwiseAndRowOps() {
        let x = tensor([3, 5], seed: 7), g = tensor([3, 5], seed: 8), w = tensor([5], seed: 9)
        #expect(near(Backward.silu(x, gradient: g).scalars, numeric(x, probe: g) { Tensor.silu($0) }))
        #expect(near(Backward.softmax(output: Tensor.softmax(x), gradient: g).scalars, numeric(x, probe: g) { Tensor.softmax($0) }))
        let r = Backward.rmsNorm(x, weight: w, epsilon: 1e-5, gradient: g)
        #expect(near(r.x.scalars, numeric(x, probe: g) { Tensor.rmsNorm($0, weight: w, epsilon: 1e-5) }))
        #expect(near(r.weight.scalars, numeric(w, probe: g) { Tensor.rmsNorm(x, weight: $0, epsilon: 1e-5) }))
        let table = tensor([4, 5], seed: 10)
        let picked = Backward.gather(tableShape: table.shape, rows: [2, 0, 2], gradient: g)
        #expect(near(picked.scalars, numeric(table, probe: g) { Tensor.gather($0, rows: [2, 0, 2])! }))
    }
}
