"""Golden fixtures for CI and the TypeScript reference (test/fixtures/model/).

  --kernels : kernels.json, float64, small shapes: randomBlocks, key blocks, block-sparse attention (gather
              outputs incl. probs), memory update/read (linear + delta), gate, and a whole small encoder with
              random weights (weights in the reference's [in, out] layout). Needs no GPU or trained model.
  --graphs  : graphs.json + *.bin: inputs and PyTorch float64 outputs of the shipped ONNX graphs with the
              trained weights (large outputs stored as documented slices), the ONNX Runtime (CPU) relative
              errors, and equivalence.json (naive vs flex vs gather vs ONNX, parallel vs sequential memory).
"""
import argparse
import json
import os

import numpy as np
import torch

from .model import (Config, Encoder, attn_gather, base_slots, key_blocks_for, mem_contrib, mem_read,
                   mem_sequential, random_blocks, sigma)


def arr(x):
    return np.asarray(x.detach().cpu() if torch.is_tensor(x) else x).tolist()


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


# ---------------------------------------------------------------- kernel fixtures (float64)
def kernel_fixtures():
    torch.manual_seed(20261127)
    out = {"note": "float64; shapes in comments of kernels/train/fixtures.py; -1 = empty slot"}
    out["random_blocks"] = [dict(seed=s, L=L, H=H, nb=nb, window=w, n_global=g, r=r,
                                 rand_blocks=arr(random_blocks(s, L, H, nb, w, g, r)))
                            for s, L, H, nb, w, g, r in [(1234, 4, 4, 16, 3, 2, 2), (7, 2, 2, 8, 3, 2, 2),
                                                         (99, 1, 3, 64, 3, 2, 3)]]
    cfg = Config(vocab=64, d_model=32, n_layers=1, n_heads=1, n_kv_heads=1, d_head=8, d_ff=48, seg_len=128,
                 block=16)                                                 # nb 8, K 7, dense below 112
    cases = []
    for n_valid in (128, 120, 100):
        T, D = cfg.seg_len, cfg.d_head
        q, k, v = (torch.randn(1, 1, T, D, dtype=torch.float64) for _ in range(3))
        valid = (torch.arange(T) < n_valid)[None]
        rb = random_blocks(int(torch.randint(0, 2**31, ())), 1, 1, cfg.nb, cfg.window, cfg.n_global,
                           cfg.n_random)[0]
        kb = key_blocks_for(base_slots(cfg), rb, valid, cfg)
        o, (probs, gprobs) = attn_gather(q, k, v, kb, valid, cfg, want_probs=True)
        cases.append(dict(T=T, D=D, block=cfg.block, window=cfg.window, n_global=cfg.n_global,
                          n_random=cfg.n_random, n_valid=n_valid, dense=bool(n_valid < cfg.dense_below),
                          q=arr(q[0, 0]), k=arr(k[0, 0]), v=arr(v[0, 0]), valid=arr(valid[0].int()),
                          rand_head=arr(rb[0]), out=arr(o[0, 0]), key_blocks=arr(kb[0, 0]),
                          probs=arr(probs[0, 0]), global_probs=arr(gprobs[0, 0])))
    out["attention"] = cases
    S, T, D = 4, 16, 8
    q, k, v = (torch.randn(S, 1, T, D, dtype=torch.float64) for _ in range(3))
    valid = torch.ones(S, T, dtype=torch.float64)
    valid[-1, 11:] = 0
    seg_doc = torch.zeros(S, dtype=torch.long)
    mem = {}
    for rule in ("linear", "delta"):
        reads, M, z, _, _ = mem_sequential(sigma(q), sigma(k), v, valid, seg_doc,
                                           torch.zeros(1, D, D, dtype=torch.float64),
                                           torch.zeros(1, D, dtype=torch.float64), rule)
        mem[rule] = dict(reads=arr(reads[:, 0]), M=arr(M[0]), z=arr(z[0]))
    C, zc = mem_contrib(sigma(k), v, valid)
    out["memory"] = dict(S=S, T=T, D=D, eps=1e-6, q=arr(q[:, 0]), k=arr(k[:, 0]), v=arr(v[:, 0]),
                         valid=arr(valid), sigma_q=arr(sigma(q)[:, 0]), sigma_k=arr(sigma(k)[:, 0]),
                         contrib_M=arr(C[:, 0]), contrib_z=arr(zc[:, 0]), linear=mem["linear"], delta=mem["delta"])
    beta = torch.randn(4, dtype=torch.float64)
    am, al = torch.randn(4, 5, 8, dtype=torch.float64), torch.randn(4, 5, 8, dtype=torch.float64)
    g = torch.sigmoid(beta)[:, None, None]
    out["gate"] = dict(beta=arr(beta), a_mem=arr(am), a_local=arr(al), out=arr(g * am + (1 - g) * al))
    out["encoder_small"] = small_encoder()
    out["encoder_small_mem_proj"] = small_encoder(mem_proj=True)          # the memory's own q/k/v (run 26 on)
    return out


