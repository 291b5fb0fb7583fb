"""Run 3: contrastive training of the chunk-alone path (chunks.py), initialised from the shipped weights.
Large batches (groups of same-package pairs = hard negatives), symmetric InfoNCE with a learnable
temperature, aux masked-token loss on long multi-segment sequences every k-th step (memory path + MLM head),
selection on held-out val pairs (chunk-alone MRR@10), never on dev. Wall-clock bounded.

python3 -m lens_train.train_chunks --config CONFIG.json --init kernels/model \
    --out DIR --data .data [--deadline EPOCH] [--smoke] [--resume CKPT]
Run 5 packs (pairs/pack.py) bring their extra pairs prebuilt (extra_pairs.jsonl.xz) and flag the aux files.
Writes DIR/ckpt.pt (selected), DIR/ckpt_init.pt, DIR/tokenizer.json, DIR/val_stream.npy, DIR/train_log.json.
"""
import argparse
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

from .chunks import Spans, TextSpans, ValSet, encode, load_from_onnx, query_ids, set_expand
from .data import MLMBatches, fact_bank, load_shard_or_synthetic, read_jsonl_xz, tokenize_files
from .model import Config, Encoder
from .quant8 import load_state
from .train import DEV, flops_per_token, fresh_rand, mlm_loss, seed_all


def batches(pkgs, cc, rng, size=None):
    """Pair indices of one batch: groups of up to cc['group'] pairs from one package, packages drawn
    without replacement with weight sqrt(size)."""
    size = size or cc["batch"]
    by_pkg = {}
    for i, p in enumerate(pkgs):
        by_pkg.setdefault(p, []).append(i)
    pk = list(by_pkg.values())
    w = np.array([len(v) for v in pk], dtype=np.float64) ** 0.5
    w /= w.sum()
    while True:
        out = []
        for j in rng.choice(len(pk), size=min(len(pk), size), replace=False, p=w):
            out += list(rng.permutation(pk[j])[:cc["group"]])
            if len(out) >= size:
                break
        yield out[:size]


EXTRA_KINDS = ("doc", "ident", "comment", "xdoc", "dts")    # the extra pair kinds a pack may hold


def neighbour_batches(nbr, cc, rng, size):
    """Run 7: pair indices of one batch built from lexical neighbourhoods (pairs/hard_negatives.py): a seed pair
    and `hn_per` of its BM25 hard negatives (drawn from its top `hn_top`), each a pair with its own query, so
    every query meets code that shares its words in the same batch."""
    n = len(nbr)
    while True:
        out, seen = [], set()
        for i in rng.permutation(n):
            if i in seen:
                continue
            cand = [int(j) for j in nbr[i, :cc["hn_top"]] if j >= 0 and j not in seen]
            grp = [int(i)] + [cand[k] for k in rng.permutation(len(cand))[:cc["hn_per"]]]
            out += grp
            seen.update(grp)
            if len(out) >= size:
                break
        yield out[:size]


def load_neighbours(args, kept):
    """hardneg.npy of the pack, re-indexed to the kept pairs (`kept`: pack row of each kept pair; -1 = dropped)."""
    raw = np.load(os.path.join(args.data, "hardneg.npy"))
    where = np.full(len(raw), -1, dtype=np.int64)
    where[np.array(kept)] = np.arange(len(kept))
    nbr = np.where(raw[kept] >= 0, where[np.maximum(raw[kept], 0)], -1)
    # the kept neighbours first, in their BM25 order
    return np.array([[j for j in row if j >= 0] + [-1] * int((row < 0).sum()) for row in nbr], dtype=np.int64)


