// Q5_0, Q4_K and Q6_K weights: each 32 elements of a row decode to signed bytes with a scale per
// 16 and a minimum, so dequantization, the scalar and the AVX2 dot products share one decoding
// (the AVX2 path unpacks the bytes with SIMD; tests hold it equal to the scalar one), and the
// products run on 8-bit activation blocks like the other types.
#include "kquants.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LK_X86 1
#endif

#define LK_INLINE static inline __attribute__((always_inline))

LK_INLINE float half_to_float(const uint8_t *p) {
    uint16_t h = (uint16_t)(p[0] | (p[1] << 8));
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF, bits;
    if (exponent == 0) {
        float magnitude = (float)mantissa * 5.9604644775390625e-08f;
        return sign ? -magnitude : magnitude;
    }
    bits = sign | (exponent == 31 ? 0x7F800000u | (mantissa << 13) : ((exponent + 112) << 23) | (mantissa << 13));
    float value;
    memcpy(&value, &bits, 4);
    return value;
}

/// One 32-element group: element j is scale[j / 16] · values[j] + minimum.
typedef struct { int8_t values[32]; float scale[2]; float minimum; } lk_group;

LK_INLINE int block_bytes(int type) { return type == LK_Q5_0 ? 22 : type == LK_Q4_K ? 144 : 210; }
LK_INLINE int block_groups(int type) { return type == LK_Q5_0 ? 1 : 8; }

/// Q4_K's 6-bit scale and minimum of sub-block j (0–7), packed in 12 bytes.
LK_INLINE void q4k_scale_min(const uint8_t *packed, int j, int *scale, int *minimum) {
    if (j < 4) {
        *scale = packed[j] & 63;
        *minimum = packed[j + 4] & 63;
    } else {
        *scale = (packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4);
        *minimum = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
    }
}

/// Where group g (0-based, 32 elements each) of a row lies: its block and its index in the block.
LK_INLINE const uint8_t *group_block(int type, const uint8_t *row, int g, int *sub) {
    *sub = g % block_groups(type);
    return row + (size_t)(g / block_groups(type)) * block_bytes(type);
}

/// Block layouts. Q5_0: f16 d, 32 fifth bits, 16 bytes of nibbles (elements j and j + 16), value
/// (nibble | fifth << 4) - 16. Q4_K: f16 d, f16 dmin, 12 bytes of 6-bit scales and minimums,
/// 128 bytes in 64-element chunks (low nibbles, then high). Q6_K: 128 bytes of low nibbles, 64 of
/// high bit pairs, 16 signed scales (one per 16), f16 d; value (low | high << 4) - 32; each
/// 128-element half holds 4 groups: low or high nibbles of ql[0..31] or ql[32..63], pair q of qh.
LK_INLINE void group_scales(int type, const uint8_t *row, int g, lk_group *out) {
    int sub;
    const uint8_t *block = group_block(type, row, g, &sub);
    switch (type) {
    case LK_Q5_0:
        out->scale[0] = out->scale[1] = half_to_float(block);
        out->minimum = 0;
        break;
    case LK_Q4_K: {
        int scale, minimum;
        q4k_scale_min(block + 4, sub, &scale, &minimum);
        out->scale[0] = out->scale[1] = half_to_float(block) * (float)scale;
        out->minimum = -(half_to_float(block + 2) * (float)minimum);
        break;
    }
    default: {
        const int8_t *scales = (const int8_t *)(block + 192) + 8 * (sub / 4) + 2 * (sub % 4);
        float d = half_to_float(block + 208);
        out->scale[0] = d * (float)scales[0];
        out->scale[1] = d * (float)scales[1];
        out->minimum = 0;
        break;
    }
    }
}

static void decode_group(int type, const uint8_t *row, int g, lk_group *out) {
    int sub;
    const uint8_t *block = group_block(type, row, g, &sub);
    group_scales(type, row, g, out);
    switch (type) {
    case LK_Q5_0: {
        uint32_t high = (uint32_t)block[2] | (uint32_t)block[3] << 8 | (uint32_t)block[4] << 16 | (uint32_t)block[5] << 24;
        for (int j = 0; j < 16; j++) {
            out->values[j] = (int8_t)(((block[6 + j] & 0x0F) | (((high >> j) & 1) << 4)) - 16);
            out->values[j + 16] = (int8_t)(((block[6 + j] >> 4) | (((high >> (j + 16)) & 1) << 4)) - 16);
        }
        break;
    }
    case LK_Q4_K: {
        const uint8_t *qs = block + 16 + 32 * (sub / 2);
        for (int j = 0; j < 32; j++) out->values[j] = (int8_t)(sub % 2 ? qs[j] >> 4 : qs[j] & 0x0F);
        break;
    }
    default: {
        int half = sub / 4, quarter = sub % 4;
        const uint8_t *ql = block + 64 * half + (quarter % 2) * 32, *qh = block + 128 + 32 * half;
        for (int j = 0; j < 32; j++) {
            int low = quarter < 2 ? ql[j] & 0x0F : ql[j] >> 4;
            out->values[j] = (int8_t)((low | (((qh[j] >> (2 * quarter)) & 3) << 4)) - 32);
        }
        break;
    }
    }
}

