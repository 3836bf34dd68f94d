#!/usr/bin/python3
"""Independent reference for kvcache-lab's model layer: the Hugging Face Llama forward pass in numpy.

Shares no code with the TypeScript library. It reads and writes safetensors by hand (8-byte
little-endian header length, JSON header, raw little-endian tensor bytes) and computes in float64,
so agreement with the library's float32 TensorFlow.js forward pass checks the checkpoint layout,
the dtype widening, RoPE, grouped-query attention, RMSNorm and SwiGLU all at once.

Usage (numpy 1.24, /usr/bin/python3):
  llama_reference.py make-fixture OUT_DIR
      Write a tiny checkpoint (config.json + model.safetensors with a mix of F32, F16 and BF16
      tensors, weights from numpy's seeded generator) and reference.json with its logits.
      This is how test/fixtures/model/tiny was made:
      /usr/bin/python3 scripts/reference/llama_reference.py make-fixture test/fixtures/model/tiny
  llama_reference.py logits CHECKPOINT_DIR --tokens 1,2,3 [--greedy N] [--out FILE]
      Print (or write) reference logits for a checkpoint folder, e.g. one saved by the library.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

# ---------------------------------------------------------------------------------------------
# safetensors, by hand

ITEM_SIZE = {"F32": 4, "F16": 2, "BF16": 2}


def read_safetensors(path):
    """Return {name: float64 array} for a safetensors file with F32/F16/BF16 tensors."""
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + header_len].decode("utf-8"))
    data = blob[8 + header_len :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        shape = tuple(info["shape"])
        dtype = info["dtype"]
        if dtype == "F32":
            values = np.frombuffer(raw, dtype="<f4")
        elif dtype == "F16":
            values = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dtype == "BF16":
            # bfloat16 is the top 16 bits of a float32.
            values = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError("unsupported dtype %s for %s" % (dtype, name))
        tensors[name] = values.reshape(shape).astype(np.float64)
    return tensors


def to_bf16_bits(values):
    """Round float32 values to bfloat16 (round to nearest, ties to even); return the uint16 bits."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, float32 array, dtype in ITEM_SIZE)."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    chunks = []
    offset = 0
    for name, values, dtype in tensors:
        values = np.ascontiguousarray(values, dtype=np.float32)
        if dtype == "F32":
            raw = values.astype("<f4").tobytes()
        elif dtype == "F16":
            raw = values.astype("<f2").tobytes()
        elif dtype == "BF16":
            raw = to_bf16_bits(values).astype("<u2").tobytes()
        else:
            raise ValueError(dtype)
        header[name] = {"dtype": dtype, "shape": list(values.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)


# ---------------------------------------------------------------------------------------------
# the Llama forward pass (transformers' LlamaForCausalLM, one unbatched sequence, no cache)


def load_config(path):
    with open(path) as f:
        hf = json.load(f)
    heads = hf["num_attention_heads"]
    return {
        "hidden": hf["hidden_size"],
        "layers": hf["num_hidden_layers"],
        "heads": heads,
        "kv_heads": hf.get("num_key_value_heads", heads),
        "head_dim": hf.get("head_dim") or hf["hidden_size"] // heads,
        "eps": hf.get("rms_norm_eps", 1e-6),
        "theta": hf.get("rope_theta", 10000.0),
        "vocab": hf["vocab_size"],
        "tied": hf.get("tie_word_embeddings", False),
    }


def rms_norm(x, gain, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * gain


def rope(x, positions, theta):
    """x: [T, heads, D]. Rotate-half convention: channel i pairs with channel i + D/2."""
    d = x.shape[-1]
    inv_freq = 1.0 / theta ** (np.arange(0, d, 2, dtype=np.float64) / d)
    angles = positions[:, None].astype(np.float64) * inv_freq[None, :]
    emb = np.concatenate([angles, angles], axis=-1)
    cos = np.cos(emb)[:, None, :]
    sin = np.sin(emb)[:, None, :]
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    rotated = np.concatenate([-x2, x1], axis=-1)
    return x * cos + rotated * sin


def silu(x):
    return x / (1.0 + np.exp(-x))


def forward(cfg, w, tokens):
    """Logits [T, vocab] for every position of `tokens`."""
    t = len(tokens)
    h_, kv, d = cfg["heads"], cfg["kv_heads"], cfg["head_dim"]
    group = h_ // kv
    positions = np.arange(t)
    x = w["model.embed_tokens.weight"][np.asarray(tokens)]
    mask = np.triu(np.full((t, t), -np.inf), k=1)
    for i in range(cfg["layers"]):
        p = "model.layers.%d." % i
        h = rms_norm(x, w[p + "input_layernorm.weight"], cfg["eps"])
        # Linear weights are [out, in]: y = x @ W.T
        q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(t, h_, d)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(t, kv, d)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(t, kv, d)
        q = rope(q, positions, cfg["theta"])
        k = rope(k, positions, cfg["theta"])
        # repeat_kv: kv head j serves query heads j*group ... j*group + group - 1
        k = np.repeat(k, group, axis=1)
        v = np.repeat(v, group, axis=1)
        out = np.empty((t, h_, d))
        for head in range(h_):
            scores = q[:, head, :] @ k[:, head, :].T / np.sqrt(d) + mask
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            out[:, head, :] = probs @ v[:, head, :]
        x = x + out.reshape(t, h_ * d) @ w[p + "self_attn.o_proj.weight"].T
        h2 = rms_norm(x, w[p + "post_attention_layernorm.weight"], cfg["eps"])
        gated = silu(h2 @ w[p + "mlp.gate_proj.weight"].T) * (h2 @ w[p + "mlp.up_proj.weight"].T)
        x = x + gated @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], cfg["eps"])
    head = w["model.embed_tokens.weight"] if cfg["tied"] else w["lm_head.weight"]
    return x @ head.T


