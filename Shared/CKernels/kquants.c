// Q5_0, Q4_K and Q6_K weights: each 32 elements of a row decode to bytes with a scale per 16 and a
// minimum, so dequantization, the scalar and the AVX2 dot products share one decoding (the AVX2
// path unpacks the bytes with SIMD; tests hold it equal to the scalar one). The products round as
// llama.cpp's x86 kernels do: Q5_0 per 32-block on Q8_0 activations; Q4_K and Q6_K with exact
// integer sums per 256-element super-block on Q8_K activations and one float multiply-add per
// super-block (Q4_K: Σ scale·(q·a) and Σ minimum·Σa, as its repacked 8-row kernels, whose
// 4-row gemm takes the sums per 64 elements and whose gemv, for the last rows % 4, per 256;
// Q6_K: 8 partial lanes, as its AVX2 dot, added pairwise at the end, or for products of 8 or
// more activation rows, which llama.cpp runs in its tiled K-quant kernel, one exact sum).
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
            y[g].sum = sum;
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

/// Σ over the 8 lanes in the order llama.cpp's horizontal sum adds them.
LK_INLINE float lane_sum(const float *v) { return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7])); }

/// Q5_0 as llama.cpp's AVX2 dot: per block, lane k (elements 4k to 4k+3) gets
/// fma(Σ value·a, d_w·d_a); the lanes are added pairwise at the end.
static float q5_0_dot_scalar(const uint8_t *row, const lk_q8_block *x, int groups) {
    float lanes[8] = { 0 };
    lk_group group;
    for (int g = 0; g < groups; g++) {
        decode_group(LK_Q5_0, row, g, &group);
        float scale = group.scale[0] * x[g].d;
        for (int k = 0; k < 8; k++) {
            int sum = 0;
            for (int j = 4 * k; j < 4 * k + 4; j++) sum += group.values[j] * x[g].qs[j];
            lanes[k] = fmaf((float)sum, scale, lanes[k]);
        }
    }
    return lane_sum(lanes);
}

/// Q6_K's 6-bit values of group g (32 elements) before the -32 offset.
LK_INLINE void q6k_unsigned(const uint8_t *block, int g, uint8_t *out) {
    int half = g / 4, quarter = g % 4;
    const uint8_t *ql = block + 64 * half + (quarter % 2) * 32, *qh = block + 128 + 32 * half;
    for (int j = 0; j < 32; j++) out[j] = (uint8_t)((quarter < 2 ? ql[j] & 0x0F : ql[j] >> 4) | (((qh[j] >> (2 * quarter)) & 3) << 4));
}

/// `per64`: one multiply-add per 64 elements (llama.cpp's gemm rows), else per 256 (its gemv).
static float q4k_dot_scalar(const uint8_t *row, const lk_q8_block *x, int superblocks, int per64) {
    float acc = 0, acc_min = 0;
    for (int b = 0; b < superblocks; b++, row += 144, x += 8) {
        int isum = 0, imin = 0;
        for (int j = 0; j < 8; j++) {
            int scale, minimum, dot = 0;
            q4k_scale_min(row + 4, j, &scale, &minimum);
            const uint8_t *qs = row + 16 + 32 * (j / 2);
            for (int e = 0; e < 32; e++) dot += (j % 2 ? qs[e] >> 4 : qs[e] & 0x0F) * x[j].qs[e];
            isum += scale * dot;
            imin += minimum * x[j].sum;
            if (j == 7 || (per64 && j % 2 == 1)) {
                acc = fmaf((float)isum, half_to_float(row) * x[0].d, acc);
                acc_min = fmaf((float)imin, half_to_float(row + 2) * x[0].d, acc_min);
                isum = imin = 0;
            }
        }
    }
    return acc - acc_min;
}

/// Lane l of a super-block holds elements 4l to 4l+3 of each 32-block, less 32·Σ scale·a over
/// 32-block l (the -32 offset, taken from the activation sums).
static float q6k_dot_scalar(const uint8_t *row, const lk_q8_block *x, int superblocks, int batched) {
    float acc[8] = { 0 }, total = 0;
    uint8_t values[32];
    for (int b = 0; b < superblocks; b++, row += 210, x += 8) {
        const int8_t *scales = (const int8_t *)(row + 192);
        int lanes[8] = { 0 };
        for (int g = 0; g < 8; g++) {
            q6k_unsigned(row, g, values);
            int offset = 0;
            for (int e = 0; e < 32; e++) {
                lanes[(e / 4) % 8] += scales[2 * g + e / 16] * values[e] * x[g].qs[e];
                offset += scales[2 * g + e / 16] * x[g].qs[e];
            }
            lanes[g] -= 32 * offset;
        }
        if (batched) {
            int sum = 0;
            for (int l = 0; l < 8; l++) sum += lanes[l];
            total = fmaf((float)sum * half_to_float(row + 208), x[0].d, total);
        } else {
            float d = x[0].d * half_to_float(row + 208);
            for (int l = 0; l < 8; l++) acc[l] = fmaf(d, (float)lanes[l], acc[l]);
        }
    }
    return batched ? total : lane_sum(acc);
}

