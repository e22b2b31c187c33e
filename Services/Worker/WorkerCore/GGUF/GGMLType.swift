import CKernels
import Tensor

/// The ggml element types a GGUF tensor can have that we read. Block types pack `blockSize`
/// elements into `blockBytes` bytes; each row of a matrix is a whole number of blocks.
public enum GGMLType: UInt32, Sendable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q8_0 = 8, q4_K = 12, q6_K = 14, bf16 = 30

    public var description: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"
        case .q4_K: "Q4_K"
        case .q6_K: "Q6_K"
        case .q8_0: "Q8_0"
        case .bf16: "BF16"
        }
    }

    /// Elements per block (1 for plain floats).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q4_1, .q5_0, .q8_0: 32
        case .q4_K, .q6_K: 256
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 18    // f16 scale, 16 bytes of 4-bit values
        case .q4_1: 20    // f16 scale, f16 minimum, 16 bytes of 4-bit values
        case .q5_0: 22    // f16 scale, 32 fifth bits, 16 bytes of 4-bit values
        case .q8_0: 34    // f16 scale, 32 signed bytes
        case .q4_K: 144   // f16 scale and minimum scale, 8 6-bit scales and minimums, 128 bytes of 4-bit values
        case .q6_K: 210   // 128 bytes of low 4 bits, 64 of high 2 bits, 16 signed scales, f16 scale
        }
    }

    public var isQuantized: Bool { blockSize > 1 }

    /// Types whose products run on kquants.c (the others on kernels.c).
    var usesKQuantKernels: Bool { self == .q5_0 || self == .q4_K || self == .q6_K }

    /// Bytes taken by `count` elements (a multiple of `blockSize`).
    public func byteCount(elements count: Int) -> Int { count / blockSize * blockBytes }

    /// Converts `count` elements starting at `raw` to Float32 into `out`.
    func dequantize(_ raw: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        func half(_ offset: Int) -> Float {
            HalfPrecision.float(fromFloat16Bits: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self).littleEndian)
        }
        switch self {
        case .f32:
            for i in 0..<count { out[i] = Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian) }
        case .f16:
            for i in 0..<count { out[i] = half(2 * i) }
        case .bf16:
            for i in 0..<count {
                out[i] = HalfPrecision.float(fromBFloat16Bits: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian)
            }
        case .q4_0, .q4_1:
            let hasMin = self == .q4_1
            let header = hasMin ? 4 : 2
            for b in 0..<(count / 32) {
                let block = b * blockBytes
                let scale = half(block), minimum = hasMin ? half(block + 2) : -8 * scale
                for j in 0..<16 {
                    let byte = raw.load(fromByteOffset: block + header + j, as: UInt8.self)
                    out[b * 32 + j] = Float(byte & 0x0F) * scale + minimum
                    out[b * 32 + j + 16] = Float(byte >> 4) * scale + minimum
                }
            }
        case .q5_0, .q4_K, .q6_K:
            lk_kq_dequantize(Int32(rawValue), raw, Int32(count), out)
        case .q8_0:
            for b in 0..<(count / 32) {
                let block = b * blockBytes
                let scale = half(block)
                for j in 0..<32 { out[b * 32 + j] = Float(raw.load(fromByteOffset: block + 2 + j, as: Int8.self)) * scale }
            }
        }
    }
}
