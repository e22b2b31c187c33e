import Tensor

enum HalfPrecisionRound {
    static func f16(_ v: Float) -> Float { HalfPrecision.float(fromFloat16Bits: HalfPrecision.float16Bits(from: v)) }
    static func bf16(_ v: Float) -> Float { HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(from: v)) }
}
