// Attention of one query row over a paged KV cache of binary16 keys and values, with llama.cpp's
// CPU flash-attention numerics (its default): keys, values and the query in binary16, each score a dot product of
// binary16 values summed in float in ggml's lane and dimension order, an online softmax, and the weighted sum
// of values kept in binary16 (rounded after every step). Matching these roundings, not only the
// weights' 8-bit products, is what keeps greedy tokens equal to llama.cpp's through near-ties.
#include "ckernels.h"

#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LK_X86 1
#endif

enum { LANES = 64 };   // ggml's F16 dot product on AVX512: 4 vectors of 16 float lanes

/// Our dimension for ggml's element e of a head: we keep RoPE pairs half a head apart (i, i + n/2),
/// llama.cpp's GGUF rows keep them adjacent (2i, 2i + 1), so its sums visit the dimensions in
/// this order.
static inline int ggml_dimension(int e, int n) { return e % 2 ? e / 2 + n / 2 : e / 2; }

/// Σ q·k over `n` values as ggml_vec_dot_f16 sums them: fused multiply-adds into 64 lanes per
/// 64-value chunk (in ggml's dimension order), the lanes folded (0+32, 16+48, then halves down
/// to one), the rest in double.
static inline __attribute__((always_inline)) float dot_f16_order(const float *q, const float *k, int n) {
    float lanes[LANES] = {0};
    int chunked = n / LANES * LANES;
    for (int i = 0; i < chunked; i += LANES) {
        for (int l = 0; l < LANES; l++) {
            int d = ggml_dimension(i + l, n);
            lanes[l] = fmaf(q[d], k[d], lanes[l]);
        }
    }
    float t[16];
    for (int l = 0; l < 16; l++) t[l] = (lanes[l] + lanes[32 + l]) + (lanes[16 + l] + lanes[48 + l]);
    float u[8], v[4];
    for (int l = 0; l < 8; l++) u[l] = t[l] + t[l + 8];
    for (int l = 0; l < 4; l++) v[l] = u[l] + u[l + 4];
    double sum = chunked ? (double)((v[0] + v[2]) + (v[1] + v[3])) : 0.0;
    for (int i = chunked; i < n; i++) { int d = ggml_dimension(i, n); sum += (double)(q[d] * k[d]); }
    return (float)sum;
}

static void round_scalar(float *x, int n) {
    for (int i = 0; i < n; i++) x[i] = lk_round_to_f16(x[i]);
}

/// The portable reference (any head_dim).
static void attend_scalar(const float *query, const uint16_t *keys, const uint16_t *values, const long *rows, long base, int length,
                          int heads, int group, int head_dim, float scale, float *scratch, float *out) {
    float *q = scratch, *acc = scratch + head_dim, *k = scratch + 2 * head_dim, *v = scratch + 3 * head_dim;
    for (int h = 0; h < heads; h++) {
        long kv = base + (long)(h / group) * head_dim;
        for (int d = 0; d < head_dim; d++) q[d] = query[(long)h * head_dim + d];
        round_scalar(q, head_dim);
        for (int d = 0; d < head_dim; d++) acc[d] = 0;
        float best = -INFINITY, total = 0;
        for (int j = 0; j < length; j++) {
            lk_f16_to_f32_many(keys + rows[j] + kv, k, head_dim);
            lk_f16_to_f32_many(values + rows[j] + kv, v, head_dim);
            float s = dot_f16_order(q, k, head_dim) * scale;
            float shrink = 1, weight = 1;
            if (s > best) {
                shrink = expf(best - s);
                best = s;
                for (int d = 0; d < head_dim; d++) acc[d] = lk_round_to_f16(acc[d] * shrink);
            } else {
                weight = expf(s - best);
            }
            for (int d = 0; d < head_dim; d++) acc[d] = lk_round_to_f16(fmaf(v[d], weight, acc[d]));
            total = total * shrink + weight;
        }
        float inverse = total == 0 ? 0 : 1 / total;
        for (int d = 0; d < head_dim; d++) out[(long)h * head_dim + d] = acc[d] * inverse;
    }
}

#ifdef LK_X86
#define LK_AVX2 __attribute__((target("avx2,fma,f16c")))
#define F16_ROUND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

LK_AVX2 static inline __m256 round_f16_8(__m256 x) { return _mm256_cvtph_ps(_mm256_cvtps_ph(x, F16_ROUND)); }

/// dot_f16_order for n a multiple of 64. Chunk c holds ggml elements 64c … 64c+63: our
/// dimensions 32c … 32c+31 interleaved with n/2 + 32c … n/2 + 32c + 31, gathered by unpacking.
LK_AVX2 static inline __m256 load_f16_8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