def small_encoder(mem_proj=False):
    cfg = Config(vocab=64, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_head=8, d_ff=48, seg_len=64,
                 block=8, emb_dim=16, mem_proj=mem_proj)                   # nb 8, K 7, dense below 56
    torch.manual_seed(5)
    m = Encoder(cfg).double()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.1)
        for b in m.blocks:
            b.ln1.weight.add_(1.0), b.ln2.weight.add_(1.0)
            b.attn.beta.normal_(0, 1.5)
        m.ln_f.weight.add_(1.0)
    lengths = [20, 124, 64]                                               # dense; 2 segs (2nd sparse); full
    ids, valid, doc = [], [], []
    for d, n in enumerate(lengths):
        for s0 in range(0, n, cfg.seg_len):
            row = torch.randint(4, cfg.vocab, (cfg.seg_len,))
            ids.append(row), valid.append((torch.arange(cfg.seg_len) < n - s0).double()), doc.append(d)
    ids, valid, doc = torch.stack(ids), torch.stack(valid), torch.tensor(doc)
    rb = random_blocks(1234, cfg.n_layers, cfg.n_heads, cfg.nb, cfg.window, cfg.n_global, cfg.n_random)
    L, G, D = cfg.n_layers, cfg.n_kv_heads, cfg.d_head
    mem_in = torch.rand(L, G, D, D, dtype=torch.float64) * 0.3
    z_in = torch.rand(L, G, D, dtype=torch.float64) * 5
    with torch.no_grad():
        o = m(ids, valid, doc, rb, mem_in, z_in, attn="naive", memory="sequential")
    lw = []
    for b in m.blocks:
        lw.append(dict(ln1=dict(g=arr(b.ln1.weight), b=arr(b.ln1.bias)), wqkv=arr(b.attn.wqkv.weight.t()),
                       wo=arr(b.attn.wo.weight.t()), beta=arr(b.attn.beta), ln2=dict(g=arr(b.ln2.weight),
                       b=arr(b.ln2.bias)), w1=arr(b.ff1.weight.t()), w2=arr(b.ff2.weight.t())))
        if mem_proj:
            lw[-1]["wqkvM"] = arr(b.attn.wqkv_m.weight.t())
    weights = dict(tokEmb=arr(m.tok.weight), layers=lw, lnf=dict(g=arr(m.ln_f.weight), b=arr(m.ln_f.bias)),
                   we=arr(m.proj.weight.t()))
    return dict(config=cfg.to_dict(), weights=weights, layout="weights are [in, out] (x @ W); no biases",
                inputs=dict(ids=arr(ids), valid=arr(valid), seg_doc=arr(doc), rand_blocks=arr(rb),
                            mem_in=arr(mem_in), z_in=arr(z_in)),
                outputs={k: arr(o[k]) for k in ("emb", "mem_out", "z_out", "mem_sum", "z_sum")})


