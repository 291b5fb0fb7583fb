"""What int8 storage of the weights would cost in retrieval (runs here, on the CPU): every 2-D weight matrix of a
run's ckpt.pt (token embedding, attention, feed-forward, projection) is quantised symmetrically to int8 with one
float scale per output row (scale = max |row| / 127) and dequantised again, then rounded to float16 as the shipped
weights file stores it. The result is a run folder that export.py reads (fp32 graphs export on the CPU), so the
extension can index and search with exactly the weights an int8 file would give.

python3 kernels/train/int8_probe.py --run RUN --out DIR     # then: export.py --run DIR --out DIR/model --precisions fp32
Prints the quantised share of the parameters, the bytes an int8 file would take and the largest relative error
per matrix (Frobenius norm of the change over the matrix's).
"""
import argparse
import json
import os
import shutil

import torch

from quant8 import rel_change, round_state


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True, help="a run folder with ckpt.pt and tokenizer.json")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    ck = torch.load(os.path.join(args.run, "ckpt.pt"), map_location="cpu")
    deq, scales = round_state(ck["model"])
    report = {k: round(r, 5) for k, r in rel_change(ck["model"], deq, scales).items()}
    out = {k: deq[k].half().float().to(v.dtype) if k in scales else v   # as the fp16 weights file would hold it
           for k, v in ck["model"].items()}
    floats = [v for v in ck["model"].values() if v.is_floating_point()]
    n_all = sum(v.numel() for v in floats)
    n_q = sum(ck["model"][k].numel() for k in scales)
    int8_bytes = n_q + 2 * sum(s.numel() for s in scales.values()) + 2 * (n_all - n_q)  # int8 + fp16 scales, vectors
    os.makedirs(args.out, exist_ok=True)
    torch.save(dict(ck, model=out), os.path.join(args.out, "ckpt.pt"))
    shutil.copy2(os.path.join(args.run, "tokenizer.json"), os.path.join(args.out, "tokenizer.json"))
    summary = dict(params=n_all, quantised=n_q, quantised_share=round(n_q / n_all, 4),
                   fp16_bytes=2 * n_all, int8_bytes=int8_bytes, max_rel_change=max(report.values()),
                   rel_change=report)
    json.dump(summary, open(os.path.join(args.out, "int8_probe.json"), "w"), indent=1)
    print(json.dumps({k: v for k, v in summary.items() if k != "rel_change"}))


if __name__ == "__main__":
    main()
