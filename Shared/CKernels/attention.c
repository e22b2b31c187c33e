// Decode-step attention over a paged KV cache: one query per head against every cached
// position, in one call (a BLAS call per block and head costs more than the arithmetic).
#include "ckernels.h"

#include <math.h>

static float dot(const float *restrict a, const float *restrict b, int n) {
    float partial[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int k = 0; k < 8; k++) partial[k] += a[i + k] * b[i + k];
    }
    float total = 0;
    for (; i < n; i++) total += a[i] * b[i];
    for (int k = 0; k < 8; k++) total += partial[k];
    return total;
}

void lk_attend_one(const float *query, const float *keys, const float *values, const long *rows, int length,
                   int heads, int group, int head_dim, float scale, float *scores, float *out) {
    for (int h = 0; h < heads; h++) {
        const float *q = query + (long)h * head_dim;
        long kv = (long)(h / group) * head_dim;
        float best = -INFINITY;
        for (int j = 0; j < length; j++) {
            scores[j] = dot(q, keys + rows[j] + kv, head_dim) * scale;
            if (scores[j] > best) best = scores[j];
        }
        float sum = 0;
        for (int j = 0; j < length; j++) { scores[j] = expf(scores[j] - best); sum += scores[j]; }
        float *o = out + (long)h * head_dim;
        for (int d = 0; d < head_dim; d++) o[d] = 0;
        for (int j = 0; j < length; j++) {
            const float *restrict v = values + rows[j] + kv;
            float p = scores[j] / sum;
            for (int d = 0; d < head_dim; d++) o[d] += p * v[d];
        }
    }
}