# ---------------------------------------------------------------- graph fixtures (trained weights)
def write_bin(out_dir, name, x, dtype):
    a = np.ascontiguousarray(np.asarray(x.detach().cpu() if torch.is_tensor(x) else x).astype(dtype))
    a.tofile(os.path.join(out_dir, f"{name}.bin"))
    return dict(file=f"{name}.bin", dtype=np.dtype(dtype).name, shape=list(a.shape))


def graph_fixtures(run, model_dir, out_dir):
    try:
        import onnxruntime as ort
    except ImportError:                                                      # no ORT here: torch outputs only
        ort = None
    from .export import EncoderGraph, LensGraph, QueryGraph, load_model
    m64, cfg = load_model(run, "cpu", torch.float64)
    L, G, D, T = cfg.n_layers, cfg.n_kv_heads, cfg.d_head, cfg.seg_len
    g = torch.Generator().manual_seed(77)
    lengths = [63, 500, 1100]
    ids, valid, doc = [], [], []
    for d, n in enumerate(lengths):
        for s0 in range(0, n, T):
            ids.append(torch.randint(4, cfg.vocab, (T,), generator=g))
            valid.append((torch.arange(T) < n - s0).float())
            doc.append(d)
    ids, valid, doc = torch.stack(ids), torch.stack(valid), torch.tensor(doc)
    rb = random_blocks(1234, L, cfg.n_heads, cfg.nb, cfg.window, cfg.n_global, cfg.n_random)
    mem_in, z_in = torch.rand(L, G, D, D, generator=g) * 0.05, torch.rand(L, G, D, generator=g) * 20
    qids = torch.randint(4, cfg.vocab, (3, 40), generator=g)
    qids[:, 0] = 3
    qval = (torch.arange(40)[None] < torch.tensor([5, 17, 40])[:, None]).float()
    lids, lval = ids[2:3], valid[2:3]                                      # first segment of the 1100 doc
    feeds = {
        "encoder": dict(input_ids=ids, valid=valid, seg_doc=doc, rand_blocks=rb, mem_in=mem_in, z_in=z_in),
        "encoder_dense": dict(input_ids=ids, valid=valid, seg_doc=doc, rand_blocks=rb, mem_in=mem_in, z_in=z_in),
        "query": dict(input_ids=qids, valid=qval, mem_in=mem_in, z_in=z_in),
        "lens": dict(input_ids=lids, valid=lval, rand_blocks=rb, mem_in=mem_in, z_in=z_in),
    }
    modules = {"encoder": EncoderGraph(m64, "gather"), "encoder_dense": EncoderGraph(m64, "dense"),
               "query": QueryGraph(m64), "lens": LensGraph(m64)}
    out_names = {"encoder": ["emb", "mem_out", "z_out", "mem_sum", "z_sum"],
                 "query": ["qemb"],
                 "lens": ["probs", "key_blocks", "global_probs", "gates", "sigma_q", "sigma_k", "mem_out", "z_out"]}
    out_names["encoder_dense"] = out_names["encoder"]
    slices = {"emb": (slice(None), slice(None, None, 8)), "probs": (Ellipsis, slice(0, 2), slice(None)),
              "global_probs": (slice(None), slice(None), slice(None, None, 16)),
              "sigma_q": (slice(None), slice(None), slice(0, 64)), "sigma_k": (slice(None), slice(None), slice(0, 64))}
    slice_doc = {"emb": "[:, ::8] (every 8th token)", "probs": "[..., 0:2, :] (first 2 query rows of each block)",
                 "global_probs": "[:, :, ::16]", "sigma_q": "[:, :, 0:64]", "sigma_k": "[:, :, 0:64]"}
    os.makedirs(out_dir, exist_ok=True)
    manifest, errs = {}, {}
    for gname, feed in feeds.items():
        fx = {k: (v.double() if v.is_floating_point() else v) for k, v in feed.items()}
        with torch.no_grad():
            ref = modules[gname](*fx.values())
        ref = (ref,) if torch.is_tensor(ref) else ref
        entry = dict(inputs={}, outputs={})
        for k, v in feed.items():
            entry["inputs"][k] = write_bin(out_dir, f"{gname}.in.{k}", v, np.int64 if not v.is_floating_point()
                                           else np.float32)
        for name, r in zip(out_names[gname], ref):
            sl = slices.get(name)
            rr = r[sl] if sl is not None else r
            e = write_bin(out_dir, f"{gname}.out.{name}", rr, np.int64 if not r.is_floating_point() else np.float32)
            if sl is not None:
                e["slice"] = slice_doc[name]
            entry["outputs"][name] = e
        for prec in ("fp32", "fp16"):
            path = os.path.join(model_dir, f"{gname}.{prec}.onnx")
            if ort is None or not os.path.exists(path):
                continue
            try:
                sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
                res = sess.run(None, {k: v.numpy() for k, v in feed.items()})
                errs[f"{gname}.{prec}"] = {n: rel(o, r.numpy()) for n, o, r in zip(out_names[gname], res, ref)}
                errs[f"{gname}.{prec}"]["nan"] = bool(any(np.isnan(o).any() for o in res))
            except Exception as ex:                                          # fp16 kernels missing on CPU
                errs[f"{gname}.{prec}"] = dict(error=str(ex)[:300])
        entry["ort_rel_err_vs_torch_float64"] = {p: errs.get(f"{gname}.{p}") for p in ("fp32", "fp16")}
        manifest[gname] = entry
    manifest["note"] = ("Outputs are PyTorch float64 of the trained weights (gather path), stored float32; "
                        "sliced outputs say which slice. CI: ONNX Runtime CPU fp32 within 1e-4 relative.")
    json.dump(manifest, open(os.path.join(out_dir, "graphs.json"), "w"), indent=1)
    return errs, (m64, cfg, ids, valid, doc, rb, mem_in, z_in)