def reference(checkpoint_dir, tokens, greedy):
    cfg = load_config(os.path.join(checkpoint_dir, "config.json"))
    w = read_safetensors(os.path.join(checkpoint_dir, "model.safetensors"))
    prompt_logits = forward(cfg, w, tokens)
    sequence = list(tokens)
    greedy_tokens, greedy_logits = [], []
    for _ in range(greedy):
        last = forward(cfg, w, sequence)[-1]
        token = int(np.argmax(last))
        greedy_tokens.append(token)
        greedy_logits.append(last.tolist())
        sequence.append(token)
    return {
        "generator": "scripts/reference/llama_reference.py (numpy %s, float64)" % np.__version__,
        "promptTokens": list(tokens),
        "promptLogits": prompt_logits.tolist(),
        "greedyTokens": greedy_tokens,
        "greedyLogits": greedy_logits,
    }


# ---------------------------------------------------------------------------------------------
# the committed fixture

FIXTURE_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 48,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    # heads * head_dim (64) differs from hidden_size (48) on purpose: catches code that assumes they match.
    "head_dim": 16,
    "hidden_act": "silu",
    "max_position_embeddings": 128,
    "rms_norm_eps": 1e-5,
    "rope_theta": 25000.0,
    "rope_scaling": None,
    "vocab_size": 64,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "mlp_bias": False,
    "torch_dtype": "float32",
}
FIXTURE_PROMPT = [3, 17, 42, 8, 8, 61, 0, 29, 33, 50, 12, 5]
FIXTURE_GREEDY = 8


def make_fixture(out_dir, seed=20240531):
    rng = np.random.default_rng(seed)
    c = FIXTURE_CONFIG
    h, m, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    heads, kv, d = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]

    def linear(out_features, in_features):
        bound = np.sqrt(3.0 / in_features)
        return rng.uniform(-bound, bound, size=(out_features, in_features)).astype(np.float32)

    def gain():
        return rng.uniform(0.8, 1.2, size=(h,)).astype(np.float32)

    # Each layer stores its tensors in a different dtype so the loader's widening of all three is exercised.
    layer_dtypes = [("F16", "BF16"), ("BF16", "F32")]
    tensors = [("model.embed_tokens.weight", rng.uniform(-np.sqrt(3.0 / h), np.sqrt(3.0 / h), size=(v, h)).astype(np.float32), "F32")]
    for i in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % i
        attn_dtype, mlp_dtype = layer_dtypes[i]
        tensors += [
            (p + "input_layernorm.weight", gain(), "F32"),
            (p + "self_attn.q_proj.weight", linear(heads * d, h), attn_dtype),
            (p + "self_attn.k_proj.weight", linear(kv * d, h), attn_dtype),
            (p + "self_attn.v_proj.weight", linear(kv * d, h), attn_dtype),
            (p + "self_attn.o_proj.weight", linear(h, heads * d), attn_dtype),
            (p + "post_attention_layernorm.weight", gain(), "BF16"),
            (p + "mlp.gate_proj.weight", linear(m, h), mlp_dtype),
            (p + "mlp.up_proj.weight", linear(m, h), mlp_dtype),
            (p + "mlp.down_proj.weight", linear(h, m), mlp_dtype),
        ]
    tensors += [("model.norm.weight", gain(), "F16"), ("lm_head.weight", linear(v, h), "F16")]
    os.makedirs(out_dir, exist_ok=True)
    write_safetensors(os.path.join(out_dir, "model.safetensors"), tensors, {"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(FIXTURE_CONFIG, f, indent=2)
        f.write("\n")
    # Reference logits come from reading the written file back, i.e. from the rounded weights.
    ref = reference(out_dir, FIXTURE_PROMPT, FIXTURE_GREEDY)
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(ref, f)
        f.write("\n")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    mk = sub.add_parser("make-fixture")
    mk.add_argument("out_dir")
    lg = sub.add_parser("logits")
    lg.add_argument("checkpoint_dir")
    lg.add_argument("--tokens", required=True, help="comma-separated token ids")
    lg.add_argument("--greedy", type=int, default=0)
    lg.add_argument("--out")
    args = parser.parse_args(argv)
    if args.command == "make-fixture":
        make_fixture(args.out_dir)
    else:
        tokens = [int(s) for s in args.tokens.split(",") if s != ""]
        text = json.dumps(reference(args.checkpoint_dir, tokens, args.greedy))
        if args.out:
            with open(args.out, "w") as f:
                f.write(text + "\n")
        else:
            sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
