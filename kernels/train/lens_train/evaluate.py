"""Measurements of a trained checkpoint: does the memory work, and dense retrieval on the dev set.

python3 -m lens_train.evaluate --run DIR [--dev DIR_WITH_corpus.tar.xz_AND_queries.jsonl]
Writes DIR/memory_probe.json and DIR/dev_run.jsonl (score it with shared/eval/bm25_baseline.py --score).
"""
import argparse
import io
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from .data import (DOC, MASK, MLMBatches, fact_bank, only_in_first_segment, read_dev_corpus, tokenize_files,
                   write_run)
from .model import Config, Encoder
from .quant8 import load_state
from .train import DEV, amp, embed_docs, encode_queries, fixed_rand, t

def load(run, ckpt="ckpt.pt"):
    from .tok import Tokenizer
    ck = torch.load(os.path.join(run, ckpt), map_location="cpu")
    c = {k: v for k, v in ck["config"].items() if k != "dense_below"}
    cfg = Config(**c)
    model = Encoder(cfg)
    model.load_state_dict(load_state(ck))                            # a packed int8 checkpoint too
    model = model.to(DEV)
    model.eval()
    tok = Tokenizer.from_file(os.path.join(run, "tokenizer.json"))
    from .chunks import set_expand
    set_expand(tok, ck.get("retrieval", {}).get("expand_idents"))  # chunk inputs as the run trained them
    return model, cfg, tok


MEMORY_MODES = (("on", "parallel"), ("off", "off"))       # probe name -> the model's memory path


def mlm_predict(model, inp, seg_doc, rand, memory, where=...):
    """Argmax masked-token predictions (numpy) at h[where] for one batch of segments [S, T]."""
    with amp():
        out = model(t(inp), t(np.ones(inp.shape, np.float32)), t(seg_doc), rand, memory=memory)
        return model.mlm_logits(out["h"][where]).argmax(-1).cpu().numpy()


@torch.no_grad()
def mlm_probe(model, cfg, stream, nseg=16, batches=6, seed=99):
    """Masked-token accuracy with memory on vs off: all masked tokens per segment index, and the probe
    set = masked tokens in segments >= 8 whose answer occurs only in segment 0."""
    mb = MLMBatches(stream, cfg, nseg, 4, seed=seed)
    rand = fixed_rand(cfg)
    res = {m: dict(probe_ok=0, probe_n=0, seg_ok=np.zeros(nseg), seg_n=np.zeros(nseg)) for m in ("on", "off")}
    for _ in range(batches):
        inp, labels, seg_doc, _ = mb()
        probe = only_in_first_segment(inp, labels, nseg)
        probe[np.arange(len(inp)) % nseg < 8] = False
        for mode, mem in MEMORY_MODES:
            pred = mlm_predict(model, inp, seg_doc, rand, mem)
            ok = (pred == labels) & (labels >= 0)
            r = res[mode]
            r["probe_ok"] += int(ok[probe].sum())
            r["probe_n"] += int(probe.sum())
            si = np.arange(len(inp)) % nseg
            for s in range(nseg):
                r["seg_ok"][s] += ok[si == s].sum()
                r["seg_n"][s] += (labels[si == s] >= 0).sum()
    out = {}
    for m, r in res.items():
        out[m] = dict(probe_acc=r["probe_ok"] / max(1, r["probe_n"]), probe_n=r["probe_n"],
                      acc_by_segment=(r["seg_ok"] / np.maximum(1, r["seg_n"])).round(4).tolist())
    return out


@torch.no_grad()
def facts_probe(model, cfg, tok, stream, nseg=16, batches=6, gap=8, seed=77):
    """Recall facts (data.fact_bank) in the val stream, each value drawn apart from its name (so no weight can
    know it), written in segment j and asked for in a segment >= j + gap: accuracy on the asked value tokens,
    memory on vs off. Off, only chance and the value's own first token's prior can answer."""
    mb = MLMBatches(stream, cfg, nseg, 4, seed=seed, facts=fact_bank(tok, seed=seed), recall_p=1.0, gap=gap,
                    shuffle_values=True)
    rand = fixed_rand(cfg)
    ok, n = {"on": 0, "off": 0}, 0
    for _ in range(batches):
        inp, labels, seg_doc, _, ask = mb()
        n += int(ask.sum())
        for mode, mem in MEMORY_MODES:
            pred = mlm_predict(model, inp, seg_doc, rand, mem, t(ask))
            ok[mode] += int((pred == labels[ask]).sum())
    return {"gap": gap, "n": n, **{m: ok[m] / max(1, n) for m in ok}}


FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.\n"


