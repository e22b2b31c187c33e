// Quantized matrix products: weight blocks (Q4_0, Q4_1, Q8_0) times activations quantized to
// 8 bits per 32-block, as llama.cpp computes them (Q8_1 activations for Q4_1, Q8_0 otherwise).
//
// Weights are repacked at load into tiles of 16 rows × one 32-element block, laid out so that one
// 32-bit lane holds four consecutive 4-bit (or 8-bit) values of one row: a single
// multiply-accumulate of 8-bit integers into 32-bit lanes (AVX512-VNNI vpdpbusd) then advances 16
// rows by four elements against four activation bytes broadcast to every lane. The integer sums
// are exact and the float steps are llama.cpp's, in its order, in every path (scalar, AVX2,
// AVX512-VNNI), so all give bit-identical results and the scalar path is the reference.
#include "ckernels.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LK_X86 1
#endif

enum { TILE = LK_TILE_ROWS };

float lk_f16_to_f32(uint16_t h) {
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

float lk_round_to_f16(float value) {
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

uint16_t lk_f32_to_f16(float value) {
    float rounded = lk_round_to_f16(value);
    uint32_t bits;
    memcpy(&bits, &rounded, 4);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000);
    uint32_t exponent = (bits >> 23) & 0xFF, mantissa = bits & 0x7FFFFF;
    if (exponent == 0xFF) return (uint16_t)(sign | 0x7C00 | (mantissa ? 0x200 : 0));   // inf, nan
    if (exponent >= 113) return (uint16_t)(sign | ((exponent - 112) << 10) | (mantissa >> 13));
    return (uint16_t)(sign | (uint16_t)(fabsf(rounded) * 16777216.0f));                // subnormal (exact)
}

static uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static void store_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

// ---- which instructions run ----

static _Atomic int simd_limit = 2;   // tests lower it while other threads compute

static int supported_level(void) {
#ifdef LK_X86
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) return 1;
#endif
    return 0;
}

int lk_simd_level(void) {
    int best = supported_level();
    return best < simd_limit ? best : simd_limit;
}

int lk_limit_simd(int level) {
    int previous = simd_limit;
    simd_limit = level;
    return previous;
}

// ---- activations ----

static void quantize_block_scalar(const float *v, lk_q8_block *y) {
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(v[j]));
    float d = amax / 127.0f, id = amax != 0 ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; j++) {
        int q = (int)nearbyintf(v[j] * id);
        y->qs[j] = (int8_t)q;
        sum += q;
    }
    y->sum = sum;
    y->d = lk_round_to_f16(d);
    y->s = lk_round_to_f16(d * (float)sum);
}

#ifdef LK_X86
__attribute__((target("avx2,fma,f16c")))
static void quantize_block_avx2(const float *x, lk_q8_block *y) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8), v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                             _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
    __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(m, 1), _mm256_castps256_ps128(m));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    float amax = _mm_cvtss_f32(m4);
    float d = amax / 127.0f, id = amax != 0 ? 127.0f / amax : 0.0f;
    const __m256 mul = _mm256_set1_ps(id);
    __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, mul), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, mul), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, mul), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, mul), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
    int sum = _mm_cvtsi128_si32(s4);
    __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    packed = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)y->qs, packed);
    y->sum = sum;
    y->d = lk_round_to_f16(d);
    y->s = lk_round_to_f16(d * (float)sum);
}
#endif

void lk_quantize_q8(const float *x, lk_q8_block *y, int n) {
#ifdef LK_X86
    if (lk_simd_level() >= 1) {
        for (int b = 0; b < n / 32; b++) quantize_block_avx2(x + 32 * b, y + b);
        return;
    }
#endif
    for (int b = 0; b < n / 32; b++) quantize_block_scalar(x + 32 * b, y + b);
}

// ---- the packed layout ----
//
// Tile (g, b) holds block b of rows 16g … 16g+15 at (g · blocks + b) · tile_bytes: the 16 scales
// (binary16), for Q4_1 the 16 minimums, then the values. 4-bit tiles: four 64-byte chunks; chunk c,
// bytes 4j … 4j+3 are row j's elements 4c … 4c+3 in the low nibbles and 16+4c … 16+4c+3 in the
// high ones. Q8_0 tiles: eight 64-byte chunks, chunk c bytes 4j … 4j+3 row j's elements 4c … 4c+3,
// stored plus 128 (unsigned). Rows past the matrix's end are zero (scale 0).