LK_AVX2 static inline float dot_f16_order_avx2(const float *q, const uint16_t *k, int n) {
    __m256 a[8];
    for (int i = 0; i < 8; i++) a[i] = _mm256_setzero_ps();
    const int half = n / 2;
    for (int c = 0; c < n; c += LANES) {
        const int low = c / 2, high = half + c / 2;
        for (int j = 0; j < 4; j++) {
            __m256 x = _mm256_loadu_ps(q + low + 8 * j), y = _mm256_loadu_ps(q + high + 8 * j);
            __m256 kx = load_f16_8(k + low + 8 * j), ky = load_f16_8(k + high + 8 * j);
            __m256 ql = _mm256_unpacklo_ps(x, y), qh = _mm256_unpackhi_ps(x, y);
            __m256 kl = _mm256_unpacklo_ps(kx, ky), kh = _mm256_unpackhi_ps(kx, ky);
            a[2 * j] = _mm256_fmadd_ps(_mm256_permute2f128_ps(ql, qh, 0x20), _mm256_permute2f128_ps(kl, kh, 0x20), a[2 * j]);
            a[2 * j + 1] = _mm256_fmadd_ps(_mm256_permute2f128_ps(ql, qh, 0x31), _mm256_permute2f128_ps(kl, kh, 0x31), a[2 * j + 1]);
        }
    }
    __m256 t0 = _mm256_add_ps(_mm256_add_ps(a[0], a[4]), _mm256_add_ps(a[2], a[6]));   // t[0..7]
    __m256 t1 = _mm256_add_ps(_mm256_add_ps(a[1], a[5]), _mm256_add_ps(a[3], a[7]));   // t[8..15]
    __m256 u = _mm256_add_ps(t0, t1);
    __m128 v = _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1));
    __m128 w = _mm_add_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_add_ss(w, _mm_movehdup_ps(w)));
}

/// attend_scalar's steps with 8-float vectors (head_dim a multiple of 64); the same floats.
LK_AVX2 static void attend_avx2(const float *query, const uint16_t *keys, const uint16_t *values, const long *rows, long base, int length,
                               int heads, int group, int head_dim, float scale, float *scratch, float *out) {
    float *q = scratch, *acc = scratch + head_dim;
    for (int h = 0; h < heads; h++) {
        long kv = base + (long)(h / group) * head_dim;
        for (int d = 0; d < head_dim; d += 8) {
            _mm256_storeu_ps(q + d, round_f16_8(_mm256_loadu_ps(query + (long)h * head_dim + d)));
            _mm256_storeu_ps(acc + d, _mm256_setzero_ps());
        }
        float best = -INFINITY, total = 0;
        for (int j = 0; j < length; j++) {
            const uint16_t *k = keys + rows[j] + kv, *v = values + rows[j] + kv;
            float s = dot_f16_order_avx2(q, k, head_dim) * scale;
            float shrink = 1, weight = 1;
            if (s > best) {
                shrink = expf(best - s);
                best = s;
                const __m256 m = _mm256_set1_ps(shrink);
                for (int d = 0; d < head_dim; d += 8) _mm256_storeu_ps(acc + d, round_f16_8(_mm256_mul_ps(_mm256_loadu_ps(acc + d), m)));
            } else {
                weight = expf(s - best);
            }
            const __m256 w = _mm256_set1_ps(weight);
            for (int d = 0; d < head_dim; d += 8) {
                _mm256_storeu_ps(acc + d, round_f16_8(_mm256_fmadd_ps(load_f16_8(v + d), w, _mm256_loadu_ps(acc + d))));
            }
            total = total * shrink + weight;
        }
        float inverse = total == 0 ? 0 : 1 / total;
        for (int d = 0; d < head_dim; d++) out[(long)h * head_dim + d] = acc[d] * inverse;
    }
}

LK_AVX2 static void round_f16c(float *x, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, round_f16_8(_mm256_loadu_ps(x + i)));
    round_scalar(x + i, (int)(n - i));
}

LK_AVX2 static void to_f16c(const float *x, uint16_t *out, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm_storeu_si128((__m128i *)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), F16_ROUND));
    for (; i < n; i++) out[i] = lk_f32_to_f16(x[i]);
}

LK_AVX2 static void from_f16c(const uint16_t *x, float *out, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, load_f16_8(x + i));
    for (; i < n; i++) out[i] = lk_f16_to_f32(x[i]);
}
#endif

void lk_f32_to_f16_many(const float *x, uint16_t *out, long n) {
#ifdef LK_X86
    if (lk_simd_level() >= 1) { to_f16c(x, out, n); return; }
#endif
    for (long i = 0; i < n; i++) out[i] = lk_f32_to_f16(x[i]);
}

void lk_f16_to_f32_many(const uint16_t *x, float *out, long n) {
#ifdef LK_X86
    if (lk_simd_level() >= 1) { from_f16c(x, out, n); return; }
#endif
    for (long i = 0; i < n; i++) out[i] = lk_f16_to_f32(x[i]);
}

void lk_attend_one(const float *query, const uint16_t *keys, const uint16_t *values, const long *rows, long base, int length,
                   int heads, int group, int head_dim, float scale, float *scratch, float *out) {
#ifdef LK_X86
    if (lk_simd_level() >= 1 && head_dim % LANES == 0) {
        attend_avx2(query, keys, values, rows, base, length, heads, group, head_dim, scale, scratch, out);
        return;
    }
#endif
    attend_scalar(query, keys, values, rows, base, length, heads, group, head_dim, scale, scratch, out);
}

void lk_round_to_f16_many(float *x, long n) {
#ifdef LK_X86
    if (lk_simd_level() >= 1) { round_f16c(x, n); return; }
#endif
    for (long i = 0; i < n; i++) x[i] = lk_round_to_f16(x[i]);
}
