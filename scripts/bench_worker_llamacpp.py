#!/usr/bin/env python3
"""llama.cpp side of scripts/bench-worker.

Writes the same safetensors weights as GGUF F32 (with the `gguf` package), then measures
llama.cpp (through `llama-cpp-python`'s low-level API) on the workload `lattice model bench`
runs: B sequences of P prompt tokens (prefill, 512-token batches), then D decode steps of
one token per sequence, greedy. Also checks llama.cpp's logits against ours for one prompt.

Usage: bench_worker_llamacpp.py MODEL_DIR --threads T --batches 1,8,32 --prompt-tokens P
       --decode-tokens D [--ours-logits FILE]   (prints JSON)
"""
import argparse, ctypes, json, os, sys, time
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_llama import load  # noqa: E402  (our NumPy safetensors reader)


def permute_rotary(w, heads):
    """HF stores Q/K rows for rotate-half RoPE; GGML's llama RoPE pairs adjacent elements."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf(model_dir, out_path):
    import gguf
    cfg, w = load(model_dir)
    heads, kv_heads = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // heads
    vocab = cfg["vocab_size"]
    writer = gguf.GGUFWriter(out_path, "llama")
    writer.add_name("lattice-bench")
    writer.add_context_length(cfg.get("max_position_embeddings", 2048))
    writer.add_embedding_length(cfg["hidden_size"])
    writer.add_block_count(cfg["num_hidden_layers"])
    writer.add_feed_forward_length(cfg["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(cfg.get("rms_norm_eps", 1e-6))
    writer.add_rope_freq_base(cfg.get("rope_theta", 10000.0))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    # A SentencePiece-shaped vocabulary: the benchmark feeds token ids, never text.
    tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    tokens += ["t%d" % i for i in range(len(tokens), vocab)]
    types = [2, 3, 3] + [6] * 256 + [1] * (vocab - 259)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens[:vocab])
    writer.add_token_scores([0.0] * vocab)
    writer.add_token_types(types[:vocab])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    f32 = lambda name: w[name].astype(np.float32)
    writer.add_tensor("token_embd.weight", f32("model.embed_tokens.weight"))
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        writer.add_tensor(f"blk.{i}.attn_norm.weight", f32(p + "input_layernorm.weight"))
        writer.add_tensor(f"blk.{i}.attn_q.weight", permute_rotary(f32(p + "self_attn.q_proj.weight"), heads))
        writer.add_tensor(f"blk.{i}.attn_k.weight", permute_rotary(f32(p + "self_attn.k_proj.weight"), kv_heads))
        writer.add_tensor(f"blk.{i}.attn_v.weight", f32(p + "self_attn.v_proj.weight"))
        writer.add_tensor(f"blk.{i}.attn_output.weight", f32(p + "self_attn.o_proj.weight"))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", f32(p + "post_attention_layernorm.weight"))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", f32(p + "mlp.gate_proj.weight"))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", f32(p + "mlp.up_proj.weight"))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", f32(p + "mlp.down_proj.weight"))
    writer.add_tensor("output_norm.weight", f32("model.norm.weight"))
    head = "lm_head.weight" if ("lm_head.weight" in w and not cfg.get("tie_word_embeddings")) else "model.embed_tokens.weight"
    writer.add_tensor("output.weight", f32(head))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return cfg


class LlamaCpp:
    """The few low-level llama.cpp calls we need, tolerant of the API's renames."""

    def __init__(self, path, threads, n_ctx, n_seq):
        import llama_cpp as L
        self.L = L
        L.llama_backend_init()
        mparams = L.llama_model_default_params()
        load_model = getattr(L, "llama_model_load_from_file", None) or L.llama_load_model_from_file
        self.model = load_model(path.encode(), mparams)
        if not self.model:
            raise RuntimeError("llama.cpp could not load " + path)
        cparams = L.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = 512
        cparams.n_ubatch = 512
        cparams.n_seq_max = n_seq
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.type_k = 0  # GGML_TYPE_F32, like our KV cache
        cparams.type_v = 0
        new_ctx = getattr(L, "llama_init_from_model", None) or L.llama_new_context_with_model
        self.ctx = new_ctx(self.model, cparams)
        if not self.ctx:
            raise RuntimeError("llama.cpp could not create a context")
        self.batch = L.llama_batch_init(512, 0, n_seq)
        vocab_of = getattr(L, "llama_model_get_vocab", None)
        n_vocab = getattr(L, "llama_vocab_n_tokens", None)
        self.n_vocab = n_vocab(vocab_of(self.model)) if (vocab_of and n_vocab) else L.llama_n_vocab(self.model)

    def decode(self, items):
        """items: (token, position, sequence, wants_logits); returns rows with logits in order."""
        b = self.batch
        b.n_tokens = len(items)
        for i, (tok, pos, seq, want) in enumerate(items):
            b.token[i] = tok
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = want
        rc = self.L.llama_decode(self.ctx, b)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        return [i for i, it in enumerate(items) if it[3]]

    def logits(self, row):
        ptr = self.L.llama_get_logits_ith(self.ctx, row)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()


def run_batch(llm, batch, prompt_tokens, decode_tokens, vocab):
    rng = np.random.default_rng(42)
    prompts = [rng.integers(0, vocab, prompt_tokens).tolist() for _ in range(batch)]
    items = [(t, p, s, p == prompt_tokens - 1) for s in range(batch) for p, t in enumerate(prompts[s])]
    start = time.perf_counter()
    last = {}
    for i in range(0, len(items), 512):
        chunk = items[i:i + 512]
        for row in llm.decode(chunk):
            last[chunk[row][2]] = int(np.argmax(llm.logits(row)))
    prefill = time.perf_counter() - start
    start = time.perf_counter()
    for step in range(decode_tokens):
        chunk = [(last[s], prompt_tokens + step, s, True) for s in range(batch)]
        for row in llm.decode(chunk):
            last[chunk[row][2]] = int(np.argmax(llm.logits(row)))
    decode = time.perf_counter() - start
    return {"batch": batch, "prefill_tokens_per_s": batch * prompt_tokens / prefill,
            "decode_tokens_per_s": batch * decode_tokens / decode}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--decode-tokens", type=int, default=32)
    ap.add_argument("--gguf", default=None)
    ap.add_argument("--check-prompt", default="1,2,3,4,5,6,7,8")
    ap.add_argument("--ours-logits", default=None, help="JSON from `lattice model run --json` for --check-prompt")
    a = ap.parse_args()
    gguf_path = a.gguf or os.path.join(a.model, "model-f32.gguf")
    cfg = write_gguf(a.model, gguf_path)
    batches = [int(b) for b in a.batches.split(",")]
    result = {"gguf": gguf_path, "rows": []}
    for b in batches:
        llm = LlamaCpp(gguf_path, a.threads, b * (a.prompt_tokens + a.decode_tokens + 8), b)
        result["rows"].append(run_batch(llm, b, a.prompt_tokens, a.decode_tokens, cfg["vocab_size"]))
    if a.ours_logits:
        ours = np.array(json.load(open(a.ours_logits))["last_logits"], dtype=np.float64)
        llm = LlamaCpp(gguf_path, a.threads, 64, 1)
        ids = [int(t) for t in a.check_prompt.split(",")]
        rows = llm.decode([(t, p, 0, p == len(ids) - 1) for p, t in enumerate(ids)])
        theirs = llm.logits(rows[-1]).astype(np.float64)
        result["logits_max_relative_difference"] = float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))
        result["same_argmax"] = bool(np.argmax(ours) == np.argmax(theirs))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