static int value_offset(int type) { return type == LK_Q4_1 ? 0 : (type == LK_Q4_0 ? 8 : 128); }
static int header_bytes(int type) { return type == LK_Q4_1 ? 4 * TILE : 2 * TILE; }
static int value_bytes(int type) { return type == LK_Q8_0 ? 32 * TILE : 16 * TILE; }
static int block_bytes(int type) { return type == LK_Q4_1 ? 20 : (type == LK_Q4_0 ? 18 : 34); }
static size_t tile_bytes(int type) { return (size_t)(header_bytes(type) + value_bytes(type)); }

int lk_is_packable(int type) { return type == LK_Q4_0 || type == LK_Q4_1 || type == LK_Q8_0; }

size_t lk_packed_size(int type, int rows, int blocks) {
    if (!lk_is_packable(type)) return 0;
    return (size_t)((rows + TILE - 1) / TILE) * (size_t)blocks * tile_bytes(type);
}

/// Where element i (0–31) of row j sits in a tile's values, and whether in the high nibble.
static size_t value_index(int type, int j, int i, int *high) {
    if (type == LK_Q8_0) { *high = 0; return (size_t)(i / 4) * 64 + 4 * j + i % 4; }
    *high = i >= 16;
    return (size_t)((i % 16) / 4) * 64 + 4 * j + i % 4;
}

/// Element i of a ggml block as its unsigned code (Q8_0: value + 128).
static int block_code(int type, const uint8_t *blk, int i) {
    if (type == LK_Q8_0) return (int8_t)blk[2 + i] + 128;
    const uint8_t *qs = blk + (type == LK_Q4_1 ? 4 : 2);
    return i < 16 ? (qs[i] & 0x0F) : (qs[i - 16] >> 4);
}

void lk_pack(int type, const void *source, size_t row_bytes, const int64_t *order, int rows, int blocks, void *packed) {
    memset(packed, 0, lk_packed_size(type, rows, blocks));
    uint8_t *out = (uint8_t *)packed;
    int header = header_bytes(type);
    for (int r = 0; r < rows; r++) {
        const uint8_t *row = (const uint8_t *)source + (size_t)(order ? order[r] : r) * row_bytes;
        int g = r / TILE, j = r % TILE;
        for (int b = 0; b < blocks; b++) {
            const uint8_t *blk = row + (size_t)b * block_bytes(type);
            uint8_t *tile = out + ((size_t)g * blocks + b) * tile_bytes(type);
            store_u16(tile + 2 * j, load_u16(blk));
            if (type == LK_Q4_1) store_u16(tile + 2 * TILE + 2 * j, load_u16(blk + 2));
            for (int i = 0; i < 32; i++) {
                int high;
                size_t at = value_index(type, j, i, &high);
                int code = block_code(type, blk, i);
                tile[header + at] |= (uint8_t)(high ? code << 4 : code);
            }
        }
    }
}

/// Element i of row j in a tile, as its unsigned code.
static int tile_code(int type, const uint8_t *tile, int j, int i) {
    int high;
    uint8_t byte = tile[header_bytes(type) + value_index(type, j, i, &high)];
    return type == LK_Q8_0 ? byte : (high ? byte >> 4 : byte & 0x0F);
}

void lk_unpack_row(int type, const void *packed, int blocks, int row, void *out) {
    const uint8_t *base = (const uint8_t *)packed;
    int g = row / TILE, j = row % TILE;
    for (int b = 0; b < blocks; b++) {
        const uint8_t *tile = base + ((size_t)g * blocks + b) * tile_bytes(type);
        uint8_t *blk = (uint8_t *)out + (size_t)b * block_bytes(type);
        store_u16(blk, load_u16(tile + 2 * j));
        if (type == LK_Q8_0) {
            for (int i = 0; i < 32; i++) blk[2 + i] = (uint8_t)(int8_t)(tile_code(type, tile, j, i) - 128);
            continue;
        }
        uint8_t *qs = blk + 2;
        if (type == LK_Q4_1) { store_u16(blk + 2, load_u16(tile + 2 * TILE + 2 * j)); qs = blk + 4; }
        for (int i = 0; i < 16; i++) qs[i] = (uint8_t)(tile_code(type, tile, j, i) | (tile_code(type, tile, j, i + 16) << 4));
    }
}

// ---- products ----
//
// Every path computes what llama.cpp's AVX2 dot products compute, per row and activation row:
// over blocks in order, eight partial sums of four products each (elements 4k … 4k+3, exact
// integers) are scaled by d_w · d_x and accumulated in eight float lanes,
//   lane[k] = fma(float(Σ (code − offset) · q over group k), d_w · d_x, lane[k]),   min = fma(m_w, s_x, min),
// and the result is ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) + min. The same floats in
// the same order, so every path gives bit-identical results, and llama.cpp's.

static inline float fold_lanes(const float *l) { return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7])); }