def equivalences(m64, cfg, ids, valid, doc, rb, mem_in, z_in):
    """naive vs gather vs flex on the trained weights, memory parallel vs sequential, first-segment NaN."""
    res = {}
    x = (ids, valid.double(), doc, rb, mem_in.double(), z_in.double())
    with torch.no_grad():
        ref = m64(*x, attn="naive", memory="sequential")
        m = valid.bool()[..., None]
        for attn, mem in (("gather", "parallel"), ("naive", "parallel"), ("gather", "sequential")):
            o = m64(*x, attn=attn, memory=mem)
            res[f"float64 {attn}/{mem} vs naive/sequential"] = rel(o["emb"] * m, ref["emb"] * m)
        first = m64(ids[:1], valid[:1], doc[:1], rb, attn="gather")
        res["first segment finite"] = bool(all(torch.isfinite(v).all() for v in first.values()))
        if torch.cuda.is_available():
            mc = m64.float().cuda()
            xc = tuple(a.cuda().float() if a.is_floating_point() else a.cuda() for a in x)
            for attn in ("flex", "gather", "naive"):
                o = mc(*xc, attn=attn)
                res[f"float32 GPU {attn} vs float64 naive"] = rel((o["emb"].cpu() * m).double(), ref["emb"] * m)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                o = mc(*xc, attn="flex")
            res["bf16 GPU flex vs float64 naive"] = rel((o["emb"].float().cpu() * m).double(), ref["emb"] * m)
            m64.double().cpu()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernels", action="store_true")
    ap.add_argument("--graphs", action="store_true")
    ap.add_argument("--run", default="")
    ap.add_argument("--model", default="")
    ap.add_argument("--out", default="test/fixtures/model")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.kernels:
        json.dump(kernel_fixtures(), open(os.path.join(args.out, "kernels.json"), "w"))
        print("kernels.json", os.path.getsize(os.path.join(args.out, "kernels.json")), "bytes")
    if args.graphs:
        errs, ctx = graph_fixtures(args.run, args.model, args.out)
        eq = equivalences(*ctx)
        json.dump(dict(ort=errs, torch=eq), open(os.path.join(args.run, "equivalence.json"), "w"), indent=1)
        print(json.dumps(dict(ort=errs, torch=eq), indent=1))


if __name__ == "__main__":
    main()