/// llama.cpp takes its tiled kernel for Q6_K products of at least this many activation rows.
enum { TILED_ROWS = 8 };

static float kq_dot_scalar(int type, const uint8_t *row, const lk_q8_block *x, int groups, int batched, int per64) {
    switch (type) {
    case LK_Q4_K: return q4k_dot_scalar(row, x, groups / 8, per64);
    case LK_Q6_K: return q6k_dot_scalar(row, x, groups / 8, batched);
    default: return q5_0_dot_scalar(row, x, groups);
    }
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

/// Q5_0's values of group g with AVX2 (the layout is described at group_scales).
LK_AVX2 LK_INLINE __m256i q5_0_values_avx2(const uint8_t *row, int g) {
    const uint8_t *block = row + (size_t)g * 22;
    __m128i raw = _mm_loadu_si128((const __m128i *)(block + 6));
    __m256i nibbles = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0F));
    uint32_t high;
    memcpy(&high, block + 2, 4);
    // Byte j gets bit j of `high`: spread byte j / 8 over 8 bytes, then test bit j % 8.
    __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)high),
        _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i fifth = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
    return _mm256_sub_epi8(_mm256_or_si256(nibbles, fifth), _mm256_set1_epi8(16));
}

/// q5_0_dot_scalar with AVX2, rows against up to four tokens at a time, each block decoded once.
LK_AVX2 static void q5_0_rows_avx2(const uint8_t *base, size_t row_bytes, int row_begin, int row_end, int groups,
                                   const lk_q8_block *x, int tokens, float *out, size_t out_stride) {
    for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = base + (size_t)r * row_bytes;
        for (int t = 0; t < tokens; t += 4) {
            int n = tokens - t < 4 ? tokens - t : 4;
            __m256 sums[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
            for (int g = 0; g < groups; g++) {
                __m256i values = q5_0_values_avx2(row, g);
                __m256 scale = _mm256_set1_ps(half_to_float(row + (size_t)g * 22));
                for (int k = 0; k < n; k++) {
                    const lk_q8_block *a = x + (size_t)(t + k) * groups + g;
                    sums[k] = _mm256_fmadd_ps(_mm256_mul_ps(scale, _mm256_set1_ps(a->d)), group_dot(values, a), sums[k]);
                }
            }
            for (int k = 0; k < n; k++) out[(size_t)(t + k) * out_stride + r] = hsum(sums[k]);
        }
    }
}

