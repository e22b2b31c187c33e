#ifndef LATTICE_CKERNELS_H
#define LATTICE_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// ggml type numbers of the weight blocks the kernels read (as stored in GGUF files).
enum { LK_Q4_0 = 2, LK_Q4_1 = 3, LK_Q8_0 = 8 };

/// 32 activations quantized to 8 bits: x ≈ d · q. `s` is d · Σq (used by Q4_1's minimum).
/// d and s are rounded through binary16, as llama.cpp's Q8_0/Q8_1 blocks store them, so the
/// dot products follow the same numerics.
typedef struct {
    float d;
    float s;
    int8_t qs[32];
} lk_q8_block;

/// Quantizes `n` floats (a multiple of 32) into n/32 blocks.
void lk_quantize_q8(const float *x, lk_q8_block *y, int n);

/// out[t · out_stride + r] = row r of the quantized matrix `w` · activation row t, for rows
/// [row_begin, row_end) and tokens [0, tokens). Each weight row is `blocks` blocks of `type`
/// (`row_bytes` apart); activation row t is `x + t · blocks`.
void lk_matmul(int type, const void *w, size_t row_bytes, int row_begin, int row_end, int blocks,
               const lk_q8_block *x, int tokens, float *out, size_t out_stride);

/// 1 when the AVX2 kernels run on this CPU, else 0 (the portable scalar ones run).
int lk_uses_avx2(void);

/// Forces the scalar kernels (for tests that compare both paths); returns the previous setting.
int lk_force_scalar(int on);

#endif

#ifndef LATTICE_CKERNELS_ATTENTION
#define LATTICE_CKERNELS_ATTENTION
/// One query row (all heads) attending over `length` cached positions: rows[j] is where position
/// j's key (and value) row starts in `keys` (`values`); head h reads kv head h / group at
/// offset (h / group) · head_dim. `scores` is scratch of `length` floats; `out` gets heads · head_dim.
void lk_attend_one(const float *query, const float *keys, const float *values, const long *rows, int length,
                   int heads, int group, int head_dim, float scale, float *scores, float *out);
#endif
