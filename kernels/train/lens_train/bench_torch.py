"""PyTorch peer of the extension's runtime for issue #6: the same model (weights loaded from the shipped
query.fp32.onnx) on the same card, bf16 autocast, variants side by side in one run. Numbers only, not a test.

    python3 -m lens_train.bench_torch --model kernels/model --out torch.json [--sizes 4096,65536,1048576]
    python3 -m lens_train.bench_torch --smoke --out /tmp/torch_smoke.json      # CPU, tiny, any torch >= 1.13

A size of N tokens is one long file: N / seg_len segments in forwards of `batch` segments, the memory carried
from forward to forward (mem_out -> mem_in) exactly as the runtime encodes a long file. Variants:
  flex   block-sparse attention through FlexAttention (compiled), the training path
  gather block-sparse attention with gathered key blocks (the exported graph's form)
  sdpa   dense attention inside each segment (F.scaled_dot_product_attention): the dense-attention variant
  chunk  the retrieval path (query graph): B chunks of 512 tokens each encoded alone, dense, zero memory
Also measured in the same process: a bf16 matmul peak (8192^3 and the model-shaped [65536,256]x[256,1024]) and a
device-to-device copy (bytes read + written), the card's ceilings. Timings: CUDA events around the whole size
(all its forwards), after warm-up, median of --repeat; peak memory: torch.cuda.max_memory_allocated per row.
"""
import argparse
import json
import os
import statistics
import time

import torch

from .model import Config, Encoder, random_blocks


def load_model(model_dir, device, smoke):
    card = json.load(open(os.path.join(model_dir, "model-card.json")))
    c = card.get("config", card)
    fields = Config.__dataclass_fields__
    cfg = Config(**{k: v for k, v in c.items() if k in fields})
    model = Encoder(cfg)
    src = "random init"
    try:
        from .chunks import load_from_onnx
        load_from_onnx(model, os.path.join(model_dir, "query.fp32.onnx"))
        src = "query.fp32.onnx"
    except Exception as e:  # smoke runs on machines without onnx say so; the GPU run must load the weights
        if not smoke:
            raise
        src = f"random init ({type(e).__name__}: {e})"
    return model.to(device).eval(), cfg, src


class Timer:
    def __init__(self, device):
        self.cuda = device == "cuda"

    def __call__(self, fn, repeat, warmup=1):
        for _ in range(warmup):
            fn()
        ts = []
        for _ in range(repeat):
            if self.cuda:
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                fn()
                b.record()
                torch.cuda.synchronize()
                ts.append(a.elapsed_time(b) / 1000)
            else:
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
        return statistics.median(ts), ts


def autocast(device):
    if device == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    import contextlib
    return contextlib.nullcontext()