LK_AVX2 LK_INLINE int hsum_int(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

/// q4k_dot_scalar and q6k_dot_scalar with AVX2 for up to four tokens, each group decoded once;
/// tokens before `per64_end` take Q4_K's per-64 sums.
LK_AVX2 static void kquant_rows_avx2(int type, const uint8_t *base, size_t row_bytes, int row_begin, int row_end, int groups,
                                     const lk_q8_block *x, int tokens, float *out, size_t out_stride, int batched, int per64_end) {
    const int superblocks = groups / 8;
    const __m256i low4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi8(1);
    for (int r = row_begin; r < row_end; r++) {
        for (int t = 0; t < tokens; t += 4) {
            int n = tokens - t < 4 ? tokens - t : 4;
            float acc[4] = { 0 }, acc_min[4] = { 0 };   // Q4_K, and batched Q6_K (acc)
            __m256 lanes_acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
            const uint8_t *block = base + (size_t)r * row_bytes;
            for (int b = 0; b < superblocks; b++, block += type == LK_Q4_K ? 144 : 210) {
                __m256i lanes[4], offsets[4][8];
                int imin[4] = { 0 };
                for (int k = 0; k < n; k++) lanes[k] = _mm256_setzero_si256();
                for (int g = 0; g < 8; g++) {
                    __m256i values, scales;
                    int minimum = 0;
                    if (type == LK_Q4_K) {
                        int scale;
                        q4k_scale_min(block + 4, g, &scale, &minimum);
                        __m256i raw = _mm256_loadu_si256((const __m256i *)(block + 16 + 32 * (g / 2)));
                        values = _mm256_and_si256(g % 2 ? _mm256_srli_epi16(raw, 4) : raw, low4);
                        scales = _mm256_set1_epi16((short)scale);
                    } else {
                        int half = g / 4, quarter = g % 4;
                        __m256i ql = _mm256_loadu_si256((const __m256i *)(block + 64 * half + (quarter % 2) * 32));
                        __m256i qh = _mm256_loadu_si256((const __m256i *)(block + 128 + 32 * half));
                        __m256i low = _mm256_and_si256(quarter < 2 ? ql : _mm256_srli_epi16(ql, 4), low4);
                        __m256i pair = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * quarter)), _mm256_set1_epi8(3));
                        values = _mm256_or_si256(low, _mm256_slli_epi16(pair, 4));
                        const int8_t *sc = (const int8_t *)(block + 192) + 2 * g;
                        scales = _mm256_set_m128i(_mm_set1_epi16(sc[1]), _mm_set1_epi16(sc[0]));
                    }
                    for (int k = 0; k < n; k++) {
                        const lk_q8_block *a = x + (size_t)(t + k) * groups + 8 * b + g;
                        __m256i q = _mm256_loadu_si256((const __m256i *)a->qs);
                        lanes[k] = _mm256_add_epi32(lanes[k], _mm256_madd_epi16(_mm256_maddubs_epi16(values, q), scales));
                        if (type == LK_Q4_K) {
                            imin[k] += minimum * a->sum;
                            if (g == 7 || (t + k < per64_end && g % 2 == 1)) {
                                acc[k] = fmaf((float)hsum_int(lanes[k]), half_to_float(block) * a->d, acc[k]);
                                acc_min[k] = fmaf((float)imin[k], half_to_float(block + 2) * a->d, acc_min[k]);
                                lanes[k] = _mm256_setzero_si256();
                                imin[k] = 0;
                            }
                        } else {
                            offsets[k][g] = _mm256_madd_epi16(_mm256_maddubs_epi16(ones, q), scales);
                        }
                    }
                }
                // Q6_K's -32 offset: lane g less 32·Σ scale·a over group g (pairwise sums of the eight vectors).
                for (int k = 0; k < n && type == LK_Q6_K; k++) {
                    float ad = x[(size_t)(t + k) * groups + 8 * b].d;
                    __m256i *o = offsets[k];
                    __m256i h0 = _mm256_hadd_epi32(_mm256_hadd_epi32(o[0], o[1]), _mm256_hadd_epi32(o[2], o[3]));
                    __m256i h1 = _mm256_hadd_epi32(_mm256_hadd_epi32(o[4], o[5]), _mm256_hadd_epi32(o[6], o[7]));
                    __m128i t0 = _mm_add_epi32(_mm256_castsi256_si128(h0), _mm256_extracti128_si256(h0, 1));
                    __m128i t1 = _mm_add_epi32(_mm256_castsi256_si128(h1), _mm256_extracti128_si256(h1, 1));
                    __m256i offset = _mm256_slli_epi32(_mm256_set_m128i(t1, t0), 5), sums = _mm256_sub_epi32(lanes[k], offset);
                    if (batched) {
                        acc[k] = fmaf((float)hsum_int(sums) * half_to_float(block + 208), ad, acc[k]);
                    } else {
                        float d = ad * half_to_float(block + 208);
                        lanes_acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sums), lanes_acc[k]);
                    }
                }
            }
            for (int k = 0; k < n; k++) {
                float *o = out + (size_t)(t + k) * out_stride + r;
                if (type == LK_Q4_K) *o = acc[k] - acc_min[k];
                else *o = batched ? acc[k] : hsum(lanes_acc[k]);
            }
        }
    }
}

LK_AVX2 static void matmul_avx2(int type, const uint8_t *base, size_t row_bytes, int row_begin, int row_end, int groups,
                                const lk_q8_block *x, int tokens, float *out, size_t out_stride, int batched, int per64_end) {
    switch (type) {
    case LK_Q5_0: q5_0_rows_avx2(base, row_bytes, row_begin, row_end, groups, x, tokens, out, out_stride); break;
    case LK_Q4_K: kquant_rows_avx2(LK_Q4_K, base, row_bytes, row_begin, row_end, groups, x, tokens, out, out_stride, 0, per64_end); break;
    default: kquant_rows_avx2(LK_Q6_K, base, row_bytes, row_begin, row_end, groups, x, tokens, out, out_stride, batched, 0); break;
    }
}
#endif

void lk_kq_matmul(int type, const void *w, size_t row_bytes, int row_begin, int row_end, int blocks,
                  const lk_q8_block *x, int tokens, float *out, size_t out_stride) {
    const uint8_t *base = (const uint8_t *)w;
    int batched = tokens >= TILED_ROWS, per64_end = tokens - tokens % 4;
#ifdef LK_X86
    if (lk_simd_level() >= 1) {
        for (int t = 0; t < tokens; t += 64) {   // activation tiles that stay in cache
            int n = tokens - t < 64 ? tokens - t : 64;
            matmul_avx2(type, base, row_bytes, row_begin, row_end, blocks, x + (size_t)t * blocks, n, out + (size_t)t * out_stride, out_stride,
                        batched, per64_end - t);
        }
        return;
    }
#endif
    for (int r = row_begin; r < row_end; r++) {
        for (int t = 0; t < tokens; t++) {
            out[(size_t)t * out_stride + r] = kq_dot_scalar(type, base + (size_t)r * row_bytes, x + (size_t)t * blocks, blocks, batched, t < per64_end);
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
