#ifndef LATTICE_CKERNELS_H
#define LATTICE_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// ggml type numbers of the weight blocks the kernels read (as stored in GGUF files).
enum { LK_Q4_0 = 2, LK_Q4_1 = 3, LK_Q8_0 = 8 };

/// Rows per tile of a packed matrix.
enum { LK_TILE_ROWS = 16 };

/// 32 activations quantized to 8 bits: x ≈ d · q, `sum` = Σq, and `s` = d · Σq (used by Q4_1's
/// minimum). d and s are rounded through binary16, as llama.cpp's Q8_0/Q8_1 blocks store them,
/// so the dot products follow the same numerics.
typedef struct {
    float d;
    float s;
    int32_t sum;
    int8_t qs[32];
} lk_q8_block;

/// Quantizes `n` floats (a multiple of 32) into n/32 blocks.
void lk_quantize_q8(const float *x, lk_q8_block *y, int n);

/// 1 for the types the product kernels take (Q4_0, Q4_1, Q8_0).
int lk_is_packable(int type);

/// Bytes of the packed form of `rows` rows of `blocks` blocks (tiles of LK_TILE_ROWS rows).
size_t lk_packed_size(int type, int rows, int blocks);

/// Packs ggml rows into tiles: row r is `source + order[r] · row_bytes` (or r · row_bytes when
/// `order` is NULL). `packed` has lk_packed_size bytes.
void lk_pack(int type, const void *source, size_t row_bytes, const int64_t *order, int rows, int blocks, void *packed);

/// Row `row` of a packed matrix back as ggml blocks (`blocks` blocks at `out`).
void lk_unpack_row(int type, const void *packed, int blocks, int row, void *out);

/// out[t · out_stride + r] = packed row r · activation row t for all `rows` rows and `tokens`
/// activation rows (row t is `x + t · blocks`), split by tiles over `threads` threads.
void lk_matmul(int type, const void *packed, int rows, int blocks, const lk_q8_block *x, int tokens, float *out,
               size_t out_stride, int threads);

/// The same for tile groups [group_begin, group_end) on the calling thread.
void lk_matmul_groups(int type, const void *packed, int rows, int blocks, int group_begin, int group_end,
                      const lk_q8_block *x, int tokens, float *out, size_t out_stride);

/// The instructions the kernels use: 2 AVX512-VNNI, 1 AVX2, 0 portable scalar (the reference).
int lk_simd_level(void);

/// Caps the level (tests compare every path with the scalar one); returns the previous cap.
int lk_limit_simd(int level);

/// `value` rounded to the nearest binary16 (ties to even), as a float.
float lk_round_to_f16(float value);

/// Rounds `n` floats in place to binary16 values.
void lk_round_to_f16_many(float *x, long n);

/// binary16 bits of `value` rounded to nearest (ties to even), and back.
uint16_t lk_f32_to_f16(float value);
float lk_f16_to_f32(uint16_t bits);

/// `n` floats to binary16 bits (what the KV cache stores), and back.
void lk_f32_to_f16_many(const float *x, uint16_t *out, long n);
void lk_f16_to_f32_many(const uint16_t *x, float *out, long n);

/// Runs task(context, p, parts) for p in [0, parts) on the compute threads (part 0 on the caller).
typedef void (*lk_task)(void *context, int part, int parts);
void lk_parallel(lk_task task, void *context, int parts);

/// One query row (all heads) attending over `length` cached positions with llama.cpp's flash-
/// attention numerics (binary16 query, keys, values and running sum): position j's key (value)
/// row of binary16 bits starts at keys[rows[j] + base] (values[…]); head h reads kv head h / group
/// at offset (h / group) · head_dim. `scratch` holds 4 · head_dim floats; `out` gets heads · head_dim.
void lk_attend_one(const float *query, const uint16_t *keys, const uint16_t *values, const long *rows, long base, int length,
                   int heads, int group, int head_dim, float scale, float *scratch, float *out);

/// RMS norm of each of `rows` rows of `width` floats times `weight`, as ggml computes it (squares
/// summed in double, then x · scale · weight).
void lk_rms_norm(const float *x, const float *weight, int rows, int width, float epsilon, float *out);

/// SiLU(gate) · up for rows laid out [gate (width floats), up (width floats)], with llama.cpp's
/// exponential (the Arm optimized-routines approximation its AVX512 path uses).
void lk_swiglu(const float *gate_up, int rows, int width, float *out);

/// RoPE angles as ggml computes them: for each position p, θ_0 = p and θ_{i+1} = θ_i · theta_scale
/// in float; cos and sin of each into `cosines`/`sines` (`count` rows of `half`).
void lk_rope_angles(const long *positions, int count, int half, float theta_scale, float *cosines, float *sines);

/// Rotates each head of `rows` rows of `width` floats in place: pair (i, i + head_dim/2) by row
/// r's angle i, with ggml's fused multiply-adds.
void lk_rope(float *x, int rows, int width, int head_dim, const float *cosines, const float *sines);

#endif
