// Reference outputs from llama.cpp for the worker's model tests: for each prompt line on stdin,
// llama.cpp's token ids (special tokens parsed), then greedy generation of N tokens with the
// top-K logits at every step, with llama.cpp's default context settings (what its users run).
// Prints one JSON object per prompt.
// With a fourth argument "f32-kv" the KV cache holds Float32 instead of llama.cpp's default F16
// (the reference for our Float32 path, which keeps its cache in Float32).
// Built and run by scripts/gen-model-fixtures; usage: llama-reference MODEL.gguf N K [f32-kv] < prompts.txt
#include "llama.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_json_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p == '\n') printf("\\n");
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

static char *unescape_newlines(char *line) {   // prompts write "\n" for a newline
    char *out = line;
    for (char *p = line; *p; p++) {
        if (p[0] == '\\' && p[1] == 'n') { *out++ = '\n'; p++; } else { *out++ = *p; }
    }
    *out = 0;
    return line;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "f32-kv"))) {
        fprintf(stderr, "usage: %s MODEL.gguf N_TOKENS TOP_K [f32-kv] < prompts\n", argv[0]);
        return 2;
    }
    int n_generate = atoi(argv[2]), top_k = atoi(argv[3]), f32_kv = argc == 5;
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    int n_vocab = llama_vocab_n_tokens(vocab);
    char line[8192];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0]) continue;
        unescape_newlines(line);
        struct llama_context_params cp = llama_context_default_params();
        cp.n_ctx = 1024; cp.n_batch = 1024; cp.n_threads = 1; cp.n_threads_batch = 1;
        if (f32_kv) { cp.type_k = GGML_TYPE_F32; cp.type_v = GGML_TYPE_F32; }
        struct llama_context *ctx = llama_init_from_model(model, cp);
        llama_token tokens[1024];
        int n = llama_tokenize(vocab, line, (int)strlen(line), tokens, 1024, false, true);
        if (n < 0) { fprintf(stderr, "prompt too long\n"); return 1; }
        printf("{\"prompt\":"); print_json_string(line);
        printf(",\"prompt_ids\":[");
        for (int i = 0; i < n; i++) printf("%s%d", i ? "," : "", tokens[i]);
        printf("],\"steps\":[");
        struct llama_batch batch = llama_batch_get_one(tokens, n);
        llama_token next;
        for (int step = 0; step < n_generate; step++) {
            if (llama_decode(ctx, batch)) { fprintf(stderr, "decode failed\n"); return 1; }
            const float *logits = llama_get_logits_ith(ctx, -1);
            int *best = calloc(top_k, sizeof(int));
            for (int k = 0; k < top_k; k++) {
                int arg = -1;
                for (int v = 0; v < n_vocab; v++) {
                    int taken = 0;
                    for (int j = 0; j < k; j++) if (best[j] == v) taken = 1;
                    if (!taken && (arg < 0 || logits[v] > logits[arg])) arg = v;
                }
                best[k] = arg;
            }
            next = best[0];
            printf("%s{\"token\":%d,\"top\":[", step ? "," : "", next);
            for (int k = 0; k < top_k; k++) printf("%s[%d,%.5f]", k ? "," : "", best[k], logits[best[k]]);
            printf("]}");
            free(best);
            batch = llama_batch_get_one(&next, 1);
        }
        printf("]}\n");
        fflush(stdout);
        llama_free(ctx);
    }
    llama_model_free(model);
    return 0;
}