def extra_pairs(args, cc, files, pairs):
    """The identifier / docstring / comment pairs and their counts: prebuilt in a run-5 pack
    (extra_pairs.jsonl.xz), else built here from the train files (run 4)."""
    packed = os.path.join(args.data, "extra_pairs.jsonl.xz")
    if os.path.exists(packed):                             # run 5: built beforehand over all train files
        extra = read_jsonl_xz(packed)
        for kind, name in (("xdoc", "xlang_pairs.jsonl.xz"),  # run 9: Go / Java doc pairs (pairs/build_xlang.py)
                           ("dts", "dts_pairs.jsonl.xz")):    # run 17: TypeScript declarations (pairs/build_dts.py)
            side = os.path.join(args.data, name)
            if cc["mix"].get(kind) and os.path.exists(side):
                extra += read_jsonl_xz(side)
        if args.smoke:
            extra = extra[::max(1, len(extra) // 3000)]
        return extra, dict(prebuilt=len(extra), **{k: sum(p["kind"] == k for p in extra)
                                                     for k in EXTRA_KINDS})
    from .pairs.build_pairs import build                    # run 4: identifier + unselected-docstring pairs
    try:
        return build([f for f in files if f["split"] == "train"], pairs, cc["extra_limit_s"], seed=cc["seed"])
    except Exception as e:                                 # no retry on the GPU: fall back to run 3's pairs
        print(f"extra pairs FAILED: {e!r}", flush=True)
        return [], dict(error=repr(e))


def load_pack(data, smoke=False):
    """The pack's (or shard's) files, train pairs and val pairs; a smoke run keeps about 400 of the files."""
    files, pairs, pairs_val = load_shard_or_synthetic(data)
    if smoke:
        files = files[::max(1, len(files) // 400)]
    return files, pairs, pairs_val


def val_set(tok, cc, files, pairs_val):
    """The selection's val set (also soup.py's): the first cc['val_pairs'] val pairs whose file is kept, ranked
    against every val function plus cc['distractors'] windows of the val files. -> ValSet, its pairs, val files."""
    fmap = {f["id"]: f for f in files}
    pairs_val = [p for p in pairs_val if p["file_id"] in fmap][:cc["val_pairs"]]
    for p in pairs_val:
        p["pkg"] = fmap[p["file_id"]]["pkg"]
    val_files = [f for f in files if f["split"] == "val"]
    return ValSet(tok, fmap, pairs_val, val_files, max_distract=cc["distractors"]), pairs_val, val_files


def round_fp16(model):
    """Round the parameters to float16 values in place (the shipped weights file is fp16)."""
    with torch.no_grad():
        for prm in model.parameters():
            prm.copy_(prm.half().float())


def set_lr(opt, cc, step, total):
    warm = cc["warmup"]
    f = step / warm if step < warm else 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))
    for g in opt.param_groups:
        g["lr"] = g["base_lr"] * max(f, 0.05)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--init", required=True, help="folder with query.fp32.onnx + its weights file + tokenizer.json")
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=".data")
    ap.add_argument("--deadline", type=float, default=0, help="epoch seconds by which ckpt.pt must be written")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--resume", default="", help="start from this ckpt.pt (a previous call's selected weights)")
    args = ap.parse_args()
    T0 = time.time()
    conf = json.load(open(args.config))
    cfg, cc = Config(**conf["model"]), conf["chunks"]
    seed_all(cc["seed"])
    os.makedirs(args.out, exist_ok=True)
    from .tok import Tokenizer
    tok = Tokenizer.from_file(os.path.join(args.init, "tokenizer.json"))
    tok.save(os.path.join(args.out, "tokenizer.json"))
    set_expand(tok, cc.get("expand_idents"))               # run 6: identifier words before each chunk's code
    files, pairs, pairs_val = load_pack(args.data, args.smoke)
    fmap = {f["id"]: f for f in files}
    kept = [i for i, p in enumerate(pairs) if p["file_id"] in fmap]   # pack rows (hardneg.npy is in pack order)
    pairs = [pairs[i] for i in kept]
    for p in pairs:
        p["pkg"] = fmap[p["file_id"]]["pkg"]
    # extra pairs first: the pool forks before any tokenizer thread exists
    sources = []
    extra_stats = None
    if cc.get("mix"):
        extra, extra_stats = extra_pairs(args, cc, files, pairs)
        T1 = time.time()
        for kind in EXTRA_KINDS:
            ps = [p for p in extra if p["kind"] == kind]
            if ps:
                sources.append((kind, TextSpans(tok, ps, cc["max_code"]), query_ids(tok, [p["query"] for p in ps]),
                                [p["query"] for p in ps]))
        extra_stats["sec_tokenize"] = time.time() - T1
        print(f"extra pairs {json.dumps(extra_stats)}", flush=True)
    spans = Spans(tok, fmap, pairs)
    qids = query_ids(tok, [p["query"] for p in pairs])
    vs, pairs_val, val_files = val_set(tok, cc, files, pairs_val)
    train_files = [f for f in files if f["split"] == "train"]
    if any(f.get("aux") for f in train_files):             # a pack names its aux files
        train_files = [f for f in train_files if f.get("aux")]
    random.Random(cc["seed"]).shuffle(train_files)
    keep, size = [], 0
    for f in train_files:                                  # aux masked-token stream: a seeded subset
        if size > cc["aux_mb"] * 2**20:
            break
        keep.append(f)
        size += len(f["text"])
    keep.sort(key=lambda f: (f["pkg"], f["path"]))         # package order: memory spans related files
    stream = np.concatenate([i for i, _ in tokenize_files(tok, [f["text"] for f in keep])])
    val_stream = np.concatenate([i for i, _ in tokenize_files(tok, [f["text"] for f in val_files])])
    if len(val_stream) < 140 * cfg.seg_len:
        val_stream = np.concatenate([val_stream, stream[-140 * cfg.seg_len:]])
    np.save(os.path.join(args.out, "val_stream.npy"), val_stream[:2_000_000])
    sources = [("orig", spans, qids, [p["query"] for p in pairs])] + sources
    print(f"pairs {len(pairs)} val {len(pairs_val)} + {len(vs.distract)} distractors; aux stream "
          f"{len(stream)} tokens ({time.time() - T0:.0f}s)", flush=True)

    if args.resume:
        model = Encoder(cfg)
        model.load_state_dict(load_state(torch.load(args.resume, map_location="cpu")))   # packed int8 too
        model = model.to(DEV)
    else:
        model = load_from_onnx(Encoder(cfg), os.path.join(args.init, "query.fp32.onnx")).to(DEV)
    torch.save(dict(model=model.state_dict(), config=cfg.to_dict()), os.path.join(args.out, "ckpt_init.pt"))
    attn = "sdpa"
    if DEV == "cuda":                                      # the fused kernel must equal the explicit dense form
        x = [spans.chunk(i, 200) for i in range(8)]
        d = float((encode(model.float(), x, attn="sdpa") - encode(model, x, attn="dense")).abs().max())
        attn = "sdpa" if d < 1e-2 else "dense"
        print(f"sdpa vs dense max diff {d:.2e} -> {attn}", flush=True)
    model.set_dropout(cc.get("dropout", 0.0))              # run 11: residual dropout against memorising the pairs
    scale = torch.nn.Parameter(torch.tensor(math.log(1 / cc["tau_init"]), device=DEV))
    groups = model.param_groups(cc["lr"], cc["beta_lr"], cc["wd"]) + [dict(params=[scale], weight_decay=0.0)]
    for g, lr in zip(groups, (cc["lr"], cc["lr"], cc["beta_lr"], cc["scale_lr"])):
        g["lr"] = g["base_lr"] = lr
    opt = torch.optim.AdamW(groups, betas=(0.9, 0.98))
    aux = MLMBatches(stream, cfg, cc["aux_nseg"], cc["aux_seqs"], 0.15, 0.5, 8, seed=cc["seed"] + 3,
                     facts=fact_bank(tok, seed=cc["seed"] + 5) if cc.get("aux_recall_p") else None,
                     recall_p=cc.get("aux_recall_p", 0.0))   # recall facts kept up through the aux loss
    rng = np.random.default_rng(cc["seed"])
    mix = cc.get("mix") or {"orig": cc["batch"]}
    sources = [s for s in sources if mix.get(s[0])]
    gens = [batches(s[1].pkg, cc, rng, mix[s[0]]) for s in sources]
    if cc.get("hard_neg"):                                 # run 7: the original pairs' part from BM25 neighbourhoods
        nbr = load_neighbours(args, kept)
        print(f"hard negatives: {float((nbr[:, :cc['hn_top']] >= 0).mean()):.3f} of the top {cc['hn_top']} kept", flush=True)
        gens[0] = neighbour_batches(nbr, cc, rng, mix["orig"])
    log = []
    t_end = args.deadline - 25 if args.deadline else T0 + 60 * cc["minutes"]
    if args.smoke:
        t_end = time.time() + 120
    hybrid = cc.get("select") == "hybrid"                  # run 8: select on the hybrid's val MRR@10, not dense alone
    def val():                                         # dense and hybrid val MRR@10, and the one selected on
        m = vs.mrr(model)
        h = vs.hybrid_mrr()
        return m, h, (h if hybrid else m)
    v0, h0, sel0 = val()
    lex0 = vs.hybrid_mrr(w=0.0)
    best, best_state, best_step = sel0, {k: v.detach().clone() for k, v in model.state_dict().items()}, 0
    log.append(dict(phase="val", step=0, val_mrr10=v0, val_hybrid_mrr10=h0, val_bm25_mrr10=lex0))
    print(f"val MRR@10 {v0:.4f} hybrid {h0:.4f} (BM25 alone {lex0:.4f}) at step 0 (init weights, chunk-alone path)", flush=True)
    step, t0, n_tok, n_pairs, est = 0, time.time(), 0, 0, cc["est_steps"]
    ooms = 0
    next_eval = t0 + cc["eval_every_s"]
    # run 19: the weights at every val pass in the last part of the run, for soup.py's trajectory average (SWA)
    swa_at = t0 + cc["swa_from"] * (t_end - t0) if cc.get("swa_from") is not None else None
    snaps = []
    mark = None
    while time.time() < t_end and step < (cc["smoke_steps"] if args.smoke else 10**9):
        if step == 10:
            mark = time.time()
        if step == 40:                                     # cosine length from the measured step time
            est = 40 + int((t_end - time.time()) / ((time.time() - mark) / 30))
        set_lr(opt, cc, step, est)
        code, qs, qtext = [], [], []
        for (_, sp, qi, qt), g in zip(sources, gens):       # batch = orig + doc + ident parts
            idx = next(g)
            code += [sp.chunk(i, cc["max_code"], rng, cc["p_ext"]) for i in idx]
            qs += [qi[i] for i in idx]
            qtext += [hash(qt[i]) for i in idx]
        try:
            C = encode(model, code, attn=attn, group_tokens=cc["group_tokens"])  # [B, E]
            Q = encode(model, qs, attn=attn, group_tokens=cc["group_tokens"])    # [B, E]
            logits = (Q @ C.t()) * scale.exp().clamp(max=100.0)
            qtext = np.array(qtext)
            dup = torch.as_tensor((qtext[:, None] == qtext[None, :]) & ~np.eye(len(qs), dtype=bool), device=DEV)
            logits = logits.masked_fill(dup, -1e4)               # identical queries are not negatives
            lab = torch.arange(len(qs), device=DEV)
            loss = 0.5 * (F.cross_entropy(logits, lab) + F.cross_entropy(logits.t(), lab))
            ctr = float(loss)
            if step % cc["aux_every"] == 0:                     # keep the memory path and the MLM head trained
                b = aux()
                loss = loss + cc["aux_weight"] * mlm_loss(model, cfg, b, fresh_rand(cfg, rng), attn=cc.get("aux_attn"),
                                                         recall_w=cc.get("aux_recall_w", 0.0))[0]
                n_tok += b[0].size
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            oom = False
        except RuntimeError as ex:                          # seeds sharing a GPU (run_gpu.sh SEEDS_PER_GPU): a step
            if "out of memory" not in str(ex):              # that finds no memory is skipped, counted, not fatal
                raise
            oom = True
        if oom:                                            # outside the handler: its traceback holds the tensors
            opt.zero_grad(set_to_none=True)
            loss = C = Q = logits = None
            torch.cuda.empty_cache()
            ooms += 1
            print(f"step {step}: out of memory ({ooms} so far), skipped", flush=True)
            if ooms > 20 and ooms > step:
                raise RuntimeError(f"out of memory in {ooms} steps, {step} done")
            continue
        n_tok += sum(map(len, code)) + sum(map(len, qs))
        n_pairs += len(qs)
        if step % 25 == 0:
            print(f"step {step} loss {ctr:.3f} total {float(loss):.3f} tau {1 / float(scale.exp()):.4f} "
                  f"{n_tok / (time.time() - t0):.0f} tok/s", flush=True)
            log.append(dict(phase="chunks", step=step, loss=ctr, total=float(loss), sec=time.time() - t0,
                            tau=1 / float(scale.exp())))
        step += 1
        if time.time() > next_eval or time.time() >= t_end:
            m, h, sel = val()
            log.append(dict(phase="val", step=step, val_mrr10=m, val_hybrid_mrr10=h, sec=time.time() - t0))
            print(f"val MRR@10 {m:.4f} hybrid {h:.4f} at step {step}", flush=True)
            if sel > best:
                best, best_step = sel, step
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if swa_at is not None and time.time() >= swa_at:
                snaps.append(dict(step=step, sel=sel, model={k: v.detach().cpu().clone() for k, v in model.state_dict().items()}))
            next_eval = time.time() + cc["eval_every_s"]
    sec = time.time() - t0
    if snaps:                                              # unrounded; soup.py rounds what it scores
        torch.save(snaps, os.path.join(args.out, "snapshots.pt"))
    model.load_state_dict(best_state)
    rounded = rounded_h = None
    if cc.get("round_fp16"):                               # one fp16 weights file serves both precisions
        round_fp16(model)
        rounded, rounded_h, _ = val()
        print(f"val MRR@10 {rounded:.4f} hybrid {rounded_h:.4f} after rounding the weights to fp16", flush=True)
    torch.save(dict(model=model.state_dict(), config=cfg.to_dict(),
                    retrieval=dict(expand_idents=bool(cc.get("expand_idents")))), os.path.join(args.out, "ckpt.pt"))
    n_body = sum(p.numel() for p in model.parameters()) - model.tok.weight.numel()
    summary = dict(config=cfg.to_dict(), chunks=cc, device=torch.cuda.get_device_name() if DEV == "cuda" else "cpu",
                   steps=step, sec=sec, pairs=n_pairs, tokens=n_tok, tokens_per_s=n_tok / max(sec, 1e-9),
                   mfu_vs_989tflops=n_tok / max(sec, 1e-9) * flops_per_token(cfg, n_body) / 989e12,
                   attn=attn, val_mrr10_init=v0, val_mrr10_best=best, best_step=best_step,
                   val_mrr10_rounded_fp16=rounded, val_hybrid_mrr10_rounded_fp16=rounded_h, select="hybrid" if hybrid else "dense",
                   val_hybrid_mrr10_init=h0, val_bm25_mrr10=lex0, resumed_from=args.resume or None,
                   selected=cc.get("name", "run3") if best_step > 0 else "init", extra_pairs=extra_stats,
                   sources={s[0]: len(s[1].pkg) for s in sources}, tau=1 / float(scale.exp()),
                   gates=model.gates().tolist(), wall_min=(time.time() - T0) / 60,
                   snapshots=[dict(step=x["step"], sel=x["sel"]) for x in snaps], oom_steps_skipped=ooms,
                   max_memory_gib=torch.cuda.max_memory_allocated() / 2**30 if DEV == "cuda" else None)
    json.dump(dict(summary=summary, log=log), open(os.path.join(args.out, "train_log.json"), "w"), indent=1)
    print(json.dumps(summary, indent=1), flush=True)


if __name__ == "__main__":
    main()
