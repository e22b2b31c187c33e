// llama.cpp's products of the K-quant fixture rows (kquant-rows.gguf) with activations of several
// batch sizes, computed as llama.cpp computes a model's matrix products on this CPU: Q4_K through
// its weight repacking (CPU_REPACK: a 4-row gemm, then a gemv for the remaining rows), Q6_K and
// Q5_0 on the ordinary CPU buffer (vec_dot, or the tiled K-quant kernel from 8 rows).
// Writes a GGUF with "<type>.x<rows>" (activations) and "<type>.y<rows>" (products) per case.
// Built and run by scripts/gen-model-fixtures against a llama.cpp build.
// Usage: kquant-products kquant-rows.gguf OUT.gguf
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "gguf.h"

typedef ggml_backend_buffer_type_t *(*extra_bufts_fn)(ggml_backend_dev_t);

static const char *types[] = { "Q4_K", "Q6_K", "Q5_0" };
static const int batches[] = { 1, 5, 9 };   // gemv; 4-row gemm + gemv; Q6_K tiled, 8-row gemm + gemv

/// Deterministic activations: uniform in (-1.5, 1.5) with an outlier every 97 values, as hidden
/// states have.
static float next_activation(uint64_t *state, long i) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    float uniform = (float)((*state >> 40) & 0xFFFFFF) / 16777216.0f;
    return 3.0f * (uniform - 0.5f) + (i % 97 == 0 ? 12.0f : 0.0f);
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s kquant-rows.gguf OUT.gguf\n", argv[0]); return 2; }
    struct ggml_context *rows_ctx = NULL;
    struct gguf_init_params load = { false, &rows_ctx };
    struct gguf_context *rows_file = gguf_init_from_file(argv[1], load);
    if (!rows_file) { fprintf(stderr, "cannot read %s\n", argv[1]); return 1; }

    ggml_backend_t backend = ggml_backend_cpu_init();
    ggml_backend_cpu_set_n_threads(backend, 1);
    ggml_backend_dev_t device = ggml_backend_get_device(backend);
    extra_bufts_fn extra = (extra_bufts_fn)ggml_backend_reg_get_proc_address(ggml_backend_dev_backend_reg(device),
                                                                            "ggml_backend_dev_get_extra_bufts");
    ggml_backend_buffer_type_t repack = extra ? extra(device)[0] : NULL;
    if (!repack || strcmp(ggml_backend_buft_name(repack), "CPU_REPACK") != 0) { fprintf(stderr, "no CPU_REPACK buffer type\n"); return 1; }

    struct gguf_context *out = gguf_init_empty();
    struct ggml_init_params keep = { 64 * 1024 * 1024, NULL, false };
    struct ggml_context *out_ctx = ggml_init(keep);
    uint64_t state = 42;
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s.quantized", types[k]);
        struct ggml_tensor *source = ggml_get_tensor(rows_ctx, name);
        if (!source) { fprintf(stderr, "%s has no tensor %s\n", argv[1], name); return 1; }
        const int64_t columns = source->ne[0], rows = source->ne[1];

        struct ggml_init_params meta = { 16 * ggml_tensor_overhead() + ggml_graph_overhead(), NULL, true };
        struct ggml_context *weight_ctx = ggml_init(meta);
        struct ggml_tensor *weight = ggml_new_tensor_2d(weight_ctx, source->type, columns, rows);
        ggml_backend_buffer_type_t buft = source->type == GGML_TYPE_Q4_K ? repack : ggml_backend_get_default_buffer_type(backend);
        ggml_backend_buffer_t weight_buffer = ggml_backend_alloc_ctx_tensors_from_buft(weight_ctx, buft);
        ggml_backend_tensor_set(weight, source->data, 0, ggml_nbytes(source));

        for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
            const int tokens = batches[b];
            struct ggml_tensor *x = ggml_new_tensor_2d(out_ctx, GGML_TYPE_F32, columns, tokens);
            struct ggml_tensor *y = ggml_new_tensor_2d(out_ctx, GGML_TYPE_F32, rows, tokens);
            for (long i = 0; i < columns * tokens; i++) ((float *)x->data)[i] = next_activation(&state, i);

            struct ggml_context *graph_ctx = ggml_init(meta);
            struct ggml_tensor *input = ggml_new_tensor_2d(graph_ctx, GGML_TYPE_F32, columns, tokens);
            struct ggml_tensor *product = ggml_mul_mat(graph_ctx, weight, input);
            struct ggml_cgraph *graph = ggml_new_graph(graph_ctx);
            ggml_build_forward_expand(graph, product);
            ggml_gallocr_t allocator = ggml_gallocr_new(ggml_backend_get_default_buffer_type(backend));
            ggml_gallocr_alloc_graph(allocator, graph);
            ggml_backend_tensor_set(input, x->data, 0, ggml_nbytes(x));
            if (ggml_backend_graph_compute(backend, graph) != GGML_STATUS_SUCCESS) { fprintf(stderr, "compute failed\n"); return 1; }
            ggml_backend_tensor_get(product, y->data, 0, ggml_nbytes(y));
            ggml_gallocr_free(allocator);
            ggml_free(graph_ctx);

            snprintf(name, sizeof name, "%s.x%d", types[k], tokens);
            ggml_set_name(x, name);
            snprintf(name, sizeof name, "%s.y%d", types[k], tokens);
            ggml_set_name(y, name);
            gguf_add_tensor(out, x);
            gguf_add_tensor(out, y);
        }
        ggml_backend_buffer_free(weight_buffer);
        ggml_free(weight_ctx);
        fprintf(stderr, "%s: %lld rows of %lld columns\n", types[k], (long long)rows, (long long)columns);
    }
    gguf_set_val_str(out, "general.description", "llama.cpp's products of kquant-rows.gguf's rows (scripts/reference/kquant-products.c)");
    if (!gguf_write_to_file(out, argv[2], false)) { fprintf(stderr, "cannot write %s\n", argv[2]); return 1; }
    return 0;
}
