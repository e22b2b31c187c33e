#!/usr/bin/env python3
"""Independent NumPy reference for a Hugging Face Llama checkpoint (float64, no KV cache).

Usage: scripts/reference_llama.py MODEL_DIR --prompt-ids 1,2,3 --max-tokens N
Prints JSON {"tokens": [...], "logits": [[...], ...]}: greedy tokens, and the logits that
picked each one. Written from the Hugging Face modeling code's equations, sharing nothing
with the Swift implementation: safetensors parsing, RoPE, attention and sampling are its own.
"""
import argparse, json, math, os, struct
import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        buf = raw[base + begin: base + end]
        if info["dtype"] == "BF16":
            bits = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        else:
            arr = np.frombuffer(buf, dtype=np.dtype(DTYPES[info["dtype"]]).newbyteorder("<"))
        out[name] = arr.astype(np.float64).reshape(info["shape"])
    return out


def load(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    index = os.path.join(model_dir, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    weights = {}
    for name in files:
        weights.update(read_safetensors(os.path.join(model_dir, name)))
    return cfg, weights


def inv_freq(cfg):
    heads = cfg["num_attention_heads"]
    d = cfg.get("head_dim") or cfg["hidden_size"] // heads
    theta = cfg.get("rope_theta", 10000.0)
    freq = 1.0 / theta ** (np.arange(0, d, 2, dtype=np.float64) / d)
    sc = cfg.get("rope_scaling")
    if sc:
        kind = sc.get("rope_type", sc.get("type"))
        if kind == "linear":
            freq = freq / sc["factor"]
        elif kind == "llama3":
            factor, lo, hi = sc["factor"], sc["low_freq_factor"], sc["high_freq_factor"]
            old = sc["original_max_position_embeddings"]
            wavelen = 2 * math.pi / freq
            scaled = np.where(wavelen > old / lo, freq / factor, freq)
            smooth = (old / wavelen - lo) / (hi - lo)
            smoothed = (1 - smooth) * scaled / factor + smooth * scaled
            medium = (wavelen >= old / hi) & (wavelen <= old / lo)
            freq = np.where(medium, smoothed, scaled)
    return freq, d


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rotated * sin


def forward(cfg, w, ids):
    eps = cfg.get("rms_norm_eps", 1e-6)
    heads = cfg["num_attention_heads"]
    kv_heads = cfg.get("num_key_value_heads", heads)
    freq, d = inv_freq(cfg)
    n = len(ids)
    angles = np.outer(np.arange(n, dtype=np.float64), freq)
    cos = np.cos(np.concatenate([angles, angles], axis=-1))[None]
    sin = np.sin(np.concatenate([angles, angles], axis=-1))[None]
    h = w["model.embed_tokens.weight"][ids]
    mask = np.triu(np.full((n, n), -np.inf), k=1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = rms_norm(h, w[p + "input_layernorm.weight"], eps)
        q = (x @ w[p + "self_attn.q_proj.weight"].T).reshape(n, heads, d).transpose(1, 0, 2)
        k = (x @ w[p + "self_attn.k_proj.weight"].T).reshape(n, kv_heads, d).transpose(1, 0, 2)
        v = (x @ w[p + "self_attn.v_proj.weight"].T).reshape(n, kv_heads, d).transpose(1, 0, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        k = np.repeat(k, heads // kv_heads, axis=0)
        v = np.repeat(v, heads // kv_heads, axis=0)
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(d) + mask
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        attn = (scores @ v).transpose(1, 0, 2).reshape(n, heads * d)
        h = h + attn @ w[p + "self_attn.o_proj.weight"].T
        x = rms_norm(h, w[p + "post_attention_layernorm.weight"], eps)
        gate = x @ w[p + "mlp.gate_proj.weight"].T
        up = x @ w[p + "mlp.up_proj.weight"].T
        h = h + (gate / (1 + np.exp(-gate)) * up) @ w[p + "mlp.down_proj.weight"].T
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"]) if not cfg.get("tie_word_embeddings") else w["model.embed_tokens.weight"]
    return rms_norm(h[-1], w["model.norm.weight"], eps) @ head.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--prompt-ids", required=True)
    ap.add_argument("--max-tokens", type=int, default=4)
    a = ap.parse_args()
    cfg, w = load(a.model)
    ids = [int(t) for t in a.prompt_ids.split(",")]
    tokens, logits = [], []
    for _ in range(a.max_tokens):
        out = forward(cfg, w, ids)
        token = int(np.argmax(out))
        tokens.append(token)
        logits.append(out.tolist())
        ids.append(token)
    print(json.dumps({"tokens": tokens, "logits": logits}))


if __name__ == "__main__":
    main()