def long_file(model, cfg, attn, tokens, batch, device, rb, gen):
    """A closure that encodes one file of `tokens` tokens (random ids) in forwards of `batch` segments."""
    T, L, G, D = cfg.seg_len, cfg.n_layers, cfg.n_kv_heads, cfg.d_head
    S = -(-tokens // T)
    n = min(batch, S)
    ids = [torch.randint(4, cfg.vocab, (n, T), generator=gen).to(device) for _ in range(2)]
    valid = torch.ones(n, T, device=device)
    seg_doc = torch.zeros(n, dtype=torch.long, device=device)

    @torch.no_grad()
    def run():
        mem = torch.zeros(L, G, D, D, device=device)
        z = torch.zeros(L, G, D, device=device)
        done, k = 0, 0
        while done < S:
            m = min(n, S - done)
            with autocast(device):
                o = model(ids[k % 2][:m], valid[:m], seg_doc[:m], rb, mem, z, attn=attn)
            mem, z = o["mem_out"].float(), o["z_out"].float()
            done, k = done + m, k + 1
        return o
    return run, S * T


def chunks(model, cfg, tokens, width, device, gen):
    B = max(1, tokens // width)
    ids = torch.randint(4, cfg.vocab, (B, width), generator=gen).to(device)
    valid = torch.ones(B, width, device=device)

    @torch.no_grad()
    def run():
        with autocast(device):
            return model(ids, valid, attn="sdpa", memory="query")
    return run, B * width


def peaks(device, timer, smoke):
    out = {}
    n = 512 if smoke else 8192
    dt = torch.bfloat16 if device == "cuda" else torch.float32
    a, b = torch.randn(n, n, device=device, dtype=dt), torch.randn(n, n, device=device, dtype=dt)
    t, _ = timer(lambda: a @ b, 5 if smoke else 20, warmup=3)
    out["peak_bf16_tflops"] = 2 * n ** 3 / t / 1e12
    out["peak_shape"] = f"{n}^3 {dt}"
    m = 1024 if smoke else 65536
    x, w = torch.randn(m, 256, device=device, dtype=dt), torch.randn(256, 1024, device=device, dtype=dt)
    t, _ = timer(lambda: x @ w, 5 if smoke else 50, warmup=3)
    out["model_shape_tflops"] = 2 * m * 256 * 1024 / t / 1e12
    nbytes = (1 << 20) if smoke else (1 << 30)
    src = torch.empty(nbytes, dtype=torch.uint8, device=device).random_()
    dst = torch.empty_like(src)
    t, _ = timer(lambda: dst.copy_(src), 5 if smoke else 20, warmup=2)
    out["copy_gbps"] = 2 * nbytes / t / 1e9
    del a, b, x, w, src, dst
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(os.path.dirname(__file__), "..", "..", "model"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--sizes", default="4096,65536,1048576")
    ap.add_argument("--batch", type=int, default=64, help="segments per forward (the runtime's GPU default)")
    ap.add_argument("--variants", default="flex,gather,sdpa")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--budget", type=float, default=150, help="seconds; later rows are skipped past it")
    ap.add_argument("--smoke", action="store_true", help="CPU, tiny sizes, gather + sdpa only")
    args = ap.parse_args()
    t_start = time.time()
    device = "cuda" if torch.cuda.is_available() and not args.smoke else "cpu"
    if args.smoke:
        args.sizes, args.variants, args.repeat = "1024", "gather,sdpa", 1
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model, cfg, src = load_model(args.model, device, args.smoke)
    timer = Timer(device)
    res = dict(device=torch.cuda.get_device_name() if device == "cuda" else "cpu", torch=torch.__version__,
               weights=src, batch=args.batch, rows=[], notes=[])
    save = lambda: json.dump(res, open(args.out, "w"), indent=1)  # noqa: E731
    res.update(peaks(device, timer, args.smoke))
    print(f"{res['device']}: bf16 matmul {res['peak_bf16_tflops']:.0f} TFLOP/s ({res['peak_shape']}), "
          f"[m,256]x[256,1024] {res['model_shape_tflops']:.0f} TFLOP/s, copy {res['copy_gbps']:.0f} GB/s", flush=True)
    save()
    rb = random_blocks(1234, cfg.n_layers, cfg.n_heads, cfg.nb, cfg.window, cfg.n_global, cfg.n_random).to(device)
    # the same function on every path: flex and sdpa against gather on one small batch (relative error of emb)
    with torch.no_grad():
        ids = torch.randint(4, cfg.vocab, (4, cfg.seg_len), generator=gen).to(device)
        val = torch.ones(4, cfg.seg_len, device=device)
        with autocast(device):
            ref = model(ids, val, None, rb, attn="gather")["emb"].float()
            for attn in args.variants.split(","):
                if attn == "gather":
                    continue
                try:
                    e = model(ids, val, None, rb, attn=attn)["emb"].float()
                    res.setdefault("check_vs_gather", {})[attn] = float((e - ref).norm() / ref.norm())
                except Exception as ex:
                    res.setdefault("check_vs_gather", {})[attn] = f"{type(ex).__name__}: {str(ex)[:200]}"
    print(f"emb relative difference to gather (same input; sdpa is dense, so it differs by design): {res.get('check_vs_gather')}", flush=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    plan = [(a, n, args.batch) for n in sizes for a in args.variants.split(",")]
    if not args.smoke:
        plan += [("flex", sizes[-1], 256), ("sdpa", sizes[-1], 256), ("chunk", 65536, 512)]
    else:
        plan += [("chunk", 1024, 512)]
    for attn, n, batch in plan:
        name = f"chunk sdpa 512-token chunks" if attn == "chunk" else f"{attn} {'dense' if attn == 'sdpa' else 'sparse'} b{batch}"
        row = dict(variant=name, attn=attn, tokens=n, batch=batch)
        res["rows"].append(row)
        if time.time() - t_start > args.budget:
            row["skipped"] = "time budget"
            print(f"{name:28s} {n:>8d} skipped (time budget)", flush=True)
            continue
        try:
            if device == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            fn, total = chunks(model, cfg, n, batch, device, gen) if attn == "chunk" else \
                long_file(model, cfg, attn, n, batch, device, rb, gen)
            t0 = time.time()
            fn()                                                             # compile / autotune / allocate
            if device == "cuda":
                torch.cuda.synchronize()
            row["first_s"] = time.time() - t0
            t, ts = timer(fn, args.repeat, warmup=1)
            row.update(tokens=total, seconds=t, tokens_per_s=total / t, all_s=ts)
            if device == "cuda":
                row["max_mem_mib"] = torch.cuda.max_memory_allocated() / 2 ** 20
            print(f"{name:28s} {total:>8d} tok {total / t:>12.0f} tok/s  {t * 1000:8.1f} ms  first {row['first_s']:.1f} s"
                  + (f"  max mem {row['max_mem_mib']:.0f} MiB" if "max_mem_mib" in row else ""), flush=True)
        except Exception as e:
            row["error"] = f"{type(e).__name__}: {str(e)[:300]}"
            print(f"{name:28s} {n:>8d} ERROR {row['error']}", flush=True)
        save()
    res["wall_s"] = time.time() - t_start
    save()


if __name__ == "__main__":
    main()