void lk_quantize_q8_k(const float *x, lk_q8_block *y, int n) {
    for (int b = 0; b < n / 256; b++, x += 256, y += 8) {
        float largest = 0, magnitude = 0;
        for (int j = 0; j < 256; j++) {
            if (fabsf(x[j]) > magnitude) { magnitude = fabsf(x[j]); largest = x[j]; }
        }
        float inverse = magnitude > 0 ? -127.0f / largest : 0, d = magnitude > 0 ? 1.0f / inverse : 0;
        for (int g = 0; g < 8; g++) {
            int sum = 0;
            for (int j = 0; j < 32; j++) {
                int q = (int)nearbyintf(inverse * x[32 * g + j]);
                y[g].qs[j] = (int8_t)(q < 127 ? q : 127);
                sum += y[g].qs[j];
            }
            y[g].d = d;
            y[g].s = d * (float)sum;
        }
    }
}

void lk_kq_dequantize(int type, const void *blocks, int n, float *out) {
    lk_group group;
    for (int g = 0; g < n / 32; g++) {
        decode_group(type, (const uint8_t *)blocks, g, &group);
        for (int j = 0; j < 32; j++) out[32 * g + j] = group.scale[j / 16] * (float)group.values[j] + group.minimum;
    }
}

static float dot_scalar(int type, const uint8_t *row, const lk_q8_block *x, int groups) {
    float total = 0;
    lk_group group;
    for (int g = 0; g < groups; g++) {
        decode_group(type, row, g, &group);
        int low = 0, high = 0;
        for (int j = 0; j < 16; j++) {
            low += group.values[j] * x[g].qs[j];
            high += group.values[j + 16] * x[g].qs[j + 16];
        }
        total += x[g].d * (group.scale[0] * (float)low + group.scale[1] * (float)high) + group.minimum * x[g].s;
    }
    return total;
}

#ifdef LK_X86
#define LK_AVX2 __attribute__((target("avx2,fma,f16c")))

LK_AVX2 static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// Σ values·q in 8 int32 lanes, lanes 0–3 over elements 0–15 and 4–7 over 16–31, as floats.
LK_AVX2 LK_INLINE __m256 group_dot(__m256i values, const lk_q8_block *a) {
    __m256i q = _mm256_loadu_si256((const __m256i *)a->qs);
    __m256i products = _mm256_maddubs_epi16(_mm256_sign_epi8(values, values), _mm256_sign_epi8(q, values));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(products, _mm256_set1_epi16(1)));
}

/// decode_group's values with AVX2 (the layouts are described at group_scales).
LK_AVX2 LK_INLINE __m256i group_values_avx2(int type, const uint8_t *row, int g) {
    int sub;
    const uint8_t *block = group_block(type, row, g, &sub);
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    switch (type) {
    case LK_Q5_0: {
        __m128i raw = _mm_loadu_si128((const __m128i *)(block + 6));
        __m256i nibbles = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), low4);
        uint32_t high;
        memcpy(&high, block + 2, 4);
        // Byte j gets bit j of `high`: spread byte j / 8 over 8 bytes, then test bit j % 8.
        __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)high),
            _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
        __m256i fifth = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
        return _mm256_sub_epi8(_mm256_or_si256(nibbles, fifth), _mm256_set1_epi8(16));
    }
    case LK_Q4_K: {
        __m256i raw = _mm256_loadu_si256((const __m256i *)(block + 16 + 32 * (sub / 2)));
        return _mm256_and_si256(sub % 2 ? _mm256_srli_epi16(raw, 4) : raw, low4);
    }
    default: {
        int half = sub / 4, quarter = sub % 4;
        __m256i ql = _mm256_loadu_si256((const __m256i *)(block + 64 * half + (quarter % 2) * 32));
        __m256i qh = _mm256_loadu_si256((const __m256i *)(block + 128 + 32 * half));
        __m256i low = _mm256_and_si256(quarter < 2 ? ql : _mm256_srli_epi16(ql, 4), low4);
        __m256i pair = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * quarter)), _mm256_set1_epi8(3));
        return _mm256_sub_epi8(_mm256_or_si256(low, _mm256_slli_epi16(pair, 4)), _mm256_set1_epi8(32));
    }
    }
}

