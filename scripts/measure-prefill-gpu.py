#!/usr/bin/env python3
"""Measure the prefill table that the cost model reads (lib/data/h100-prefill.tsv) on a CUDA GPU.

Optional: it needs PyTorch with CUDA and Hugging Face transformers, which the course does not
install. Each model is a Hugging Face LlamaModel with the published config and random weights
(random weights do not change the compute time), in bf16 with SDPA attention, batch 1; each prompt
length is prefilled once to warm up, then timed `--repeats` times; the median goes in the table.
Llama-3-70B does not fit one 80 GB GPU in bf16: `--layers-70b` of its 80 layers are timed and the
time is scaled to 80 (the note column says so).

    python3 scripts/measure-prefill-gpu.py --out lib/data/h100-prefill.tsv
    python3 scripts/measure-prefill-gpu.py --self-test     # the TSV format only, no GPU needed
"""
import argparse
import datetime
import statistics
import sys
import time

# The published shapes (config.json of each model); the same numbers as MODEL_PRESETS in
# lib/src/model/presets.ts.
MODELS = {
    "llama2-7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32, vocab_size=32000, rope_theta=10000.0, max_position_embeddings=4096),
    "llama3-8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8, vocab_size=128256, rope_theta=500000.0, max_position_embeddings=8192),
    "llama3-70b": dict(hidden_size=8192, intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64, num_key_value_heads=8, vocab_size=128256, rope_theta=500000.0, max_position_embeddings=8192),
}
COLUMNS = ["model", "prompt_tokens", "prefill_ms", "prefill_tokens_per_s", "kv_bytes_per_token", "kv_bytes_total", "breakeven_GBps", "note"]


def kv_bytes_per_token(shape, bytes_per_value=2):
    head_dim = shape["hidden_size"] // shape["num_attention_heads"]
    return 2 * shape["num_hidden_layers"] * shape["num_key_value_heads"] * head_dim * bytes_per_value


def row(model, tokens, prefill_ms, note):
    """One TSV row; breakeven_GBps = the prompt's KV bytes / prefill time (bytes per ns = GB/s)."""
    per_token = kv_bytes_per_token(MODELS[model])
    total = per_token * tokens
    return [model, str(tokens), f"{prefill_ms:.1f}", str(round(tokens * 1000 / prefill_ms)), str(per_token), str(total), f"{total / (prefill_ms * 1e6):.2f}", note]


def write_tsv(path, provenance, rows):
    lines = [f"# {p}" for p in provenance] + ["\t".join(COLUMNS)] + ["\t".join(r) for r in rows]
    text = "\n".join(lines) + "\n"
    if path == "-":
        sys.stdout.write(text)
    else:
        with open(path, "w") as f:
            f.write(text)


def measure(args):
    import torch
    import transformers
    from transformers import LlamaConfig, LlamaModel

    if not torch.cuda.is_available():
        sys.exit("no CUDA device: this script measures GPU prefill (see --self-test for the format)")
    device = torch.device("cuda")
    gpu = torch.cuda.get_device_name(0)
    rows = []
    for name in args.models:
        shape = dict(MODELS[name])
        scale, note = 1.0, "all layers"
        if name == "llama3-70b" and args.layers_70b < shape["num_hidden_layers"]:
            scale = shape["num_hidden_layers"] / args.layers_70b
            note = f"{args.layers_70b} of {shape['num_hidden_layers']} layers timed, scaled x{scale:g}"
            shape["num_hidden_layers"] = args.layers_70b
        config = LlamaConfig(**shape, attn_implementation="sdpa", torch_dtype=torch.bfloat16)
        t0 = time.perf_counter()
        with torch.device(device):
            model = LlamaModel(config).to(torch.bfloat16).eval()
        print(f"{name}: built on {gpu} in {time.perf_counter() - t0:.1f} s", flush=True)
        generator = torch.Generator(device=device).manual_seed(0)
        for tokens in args.lengths:
            ids = torch.randint(0, shape["vocab_size"], (1, tokens), device=device, generator=generator)
            times = []
            with torch.inference_mode():
                for i in range(args.repeats + 1):
                    torch.cuda.synchronize()
                    start = time.perf_counter()
                    model(input_ids=ids, use_cache=True)
                    torch.cuda.synchronize()
                    if i > 0:  # the first run warms up kernels and the allocator
                        times.append((time.perf_counter() - start) * 1000)
            ms = statistics.median(times) * scale
            rows.append(row(name, tokens, ms, note))
            print("\t".join(rows[-1]), flush=True)
        del model
        torch.cuda.empty_cache()
    today = datetime.date.today().isoformat()
    provenance = [
        f"Provenance: written by scripts/measure-prefill-gpu.py ({' '.join(sys.argv[1:])}) on {today}; the cost model in lib/src/bench/cost.ts reads this file.",
        f"Prefill time of Llama-shaped models on one {gpu} (torch {torch.__version__}, transformers {transformers.__version__}, HF LlamaModel, random weights, bf16, SDPA attention, batch 1, median of {args.repeats} after a warm-up).",
        "kv_bytes_per_token = 2 (K and V) x layers x kv_heads x head_dim x 2 bytes (bf16). breakeven_GBps = KV bytes of the prompt / prefill time: a store that delivers KV faster than this beats recomputing it.",
        "Random weights do not change the compute time. Unoptimised HF code: an optimised serving engine prefills faster, which raises the break-even bandwidth by as much.",
    ]
    write_tsv(args.out, provenance, rows)


def self_test(args):
    """Write the table's format from stated, made-up timings (never published) to check the layout."""
    rows = [row(m, n, 10.0 * n / 1024, "self-test: made-up timing") for m in args.models for n in args.lengths]
    write_tsv(args.out, ["Self-test of the format: made-up timings, not a measurement."], rows)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="llama2-7b,llama3-8b,llama3-70b", type=lambda s: [m for m in s.split(",") if m])
    p.add_argument("--lengths", default="1024,4096,16384", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--repeats", default=3, type=int)
    p.add_argument("--layers-70b", default=4, type=int, help="layers of Llama-3-70B to time (then scaled to 80)")
    p.add_argument("--out", default="-", help="TSV file to write (default: stdout)")
    p.add_argument("--self-test", action="store_true", help="write the format from made-up timings, without torch")
    args = p.parse_args()
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        p.error(f"unknown model {unknown[0]!r}; known: {', '.join(MODELS)}")
    (self_test if args.self_test else measure)(args)


if __name__ == "__main__":
    main()
