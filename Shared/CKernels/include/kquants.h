#ifndef LATTICE_CKERNELS_KQUANTS
#define LATTICE_CKERNELS_KQUANTS
#include "ckernels.h"

/// ggml types of Q4_K_M files: Q4_K and Q6_K (256-element super-blocks with 6- and 8-bit
/// sub-block scales) and Q5_0, which llama.cpp writes instead of Q4_K for rows whose length is
/// not a multiple of 256.
enum { LK_Q5_0 = 6, LK_Q4_K = 12, LK_Q6_K = 14 };

/// Quantizes `n` floats (a multiple of 256) for Q4_K and Q6_K products as llama.cpp's Q8_K does:
/// one Float32 scale per 256 (the element of largest magnitude maps to -127), written as 32-blocks
/// that share it, each with s = d · Σq unrounded.
void lk_quantize_q8_k(const float *x, lk_q8_block *y, int n);

/// Converts `n` elements (whole blocks) of `type` at `blocks` to floats, as llama.cpp does.
void lk_kq_dequantize(int type, const void *blocks, int n, float *out);

/// lk_matmul for LK_Q5_0, LK_Q4_K and LK_Q6_K weights: `blocks` counts 32-element activation
/// blocks (the row length / 32), whatever the weight type's block size. `tokens` is the whole
/// product's: Q6_K rounds as llama.cpp does for a batch of that many rows (its tiled kernel from 8).
void lk_kq_matmul(int type, const void *w, size_t row_bytes, int row_begin, int row_end, int blocks,
                  const lk_q8_block *x, int tokens, float *out, size_t out_stride);
/// lk_kq_matmul over all `rows`, split by rows over `threads` threads (the kernels' pool).
void lk_kq_matmul_threads(int type, const void *w, size_t row_bytes, int rows, int blocks, const lk_q8_block *x, int tokens,
                          float *out, size_t out_stride, int threads);
#endif