@torch.no_grad()
def passkey(model, cfg, tok, stream, distances=(8, 16, 64, 128), trials=24, seed=5, filler="code"):
    """A 5-digit key is written in segment 0 ('passkey = 12345'); filler follows for d segments; the last
    segment repeats 'passkey = ' with the digits masked. Token accuracy, memory on vs off. filler "code": the
    val stream (every segment new text: the hard case); "repeat": FILLER over and over, the filler of the
    passkey tests in the literature (Mohtashami & Jaggi 2023; Infini-attention), which a memory can store once."""
    rng = np.random.default_rng(seed)
    T = cfg.seg_len
    if filler == "repeat":
        one = np.array(tok.encode(FILLER, add_special_tokens=False).ids, np.int64)
        stream = np.tile(one, (max(distances) + 2) * T // len(one) + 2)
    rand = fixed_rand(cfg)
    out = {}
    for d in distances:
        if len(stream) < (d + 2) * T:
            continue
        acc = {"on": [0, 0, 0], "off": [0, 0, 0]}                          # tokens ok, tokens, keys exact
        for _ in range(trials):
            key = "".join(str(x) for x in rng.integers(0, 10, 5))
            pre = tok.encode("\npasskey = ", add_special_tokens=False).ids
            kid = tok.encode(key, add_special_tokens=False).ids
            start = int(rng.integers(0, len(stream) - (d + 1) * T))
            ids = stream[start:start + (d + 1) * T].astype(np.int64).copy().reshape(d + 1, T)
            p0 = int(rng.integers(100, T - 100))
            ids[0, p0:p0 + len(pre) + len(kid)] = pre + kid
            p1 = int(rng.integers(100, T - 100))
            ids[d, p1:p1 + len(pre)] = pre
            ids[d, p1 + len(pre):p1 + len(pre) + len(kid)] = MASK
            pos = np.arange(p1 + len(pre), p1 + len(pre) + len(kid))
            for mode, mem in MEMORY_MODES:
                pred = mlm_predict(model, ids, np.zeros(d + 1, np.int64), rand, mem, (d, pos))
                good = pred == np.array(kid)
                acc[mode][0] += int(good.sum())
                acc[mode][1] += len(kid)
                acc[mode][2] += int(good.all())
        out[str(d)] = {m: dict(token_acc=a[0] / a[1], key_exact=a[2] / trials) for m, a in acc.items()}
    return out


def windows(n_lines, size=40, stride=20):
    starts = list(range(1, max(1, n_lines - size + stride) + 1, stride)) or [1]
    return [(s, min(n_lines, s + size - 1)) for s in starts]


@torch.no_grad()
def dev_run(model, cfg, tok, dev_dir, out_path, size=40, stride=20, top=10):
    """Embed 40-line windows (stride 20) of every code file of the dev corpus (each file encoded whole,
    memory across its segments), rank by cosine, suppress overlapping windows of one file."""
    paths, texts = read_dev_corpus(dev_dir)
    toks = tokenize_files(tok, texts, with_lines=True)
    rand = fixed_rand(cfg)
    embs = embed_docs(model, cfg, [ids for ids, _ in toks], rand=rand)
    vecs, meta = [], []
    for fi, ((ids, lines), e) in enumerate(zip(toks, embs)):
        cs = torch.cat([torch.zeros(1, e.shape[1], device=DEV), e.float().cumsum(0)])   # [n+1, E]
        for a, b in windows(texts[fi].count("\n") + 1, size, stride):
            lo, hi = np.searchsorted(lines, a, "left"), np.searchsorted(lines, b, "right")
            if hi <= lo:
                continue
            vecs.append((cs[hi] - cs[lo]) / (hi - lo))
            meta.append((paths[fi], a, b))
    C = F.normalize(torch.stack(vecs), dim=-1)                               # [N, E]
    queries = [json.loads(l) for l in open(os.path.join(dev_dir, "queries.jsonl"))]
    Q = torch.cat([encode_queries(model, tok, [q["query"] for q in queries[i:i + 256]])
                   for i in range(0, len(queries), 256)])
    write_run(out_path, queries, (Q @ C.t()).topk(200, dim=-1).indices.cpu().numpy(), lambda j: meta[j], top)
    return dict(files=len(paths), windows=len(meta), tokens=int(sum(len(i) for i, _ in toks)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--dev", default="")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--ckpt", default="ckpt.pt", help="ckpt_mlm.pt: the model after masked-token pretraining")
    ap.add_argument("--chunk", action="store_true", help="dev run on the chunk-alone path (run 3: chunks.py)")
    ap.add_argument("--skip-probes", action="store_true")
    args = ap.parse_args()
    model, cfg, tok = load(args.run, args.ckpt)
    t0 = time.time()
    res = {}
    if not args.skip_probes:
        stream = np.load(os.path.join(args.run, "val_stream.npy"))
        res["mlm"] = mlm_probe(model, cfg, stream, batches=1 if args.quick else 6)
        res["facts"] = facts_probe(model, cfg, tok, stream, batches=1 if args.quick else 6)
        for name, filler in (("passkey", "code"), ("passkey_repeat", "repeat")):
            res[name] = passkey(model, cfg, tok, stream, distances=(8, 64) if args.quick else (8, 16, 64, 128),
                                trials=2 if args.quick else 24, filler=filler)
    res["gates"] = model.gates().tolist()
    print(json.dumps(res, indent=1), flush=True)
    tag = "" if args.ckpt == "ckpt.pt" else "." + args.ckpt.split(".")[0]
    if args.dev and args.chunk:
        from .chunks import dev_run as dev_run_chunks
        res["dev"] = dev_run_chunks(model, tok, args.dev, os.path.join(args.run, f"dev_run{tag}.jsonl"))
    elif args.dev:
        res["dev"] = dev_run(model, cfg, tok, args.dev, os.path.join(args.run, "dev_run.jsonl"))
    res["sec"] = time.time() - t0
    name = "memory_probe.json" if args.ckpt == "ckpt.pt" else f"memory_probe.{args.ckpt.split('.')[0]}.json"
    json.dump(res, open(os.path.join(args.run, name), "w"), indent=1)
    print(json.dumps({k: res[k] for k in ("dev", "sec") if k in res}), flush=True)


if __name__ == "__main__":
    main()
