// Row-wise steps between the products, computed as llama.cpp's CPU backend computes them: every
// 8-bit quantization that follows rounds whatever bits it is given, so a last-bit difference here
// becomes a quantization step there.
#include "ckernels.h"

#include <math.h>
#include <stdint.h>

void lk_rms_norm(const float *x, const float *weight, int rows, int width, float epsilon, float *out) {
    for (int r = 0; r < rows; r++) {
        const float *row = x + (long)r * width;
        double sum = 0;   // ggml sums the float squares in double, in order
        for (int i = 0; i < width; i++) sum += (double)(row[i] * row[i]);
        const float mean = (float)(sum / width);
        const float scale = 1.0f / sqrtf(mean + epsilon);
        float *y = out + (long)r * width;
        for (int i = 0; i < width; i++) y[i] = row[i] * scale * weight[i];
    }
}

/// e^x as llama.cpp's AVX512 SiLU computes it: the Arm optimized-routines single-precision
/// approximation (x = n·ln2 + b with n = round(x·log2 e) by the 1.5·2^23 shift, ln2 in two parts,
/// a degree-5 polynomial in b, then scaled by 2^n; |n| > 192 gives 0 or infinity). Each step is
/// one float operation or fused multiply-add, so this scalar form gives the vector form's bits.
static inline __attribute__((always_inline)) float expf_arm(float x) {
    const float shift = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, shift);
    const float n = z - shift;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    if (fabsf(n) > 192) return n <= 0 ? 0.0f : INFINITY;
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
                         fmaf(0x1.ffffecp-1f, b, 1.0f));
    if (n >= -126 && n <= 127) {   // 2^n is a normal float: one exact multiply (as scalef)
        union { uint32_t bits; float value; } power = { .bits = (uint32_t)((int)n + 127) << 23 };
        return j * power.value;
    }
    return ldexpf(j, (int)n);
}

static inline __attribute__((always_inline)) void swiglu_rows(const float *gate_up, int rows, int width, float *out) {
    for (int r = 0; r < rows; r++) {
        const float *gate = gate_up + (long)r * 2 * width, *up = gate + width;
        float *y = out + (long)r * width;
        for (int i = 0; i < width; i++) {
            const float x = gate[i];
            y[i] = x / (1.0f + expf_arm(0.0f - x)) * up[i];
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("fma")))   // the fused multiply-adds inline instead of calling libm
static void swiglu_fma(const float *gate_up, int rows, int width, float *out) { swiglu_rows(gate_up, rows, width, out); }
#endif

void lk_swiglu(const float *gate_up, int rows, int width, float *out) {
#if defined(__x86_64__) || defined(__i386__)
    if (lk_simd_level() >= 1) { swiglu_fma(gate_up, rows, width, out); return; }
#endif
    swiglu_rows(gate_up, rows, width, out);
}

void lk_rope_angles(const long *positions, int count, int half, float theta_scale, float *cosines, float *sines) {
    for (int r = 0; r < count; r++) {
        float theta = (float)positions[r];   // ggml: the position times theta_scale once per pair, in float
        for (int i = 0; i < half; i++) {
            cosines[(long)r * half + i] = cosf(theta);
            sines[(long)r * half + i] = sinf(theta);
            theta *= theta_scale;
        }
    }
}

void lk_rope(float *x, int rows, int width, int head_dim, const float *cosines, const float *sines) {
    const int half = head_dim / 2;
    for (int r = 0; r < rows; r++) {
        const float *c = cosines + (long)r * half, *s = sines + (long)r * half;
        for (int h = 0; h + head_dim <= width; h += head_dim) {
            float *head = x + (long)r * width + h;
            for (int i = 0; i < half; i++) {
                const float a = head[i], b = head[i + half];
                // As GCC contracts ggml's x0·cos − x1·sin and x0·sin + x1·cos.
                head[i] = fmaf(a, c[i], -(b * s[i]));
                head[i + half] = fmaf(a, s[i], b * c[i]);
            }
        }
    }
}
