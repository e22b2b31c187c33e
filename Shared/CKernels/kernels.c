// Quantized dot products: weight blocks (Q4_0, Q4_1, Q8_0) times activations quantized to
// 8 bits per 32-block. An AVX2 path is chosen at run time; a portable scalar path is the
// reference and the fallback.
#include "ckernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LK_X86 1
#endif

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
    float magnitude;
    if (exponent == 0) {
        magnitude = (float)mantissa * 5.9604644775390625e-08f;
    } else if (exponent == 31) {
        uint32_t bits = 0x7F800000u | (mantissa << 13);
        memcpy(&magnitude, &bits, 4);
    } else {
        uint32_t bits = ((exponent + 112) << 23) | (mantissa << 13);
        memcpy(&magnitude, &bits, 4);
    }
    return sign ? -magnitude : magnitude;
}

/// Float to binary16 and back, round to nearest even (the value a binary16 field would hold).
static float round_to_f16(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    uint32_t sign = bits & 0x80000000u;
    uint32_t magnitude_bits = bits & 0x7FFFFFFFu;
    float magnitude;
    memcpy(&magnitude, &magnitude_bits, 4);
    if (magnitude_bits >= 0x7F800000u) return value;               // inf, nan
    if (magnitude >= 65520.0f) { uint32_t inf = sign | 0x7F800000u; float r; memcpy(&r, &inf, 4); return r; }
    float rounded;
    if (magnitude < 6.103515625e-05f) {                            // binary16 subnormal: steps of 2^-24
        rounded = nearbyintf(magnitude * 16777216.0f) / 16777216.0f;
    } else {                                                       // keep 10 mantissa bits
        uint32_t lsb = (magnitude_bits >> 13) & 1;
        uint32_t r = (magnitude_bits + 0xFFF + lsb) & ~0x1FFFu;
        memcpy(&rounded, &r, 4);
    }
    return sign ? -rounded : rounded;
}

static uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static int force_scalar = 0;

int lk_force_scalar(int on) {
    int previous = force_scalar;
    force_scalar = on;
    return previous;
}

int lk_uses_avx2(void) {
#ifdef LK_X86
    return !force_scalar && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return 0;
#endif
}

void lk_quantize_q8(const float *x, lk_q8_block *y, int n) {
    for (int b = 0; b < n / 32; b++) {
        const float *v = x + 32 * b;
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(v[j]));
        float d = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            int q = (int)nearbyintf(v[j] * id);
            y[b].qs[j] = (int8_t)q;
            sum += q;
        }
        y[b].d = round_to_f16(d);
        y[b].s = round_to_f16(d * (float)sum);
    }
}

// ---- scalar reference ----

static float dot_scalar(int type, const uint8_t *row, const lk_q8_block *y, int blocks) {
    float total = 0;
    for (int b = 0; b < blocks; b++) {
        const lk_q8_block *a = y + b;
        int sum = 0;
        switch (type) {
        case LK_Q4_0: {
            const uint8_t *blk = row + 18 * b;
            for (int j = 0; j < 16; j++) {
                sum += ((blk[2 + j] & 0x0F) - 8) * a->qs[j] + ((blk[2 + j] >> 4) - 8) * a->qs[j + 16];
            }
            total += f16_to_f32(load_u16(blk)) * a->d * (float)sum;
            break;
        }
        case LK_Q4_1: {
            const uint8_t *blk = row + 20 * b;
            for (int j = 0; j < 16; j++) sum += (blk[4 + j] & 0x0F) * a->qs[j] + (blk[4 + j] >> 4) * a->qs[j + 16];
            total += f16_to_f32(load_u16(blk)) * a->d * (float)sum + f16_to_f32(load_u16(blk + 2)) * a->s;
            break;
        }
        default: {   // LK_Q8_0
            const uint8_t *blk = row + 34 * b;
            for (int j = 0; j < 32; j++) sum += (int8_t)blk[2 + j] * a->qs[j];
            total += f16_to_f32(load_u16(blk)) * a->d * (float)sum;
            break;
        }
        }
    }
    return total;
}

// ---- AVX2 ----

#ifdef LK_X86
#define LK_AVX2 __attribute__((target("avx2,fma,f16c")))

LK_AVX2 static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// The 32 nibbles of a 16-byte block as bytes: low nibbles (elements 0–15) then high (16–31).
LK_AVX2 static inline __m256i nibbles(const uint8_t *qs) {
    __m128i raw = _mm_loadu_si128((const __m128i *)qs);
    __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

/// Σ x·y over 32 signed bytes each, as 8 int32 lanes converted to float.
LK_AVX2 static inline __m256 dot_i8(__m256i x, __m256i y) {
    __m256i products = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(products, _mm256_set1_epi16(1)));
}

/// Σ x·y with x unsigned bytes (0–15) and y signed bytes.
LK_AVX2 static inline __m256 dot_u8i8(__m256i x, __m256i y) {
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1)));
}