static void tile_rows_scalar(int type, const uint8_t *tiles, int blocks, int valid, const lk_q8_block *x, int tokens,
                             float *out, size_t out_stride) {
    int offset = value_offset(type);
    for (int t = 0; t < tokens; t++) {
        const lk_q8_block *a = x + (size_t)t * blocks;
        for (int j = 0; j < valid; j++) {
            float lanes[8] = {0}, min = 0;
            for (int b = 0; b < blocks; b++) {
                const uint8_t *tile = tiles + (size_t)b * tile_bytes(type);
                float scale = lk_f16_to_f32(load_u16(tile + 2 * j)) * a[b].d;
                for (int k = 0; k < 8; k++) {
                    int sum = 0;
                    for (int i = 4 * k; i < 4 * k + 4; i++) sum += (tile_code(type, tile, j, i) - offset) * a[b].qs[i];
                    lanes[k] = fmaf((float)sum, scale, lanes[k]);
                }
                if (type == LK_Q4_1) min = fmaf(lk_f16_to_f32(load_u16(tile + 2 * TILE + 2 * j)), a[b].s, min);
            }
            out[t * out_stride + j] = fold_lanes(lanes) + min;
        }
    }
}

#ifdef LK_X86
#define LK_AVX2 __attribute__((target("avx2,fma,f16c")))
#define LK_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

static inline int32_t load_i32(const int8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }

/// Eight rows (half `h` of each 16-row tile) with 256-bit vectors; the 4-byte dot products by
/// maddubs + madd (Q8_0 with the signs moved onto the activations, so nothing saturates).
LK_AVX2 static void tile_rows_avx2(int type, const uint8_t *tiles, int blocks, int valid, const lk_q8_block *x, int tokens,
                                   float *out, size_t out_stride) {
    const int header = header_bytes(type), offset = value_offset(type);
    const __m256i nibble = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1), flip = _mm256_set1_epi8((char)0x80);
    const __m256i offsets = _mm256_set1_epi8((char)(type == LK_Q4_0 ? offset : 0));
    for (int h = 0; h < 2; h++) {
        for (int t = 0; t < tokens; t++) {
            const lk_q8_block *a = x + (size_t)t * blocks;
            __m256 lanes[8], min = _mm256_setzero_ps();
            for (int k = 0; k < 8; k++) lanes[k] = _mm256_setzero_ps();
            for (int b = 0; b < blocks; b++) {
                const uint8_t *tile = tiles + (size_t)b * tile_bytes(type), *values = tile + header + 32 * h;
                __m256 scale = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(tile + 16 * h))), _mm256_set1_ps(a[b].d));
                for (int k = 0; k < 8; k++) {
                    __m256i q = _mm256_set1_epi32(load_i32(a[b].qs + 4 * k)), p;
                    if (type == LK_Q8_0) {
                        __m256i w = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(values + 64 * k)), flip);
                        p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(q, w));
                    } else {
                        __m256i raw = _mm256_loadu_si256((const __m256i *)(values + 64 * (k % 4)));
                        __m256i w = k < 4 ? _mm256_and_si256(raw, nibble) : _mm256_and_si256(_mm256_srli_epi16(raw, 4), nibble);
                        p = _mm256_sub_epi16(_mm256_maddubs_epi16(w, q), _mm256_maddubs_epi16(offsets, q));
                    }
                    lanes[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones)), scale, lanes[k]);
                }
                if (type == LK_Q4_1) {
                    __m256 m = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(tile + 2 * TILE + 16 * h)));
                    min = _mm256_fmadd_ps(m, _mm256_set1_ps(a[b].s), min);
                }
            }
            __m256 sum = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(lanes[0], lanes[4]), _mm256_add_ps(lanes[2], lanes[6])),
                                       _mm256_add_ps(_mm256_add_ps(lanes[1], lanes[5]), _mm256_add_ps(lanes[3], lanes[7])));
            float rows[8];
            _mm256_storeu_ps(rows, _mm256_add_ps(sum, min));
            for (int j = 8 * h; j < valid && j < 8 * h + 8; j++) out[t * out_stride + j] = rows[j - 8 * h];
        }
    }
}

