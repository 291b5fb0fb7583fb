"""Sparse vs dense exported encoder on onnxruntime (CPU provider, python), side by side in one run.

python3 -m lens_train.bench_ort --model DIR --out bench.json [--tokens 4096,16384,65536]
Prints the median time of encoder.fp32.onnx (block-sparse, gather form) and encoder_dense.fp32.onnx (dense
attention inside each 1024-token segment) and their ratio. Not a test: numbers only.
"""
import argparse
import json
import os
import statistics
import time

import numpy as np
import onnxruntime as ort


def feeds(S, L, H, G, nb, r, vocab, T, seed=0):
    rng = np.random.default_rng(seed)
    from .model import random_blocks
    return dict(input_ids=rng.integers(4, vocab, (S, T), dtype=np.int64), valid=np.ones((S, T), np.float32),
                seg_doc=np.zeros(S, np.int64), rand_blocks=random_blocks(1234, L, H, nb, 3, 2, r).numpy(),
                mem_in=np.zeros((L, G, 64, 64), np.float32), z_in=np.zeros((L, G, 64), np.float32))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokens", default="4096,16384,65536")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    card = json.load(open(os.path.join(args.model, "model-card.json")))["config"] \
        if os.path.exists(os.path.join(args.model, "model-card.json")) else None
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    sess = {k: ort.InferenceSession(os.path.join(args.model, f"{k}.fp32.onnx"), so, providers=["CPUExecutionProvider"])
            for k in ("encoder", "encoder_dense")}
    shp = sess["encoder"].get_inputs()[3].shape                              # rand_blocks [L, H, nb, r]
    L, H, nb, r = shp
    G = sess["encoder"].get_inputs()[4].shape[1]
    T = nb * 64 if card is None else card["seg_len"]
    rows = []
    for n in map(int, args.tokens.split(",")):
        f = feeds(n // T, L, H, G, nb, r, 8192, T)
        times = {}
        for k in ("encoder", "encoder_dense"):                               # interleave warm-up, then time
            sess[k].run(None, f)
        for k in ("encoder", "encoder_dense"):
            ts = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                sess[k].run(None, f)
                ts.append(time.perf_counter() - t0)
            times[k] = statistics.median(ts)
        rows.append(dict(tokens=n, sparse_s=times["encoder"], dense_s=times["encoder_dense"],
                         dense_over_sparse=times["encoder_dense"] / times["encoder"]))
        print(f"{n:>6} tokens  sparse {times['encoder']:.3f}s  dense {times['encoder_dense']:.3f}s  "
              f"dense/sparse {rows[-1]['dense_over_sparse']:.2f}", flush=True)
    json.dump(dict(threads=args.threads, provider="CPUExecutionProvider", onnxruntime=ort.__version__, rows=rows),
              open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