/// One weight block decoded for the 8-bit product: its values as bytes (`unsigned_values`:
/// 0–15 to multiply as unsigned, else signed with the sign moved onto the activations), its
/// scale, and for Q4_1 its minimum.
typedef struct { __m256i values; float scale, minimum; int is_unsigned; } lk_block;

LK_AVX2 static inline lk_block decode_block(int type, const uint8_t *row, int b) {
    lk_block k;
    switch (type) {
    case LK_Q4_0: {
        const uint8_t *blk = row + 18 * b;
        k.values = _mm256_sub_epi8(nibbles(blk + 2), _mm256_set1_epi8(8));
        k.scale = _cvtsh_ss(load_u16(blk)); k.minimum = 0; k.is_unsigned = 0;
        break;
    }
    case LK_Q4_1: {
        const uint8_t *blk = row + 20 * b;
        k.values = nibbles(blk + 4);
        k.scale = _cvtsh_ss(load_u16(blk)); k.minimum = _cvtsh_ss(load_u16(blk + 2)); k.is_unsigned = 1;
        break;
    }
    default: {
        const uint8_t *blk = row + 34 * b;
        k.values = _mm256_loadu_si256((const __m256i *)(blk + 2));
        k.scale = _cvtsh_ss(load_u16(blk)); k.minimum = 0; k.is_unsigned = 0;
        break;
    }
    }
    return k;
}

LK_AVX2 static inline __m256 block_dot(const lk_block *k, const lk_q8_block *a) {
    __m256i q = _mm256_loadu_si256((const __m256i *)a->qs);
    return k->is_unsigned ? dot_u8i8(k->values, q) : dot_i8(k->values, q);
}

/// Rows [row_begin, row_end) against `tokens` activation rows. Each weight block is decoded once
/// and used for up to four tokens, so prefill reads and unpacks the weights a quarter as often.
LK_AVX2 static void matmul_avx2(int type, const uint8_t *base, size_t row_bytes, int row_begin, int row_end, int blocks,
                                const lk_q8_block *x, int tokens, float *out, size_t out_stride) {
    for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = base + r * row_bytes;
        int t = 0;
        for (; t + 4 <= tokens; t += 4) {
            const lk_q8_block *a0 = x + (size_t)t * blocks, *a1 = a0 + blocks, *a2 = a1 + blocks, *a3 = a2 + blocks;
            __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
            float m0 = 0, m1 = 0, m2 = 0, m3 = 0;
            for (int b = 0; b < blocks; b++) {
                lk_block k = decode_block(type, row, b);
                s0 = _mm256_fmadd_ps(_mm256_set1_ps(k.scale * a0[b].d), block_dot(&k, a0 + b), s0);
                s1 = _mm256_fmadd_ps(_mm256_set1_ps(k.scale * a1[b].d), block_dot(&k, a1 + b), s1);
                s2 = _mm256_fmadd_ps(_mm256_set1_ps(k.scale * a2[b].d), block_dot(&k, a2 + b), s2);
                s3 = _mm256_fmadd_ps(_mm256_set1_ps(k.scale * a3[b].d), block_dot(&k, a3 + b), s3);
                m0 += k.minimum * a0[b].s; m1 += k.minimum * a1[b].s; m2 += k.minimum * a2[b].s; m3 += k.minimum * a3[b].s;
            }
            out[(t + 0) * out_stride + r] = hsum(s0) + m0;
            out[(t + 1) * out_stride + r] = hsum(s1) + m1;
            out[(t + 2) * out_stride + r] = hsum(s2) + m2;
            out[(t + 3) * out_stride + r] = hsum(s3) + m3;
        }
        for (; t < tokens; t++) {
            const lk_q8_block *a = x + (size_t)t * blocks;
            __m256 s = _mm256_setzero_ps();
            float m = 0;
            for (int b = 0; b < blocks; b++) {
                lk_block k = decode_block(type, row, b);
                s = _mm256_fmadd_ps(_mm256_set1_ps(k.scale * a[b].d), block_dot(&k, a + b), s);
                m += k.minimum * a[b].s;
            }
            out[t * out_stride + r] = hsum(s) + m;
        }
    }
}
#endif

void lk_matmul(int type, const void *w, size_t row_bytes, int row_begin, int row_end, int blocks,
               const lk_q8_block *x, int tokens, float *out, size_t out_stride) {
    const uint8_t *base = (const uint8_t *)w;
#ifdef LK_X86
    if (lk_uses_avx2()) {
        // Tokens in tiles whose 8-bit activations stay in cache while every row streams past.
        for (int t = 0; t < tokens; t += 64) {
            int n = tokens - t < 64 ? tokens - t : 64;
            matmul_avx2(type, base, row_bytes, row_begin, row_end, blocks, x + (size_t)t * blocks, n, out + (size_t)t * out_stride, out_stride);
        }
        return;
    }
#endif
    for (int r = row_begin; r < row_end; r++) {
        for (int t = 0; t < tokens; t++) out[t * out_stride + r] = dot_scalar(type, base + r * row_bytes, x + (size_t)t * blocks, blocks);
    }
}
