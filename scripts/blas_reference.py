#!/usr/bin/env python3
"""BLAS reference for `npm run bench:prefill`: times fp32 matmuls with numpy and prints one JSON object.

The caller sets the BLAS thread count through the environment before this starts
(OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS): BLAS libraries read it when they load.

    OPENBLAS_NUM_THREADS=2 /usr/bin/python3 scripts/blas_reference.py --shapes 1024x1024x1024,512x384x1024 --repeats 5

A shape MxKxN is an [M, K] x [K, N] product (2*M*K*N floating-point operations). Each sample is the
mean time of one product over enough products to make ~50 MFLOP (at most 200).
Exit code 3 with {"error": ...} on stdout: numpy is not installed.
"""
import argparse
import json
import platform
import sys
import time


def parse_shape(text):
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"shape must look like 512x384x1024, got {text!r}")
    return tuple(int(p) for p in parts)


def blas_info(np):
    """Which BLAS numpy calls, and with how many threads: threadpoolctl if present, else numpy's build config."""
    try:
        import threadpoolctl

        pools = [p for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            keys = ("internal_api", "version", "threading_layer", "architecture", "num_threads", "filepath")
            return {"source": "threadpoolctl", "libraries": [{k: p.get(k) for k in keys} for p in pools]}
    except ImportError:
        pass
    return {"source": "numpy.show_config (threadpoolctl not installed)", "libraries": [], "config": numpy_config_text(np)}


def numpy_config_text(np):
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        np.show_config()
    return out.getvalue()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", type=lambda s: [parse_shape(x) for x in s.split(",")], default=[(1024, 1024, 1024)])
    parser.add_argument("--repeats", type=int, default=5, help="timed products per shape (after one warm-up)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        import numpy as np
    except ImportError as err:
        print(json.dumps({"error": f"numpy is not installed for {sys.executable}: {err}"}))
        sys.exit(3)

    rng = np.random.default_rng(args.seed)
    rows = []
    for m, k, n in args.shapes:
        a = rng.random((m, k), dtype=np.float32)
        b = rng.random((k, n), dtype=np.float32)
        out = np.empty((m, n), dtype=np.float32)
        np.matmul(a, b, out=out)  # warm-up: the BLAS starts its threads and touches the output
        # As the Node side does (productsPerSample): tiny products are timed over ~50 MFLOP per sample.
        per_sample = max(1, min(200, round(5e7 / (2 * m * k * n))))
        samples = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            for _ in range(per_sample):
                np.matmul(a, b, out=out)
            samples.append((time.perf_counter() - t) * 1000 / per_sample)
        rows.append({"m": m, "k": k, "n": n, "samplesMs": [round(s, 5) for s in samples]})
    print(json.dumps({"python": platform.python_version(), "numpy": np.__version__, "blas": blas_info(np), "results": rows}))


if __name__ == "__main__":
    main()