/// Rows against up to four tokens at a time, each group decoded once for all of them. Inlined
/// into matmul_avx2 once per type, so the type's layout is constant in the loops.
LK_AVX2 LK_INLINE void matmul_avx2_typed(int type, const uint8_t *base, size_t row_bytes, int row_begin, int row_end, int groups,
                                const lk_q8_block *x, int tokens, float *out, size_t out_stride) {
    lk_group group;
    for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = base + (size_t)r * row_bytes;
        for (int t = 0; t < tokens; t += 4) {
            int n = tokens - t < 4 ? tokens - t : 4;
            __m256 sums[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
            float minimums[4] = { 0, 0, 0, 0 };
            for (int g = 0; g < groups; g++) {
                group_scales(type, row, g, &group);
                __m256i values = group_values_avx2(type, row, g);
                __m256 scales = _mm256_setr_ps(group.scale[0], group.scale[0], group.scale[0], group.scale[0],
                                               group.scale[1], group.scale[1], group.scale[1], group.scale[1]);
                for (int k = 0; k < n; k++) {
                    const lk_q8_block *a = x + (size_t)(t + k) * groups + g;
                    sums[k] = _mm256_fmadd_ps(_mm256_mul_ps(scales, _mm256_set1_ps(a->d)), group_dot(values, a), sums[k]);
                    minimums[k] += group.minimum * a->s;
                }
            }
            for (int k = 0; k < n; k++) out[(size_t)(t + k) * out_stride + r] = hsum(sums[k]) + minimums[k];
        }
    }
}

LK_AVX2 static void matmul_avx2(int type, const uint8_t *base, size_t row_bytes, int row_begin, int row_end, int groups,
                                const lk_q8_block *x, int tokens, float *out, size_t out_stride) {
    switch (type) {
    case LK_Q5_0: matmul_avx2_typed(LK_Q5_0, base, row_bytes, row_begin, row_end, groups, x, tokens, out, out_stride); break;
    case LK_Q4_K: matmul_avx2_typed(LK_Q4_K, base, row_bytes, row_begin, row_end, groups, x, tokens, out, out_stride); break;
    default: matmul_avx2_typed(LK_Q6_K, base, row_bytes, row_begin, row_end, groups, x, tokens, out, out_stride); break;
    }
}
#endif

void lk_kq_matmul(int type, const void *w, size_t row_bytes, int row_begin, int row_end, int blocks,
                  const lk_q8_block *x, int tokens, float *out, size_t out_stride) {
    const uint8_t *base = (const uint8_t *)w;
#ifdef LK_X86
    if (lk_simd_level() >= 1) {
        for (int t = 0; t < tokens; t += 64) {   // activation tiles that stay in cache
            int n = tokens - t < 64 ? tokens - t : 64;
            matmul_avx2(type, base, row_bytes, row_begin, row_end, blocks, x + (size_t)t * blocks, n, out + (size_t)t * out_stride, out_stride);
        }
        return;
    }
#endif
    for (int r = row_begin; r < row_end; r++) {
        for (int t = 0; t < tokens; t++) {
            out[(size_t)t * out_stride + r] = dot_scalar(type, base + (size_t)r * row_bytes, x + (size_t)t * blocks, blocks);
        }
    }
}

typedef struct {
    int type; const void *w; size_t row_bytes; int rows, blocks; const lk_q8_block *x; int tokens; float *out; size_t out_stride;
} kq_job;

static void kq_part(void *context, int part, int parts) {
    const kq_job *j = context;
    int begin = (int)((int64_t)j->rows * part / parts), end = (int)((int64_t)j->rows * (part + 1) / parts);
    lk_kq_matmul(j->type, j->w, j->row_bytes, begin, end, j->blocks, j->x, j->tokens, j->out, j->out_stride);
}

void lk_kq_matmul_threads(int type, const void *w, size_t row_bytes, int rows, int blocks, const lk_q8_block *x, int tokens,
                          float *out, size_t out_stride, int threads) {
    int parts = rows / 64 < threads ? rows / 64 : threads;   // at least 64 rows a part, or the hand-off costs more than it saves
    kq_job job = { type, w, row_bytes, rows, blocks, x, tokens, out, out_stride };
    lk_parallel(kq_part, &job, parts < 1 ? 1 : parts);
}