/// Sixteen rows, two activation rows at a time (each tile's values are unpacked once for both).
LK_AVX512 static void tile_rows_avx512(int type, const uint8_t *tiles, int blocks, int valid, const lk_q8_block *x, int tokens,
                                       float *out, size_t out_stride) {
    const int header = header_bytes(type), offset = value_offset(type);
    const __m512i nibble = _mm512_set1_epi8(0x0F), offsets = _mm512_set1_epi8((char)offset);
    const __mmask16 store = (__mmask16)((1u << valid) - 1);
    for (int t0 = 0; t0 < tokens; t0 += 2) {
        const int n = tokens - t0 < 2 ? tokens - t0 : 2;
        const lk_q8_block *a = x + (size_t)t0 * blocks;
        __m512 lanes[2][8], min[2];
        for (int t = 0; t < 2; t++) {
            min[t] = _mm512_setzero_ps();
            for (int k = 0; k < 8; k++) lanes[t][k] = _mm512_setzero_ps();
        }
        for (int b = 0; b < blocks; b++) {
            const uint8_t *tile = tiles + (size_t)b * tile_bytes(type), *values = tile + header;
            __m512i w[8];
            if (type == LK_Q8_0) {
                for (int k = 0; k < 8; k++) w[k] = _mm512_loadu_si512(values + 64 * k);
            } else {
                for (int k = 0; k < 4; k++) {
                    __m512i raw = _mm512_loadu_si512(values + 64 * k);
                    w[k] = _mm512_and_si512(raw, nibble);
                    w[k + 4] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), nibble);
                }
            }
            const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)tile));
            for (int t = 0; t < n; t++) {
                const lk_q8_block *y = a + (size_t)t * blocks + b;
                const __m512 scale = _mm512_mul_ps(d, _mm512_set1_ps(y->d));
                for (int k = 0; k < 8; k++) {
                    __m512i q = _mm512_set1_epi32(load_i32(y->qs + 4 * k));
                    __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[k], q);
                    if (offset) p = _mm512_sub_epi32(p, _mm512_dpbusd_epi32(_mm512_setzero_si512(), offsets, q));
                    lanes[t][k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), scale, lanes[t][k]);
                }
                if (type == LK_Q4_1) {
                    __m512 m = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(tile + 2 * TILE)));
                    min[t] = _mm512_fmadd_ps(m, _mm512_set1_ps(y->s), min[t]);
                }
            }
        }
        for (int t = 0; t < n; t++) {
            __m512 *l = lanes[t];
            __m512 sum = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(l[0], l[4]), _mm512_add_ps(l[2], l[6])),
                                       _mm512_add_ps(_mm512_add_ps(l[1], l[5]), _mm512_add_ps(l[3], l[7])));
            _mm512_mask_storeu_ps(out + (size_t)(t0 + t) * out_stride, store, _mm512_add_ps(sum, min[t]));
        }
    }
}
#endif

void lk_matmul_groups(int type, const void *packed, int rows, int blocks, int group_begin, int group_end,
                      const lk_q8_block *x, int tokens, float *out, size_t out_stride) {
    const int level = lk_simd_level();
    for (int g = group_begin; g < group_end; g++) {
        const uint8_t *tiles = (const uint8_t *)packed + (size_t)g * blocks * tile_bytes(type);
        int valid = rows - g * TILE < TILE ? rows - g * TILE : TILE;
        float *o = out + (size_t)g * TILE;
        // Activation rows in slices that stay in cache while the group's tiles are reused.
        for (int t = 0; t < tokens; t += 64) {
            int n = tokens - t < 64 ? tokens - t : 64;
            const lk_q8_block *a = x + (size_t)t * blocks;
            float *ot = o + (size_t)t * out_stride;
#ifdef LK_X86
            if (level >= 2) { tile_rows_avx512(type, tiles, blocks, valid, a, n, ot, out_stride); continue; }
            if (level == 1) { tile_rows_avx2(type, tiles, blocks, valid, a, n, ot, out_stride); continue; }
#endif
            tile_rows_scalar(type, tiles, blocks, valid, a, n, ot, out_stride);
        }
    }
}

typedef struct {
    int type, rows, blocks, groups, tokens;
    const void *packed;
    const lk_q8_block *x;
    float *out;
    size_t out_stride;
} matmul_job;

static void matmul_part(void *context, int part, int parts) {
    const matmul_job *job = (const matmul_job *)context;
    int begin = (int)((long)job->groups * part / parts), end = (int)((long)job->groups * (part + 1) / parts);
    lk_matmul_groups(job->type, job->packed, job->rows, job->blocks, begin, end, job->x, job->tokens, job->out, job->out_stride);
}

void lk_matmul(int type, const void *packed, int rows, int blocks, const lk_q8_block *x, int tokens, float *out,
               size_t out_stride, int threads) {
    matmul_job job = { type, rows, blocks, (rows + TILE - 1) / TILE, tokens, packed, x, out, out_stride };
    int parts = threads < job.groups ? threads : job.groups;
    lk_parallel(matmul_part, &job, parts < 1 ? 1 : parts);
}
