import CKernels
import Foundation
import Tensor
import Testing

/// The C kernels on synthetic data: every SIMD path gives the scalar path's floats exactly, and
/// the scalar path computes what it claims (checked against Float64 arithmetic).
@Suite(.serialized) struct KernelTests {
    /// Runs `body` at every SIMD level this CPU has (0 = scalar), restoring the cap after.
    static func atEachLevel<T>(_ body: (Int32) -> T) -> [T] {
        let best = lk_simd_level()
        let previous = lk_limit_simd(0)
        defer { _ = lk_limit_simd(previous) }
        return (0...best).map { level in
            _ = lk_limit_simd(level)
            return body(level)
        }
    }

    static func half(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

    /// `rows` random ggml rows of `type` with sane binary16 scales (and minimums).
    static func randomRows(type: Int, rows: Int, blocks: Int, using rng: inout some RandomNumberGenerator) -> [UInt8] {
        let blockBytes = type == LK_Q4_1 ? 20 : (type == LK_Q4_0 ? 18 : 34)
        var bytes = (0..<(rows * blocks * blockBytes)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for b in 0..<(rows * blocks) {
            let scale = Float16(Float.random(in: 0.001...0.05, using: &rng)).bitPattern
            bytes[b * blockBytes] = UInt8(scale & 0xFF)
            bytes[b * blockBytes + 1] = UInt8(scale >> 8)
            if type == LK_Q4_1 {
                let minimum = Float16(Float.random(in: -0.3...0.0, using: &rng)).bitPattern
                bytes[b * blockBytes + 2] = UInt8(minimum & 0xFF)
                bytes[b * blockBytes + 3] = UInt8(minimum >> 8)
            }
        }
        return bytes
    }

    /// A ggml block's scale, minimum (Q4_1; else 0) and element i's integer value (Q4_0: nibble − 8).
    static func decode(type: Int, _ blk: ArraySlice<UInt8>, _ i: Int) -> (scale: Double, minimum: Double, value: Int) {
        let base = blk.startIndex
        let scale = Double(half(UInt16(blk[base]) | UInt16(blk[base + 1]) << 8))
        switch type {
        case LK_Q8_0: return (scale, 0, Int(Int8(bitPattern: blk[base + 2 + i])))
        case LK_Q4_1:
            let byte = blk[base + 4 + i % 16]
            return (scale, Double(half(UInt16(blk[base + 2]) | UInt16(blk[base + 3]) << 8)), Int(i < 16 ? byte & 0x0F : byte >> 4))
        default:
            let byte = blk[base + 2 + i % 16]
            return (scale, 0, Int(i < 16 ? byte & 0x0F : byte >> 4) - 8)
        }
    }

    @Test(arguments: [LK_Q4_0, LK_Q4_1, LK_Q8_0])
    func packedProductsAgreeAcrossPathsAndThreadsAndWithFloat64(type: Int) {
        var rng = SeededGenerator(seed: 7)
        let rows = 37, blocks = 5, tokens = 5   // rows not a multiple of the 16-row tile
        let blockBytes = type == LK_Q4_1 ? 20 : (type == LK_Q4_0 ? 18 : 34)
        let source = Self.randomRows(type: type, rows: rows, blocks: blocks, using: &rng)
        var packed = [UInt8](repeating: 0, count: lk_packed_size(Int32(type), Int32(rows), Int32(blocks)))
        lk_pack(Int32(type), source, blocks * blockBytes, nil, Int32(rows), Int32(blocks), &packed)
        // Unpacking gives the ggml rows back byte for byte.
        var row = [UInt8](repeating: 0, count: blocks * blockBytes)
        for r in 0..<rows {
            lk_unpack_row(Int32(type), packed, Int32(blocks), Int32(r), &row)
            #expect(row[...] == source[(r * blocks * blockBytes)..<((r + 1) * blocks * blockBytes)], "row \(r)")
        }
        let x = (0..<(tokens * blocks * 32)).map { _ in Float.random(in: -3...3, using: &rng) }
        var activations = [lk_q8_block](repeating: lk_q8_block(), count: tokens * blocks)
        lk_quantize_q8(x, &activations, Int32(x.count))
        let outputs = Self.atEachLevel { _ in
            (1...3).map { threads in
                var out = [Float](repeating: .nan, count: tokens * rows)
                lk_matmul(Int32(type), packed, Int32(rows), Int32(blocks), activations, Int32(tokens), &out, rows, Int32(threads))
                return out
            }
        }
        for (level, byThreads) in outputs.enumerated() {
            for (t, out) in byThreads.enumerated() { #expect(out == outputs[0][0], "level \(level), \(t + 1) threads") }
        }
        // Against Float64: Σ scale · value · d · q per block, plus for Q4_1 the minimum times the
        // activation block's stored d · Σq (llama.cpp's definition of the product).
        var worst = 0.0
        for t in 0..<tokens {
            for r in 0..<rows {
                var exact = 0.0
                for b in 0..<blocks {
                    let a = activations[t * blocks + b]
                    let blk = source[((r * blocks + b) * blockBytes)..<((r * blocks + b + 1) * blockBytes)]
                    let qs = withUnsafeBytes(of: a.qs) { Array($0.bindMemory(to: Int8.self)) }
                    let scale = Self.decode(type: type, blk, 0).scale, minimum = Self.decode(type: type, blk, 0).minimum
                    let sum = (0..<32).reduce(0) { $0 + Self.decode(type: type, blk, $1).value * Int(qs[$1]) }
                    exact += scale * Double(a.d) * Double(sum) + minimum * Double(a.s)
                }
                worst = max(worst, abs(Double(outputs[0][0][t * rows + r]) - exact) / max(1, abs(exact)))
            }
        }
        #expect(worst < 1e-5, "largest relative difference from Float64: \(worst)")
    }

    @Test func activationQuantizationIsLlamaCppsQ8_1() {
        var rng = SeededGenerator(seed: 11)
        var x = (0..<256).map { _ in Float.random(in: -5...5, using: &rng) }
        x.replaceSubrange(32..<64, with: repeatElement(0, count: 32))   // an all-zero block
        let blocks = Self.atEachLevel { _ in
            var y = [lk_q8_block](repeating: lk_q8_block(), count: 8)
            lk_quantize_q8(x, &y, 256)
            return y
        }
        for (level, y) in blocks.enumerated() {
            for b in 0..<8 {
                let v = x[(32 * b)..<(32 * b + 32)]
                let amax = v.map(abs).max()!
                let d = amax / 127, inverse: Float = amax != 0 ? 127 / amax : 0
                let q = v.map { Int(($0 * inverse).rounded(.toNearestOrEven)) }
                let qs = withUnsafeBytes(of: y[b].qs) { $0.bindMemory(to: Int8.self).map(Int.init) }
                #expect(qs == q, "level \(level) block \(b)")
                #expect(Int(y[b].sum) == q.reduce(0, +))
                #expect(y[b].d == Float(Float16(d)), "d is rounded to binary16")
                #expect(y[b].s == Float(Float16(d * Float(q.reduce(0, +)))), "s = d · Σq rounded to binary16")
            }
        }
    }

    @Test func attentionPathsAgreeAndMatchFloat64Softmax() {
        var rng = SeededGenerator(seed: 3)
        let heads = 9, kvHeads = 3, headDim = 64, length = 41, kvWidth = kvHeads * headDim
        let f16 = { (v: Float) in Float(Float16(v)) }
        // A paged cache: positions in shuffled slots, each slot kvWidth floats.
        let slots = Array((0..<length).shuffled(using: &rng))
        let keys = (0..<(length * kvWidth)).map { _ in f16(Float.random(in: -2...2, using: &rng)) }
        let values = (0..<(length * kvWidth)).map { _ in f16(Float.random(in: -2...2, using: &rng)) }
        let query = (0..<(heads * headDim)).map { _ in Float.random(in: -2...2, using: &rng) }
        let rows = slots.map { CLong($0 * kvWidth) }
        let scale = 1 / Float(headDim).squareRoot()
        let outputs = Self.atEachLevel { _ in
            var out = [Float](repeating: .nan, count: heads * headDim)
            var scratch = [Float](repeating: 0, count: 4 * headDim)
            lk_attend_one(query, keys.map { Float16($0).bitPattern }, values.map { Float16($0).bitPattern }, rows, 0, Int32(length), Int32(heads), Int32(heads / kvHeads), Int32(headDim),
                          scale, &scratch, &out)
            return out
        }
        for (level, out) in outputs.enumerated() { #expect(out == outputs[0], "level \(level)") }
        var worst = 0.0
        for h in 0..<heads {
            let kv = (h / (heads / kvHeads)) * headDim
            let scores = (0..<length).map { j in
                (0..<headDim).reduce(0.0) { $0 + Double(f16(query[h * headDim + $1])) * Double(keys[slots[j] * kvWidth + kv + $1]) } * Double(scale)
            }
            let top = scores.max()!
            let weights = scores.map { exp($0 - top) }, total = weights.reduce(0, +)
            for d in 0..<headDim {
                let exact = (0..<length).reduce(0.0) { $0 + weights[$1] * Double(values[slots[$1] * kvWidth + kv + d]) } / total
                worst = max(worst, abs(Double(outputs[0][h * headDim + d]) - exact))
            }
        }
        // The running sum is kept in binary16 (as llama.cpp's), so about 1e-3 of the values' size.
        #expect(worst < 4e-3, "largest difference from Float64 attention: \(worst)")
    }

    @Test func swigluPathsAgreeAndMatchFloat64() {
        let width = 4096
        // Gates over [-100, 100] (both 2^n branches of the exponential), ups over [-2, 2].
        let gateUp = (0..<width).map { Float($0 - width / 2) * 0.049 } + (0..<width).map { Float($0 % 7) * 0.6 - 2 }
        let outputs = Self.atEachLevel { _ in
            var out = [Float](repeating: .nan, count: width)
            lk_swiglu(gateUp, 1, Int32(width), &out)
            return out
        }
        for (level, out) in outputs.enumerated() { #expect(out == outputs[0], "level \(level)") }
        // Within 1e-6 relative (llama.cpp's exponential gives 0 below about e^-88, hence the 1e-30 floor).
        let outside = (0..<width).filter { i in
            let x = Double(gateUp[i]), exact = x / (1 + Foundation.exp(-x)) * Double(gateUp[width + i])
            return abs(Double(outputs[0][i]) - exact) > 1e-6 * abs(exact) + 1e-30
        }
        #expect(outside.isEmpty, "SiLU off Float64 at gates \(outside.prefix(5).map { gateUp[$0] })")
    }

    @Test func parallelRunsEveryPartOnce() {
        for parts in 1...4 {
            var counts = [Int32](repeating: 0, count: parts)
            for _ in 0..<200 {
                counts.withUnsafeMutableBufferPointer { buffer in
                    lk_parallel({ context, part, _ in
                        context!.assumingMemoryBound(to: Int32.self)[Int(part)] += 1
                    }, buffer.baseAddress, Int32(parts))
                }
            }
            #expect(counts == [Int32](repeating: 200, count: parts), "\(parts) parts")
        }
    }
}
