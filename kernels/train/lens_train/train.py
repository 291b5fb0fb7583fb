"""Train the encoder: tokenizer -> masked-token pretraining over 16-segment sequences -> contrastive
query<->code. One command: python3 -m lens_train.train --config CONFIG.json --out DIR
Stops each phase on a wall-clock budget and always writes DIR/ckpt.pt, DIR/tokenizer.json, DIR/train_log.json.
"""
import argparse
import contextlib
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

from .data import (MASK, PAD, QRY, MLMBatches, load_shard_or_synthetic, pack, tokenize_files,
                  train_tokenizer)
from .model import Config, Encoder, random_blocks

DEV = "cuda" if torch.cuda.is_available() else "cpu"


def amp():
    return torch.autocast("cuda", dtype=torch.bfloat16) if DEV == "cuda" else contextlib.nullcontext()


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def t(x, dtype=None):
    return torch.as_tensor(x, device=DEV, dtype=dtype)


def fresh_rand(cfg, rng):
    """Training draws a fresh layout seed each step (the pattern is an input, never hidden state)."""
    return random_blocks(int(rng.integers(0, 2**31)), cfg.n_layers, cfg.n_heads, cfg.nb, cfg.window,
                         cfg.n_global, cfg.n_random).to(DEV)


def fixed_rand(cfg):
    """The one fixed layout (seed 1234) the probes and evaluations use, so their numbers compare across runs."""
    return random_blocks(1234, cfg.n_layers, cfg.n_heads, cfg.nb, cfg.window, cfg.n_global, cfg.n_random).to(DEV)


def make_opt(model, tc):
    extra = dict(fused=True) if DEV == "cuda" else {}
    return torch.optim.AdamW(model.param_groups(tc["lr"], tc["beta_lr"], tc["wd"]), betas=(0.9, 0.95), **extra)


def set_lr(opt, tc, step, total):
    warm = tc["warmup"]
    f = step / warm if step < warm else 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))
    for g in opt.param_groups:
        g["lr"] = (tc["beta_lr"] if g.get("is_beta") else tc["lr"]) * max(f, 0.05)


_mark = {}


def adapt_steps(step, est, t_end):
    """Cosine schedule length from the measured step time (steps 10..40, after compilation)."""
    if step == 10:
        _mark["t"] = time.time()
    if step == 40:
        per = (time.time() - _mark["t"]) / 30
        return 40 + int((t_end - time.time()) / per)
    return est


def flops_per_token(cfg, n_params_body):
    """Training FLOPs per token: 6 x body params + tied output matmul + attention over the layout."""
    density = min(1.0, (cfg.k_slots * cfg.block) / cfg.seg_len)
    attn = cfg.n_layers * 4 * cfg.n_heads * cfg.d_head * cfg.seg_len * density
    return 6 * n_params_body + 6 * cfg.d_model * cfg.vocab + 3 * attn


# ---------------------------------------------------------------- phase 1: masked tokens
def mlm_loss(model, cfg, batch, rand, memory="parallel", attn=None, recall_w=0.0):
    """attn: the sparse attention path (default flex on the GPU, gather on the CPU; 'masked' is the same
    function through the fused dense kernel). recall_w: weight of the mean loss over the recall-fact values
    (batch[4], MLMBatches with facts), added to the mean over all labelled tokens."""
    inp, labels, seg_doc = batch[:3]
    ids = t(inp)
    with amp():
        out = model(ids, t(np.ones(inp.shape, dtype=np.float32)), t(seg_doc), rand,
                    attn=attn or ("flex" if DEV == "cuda" else "gather"), memory=memory)
        lab = t(labels).reshape(-1)
        sel = lab >= 0
        h = out["h"].reshape(-1, cfg.d_model)[sel]
        logits = model.mlm_logits(h).float()
    ce = F.cross_entropy(logits, lab[sel], reduction="none")
    loss = ce.mean()
    if len(batch) > 4 and recall_w and batch[4].any():     # recall facts (MLMBatches facts=): their own mean
        ask = t(batch[4]).reshape(-1)[sel]
        loss = loss + recall_w * ce[ask].mean()
    return loss, logits.argmax(-1) == lab[sel]


def sync():
    if DEV == "cuda":
        torch.cuda.synchronize()


def world():
    """(rank, world size): one process per GPU under torchrun (torch.distributed initialised), else (0, 1)."""
    import torch.distributed as dist
    return (dist.get_rank(), dist.get_world_size()) if dist.is_available() and dist.is_initialized() else (0, 1)


def average_grads(params, ws):
    """Data parallelism by hand: one all-reduce of every gradient, flattened, then the mean (a missing
    gradient counts as zero, so every rank reduces the same buffer)."""
    import torch.distributed as dist
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= ws
    off = 0
    for p in params:
        n = p.grad.numel()
        p.grad.copy_(flat[off:off + n].view_as(p.grad))
        off += n


def pretrain(model, cfg, tc, stream, log, t_end):
    """Masked-token steps until t_end. With tc["attn_probe"] (a list of attention paths), each path is timed
    over 20 training steps (from step 10, after warm-up and compilation) and the fastest trains on;
    the step times and the choice go into the result. Under torchrun every rank draws its own batches and
    layouts, the gradients are averaged each step, and rank 0 decides for all: when to stop, the schedule
    length and the attention path (broadcast each step, so no rank runs a step the others skip)."""
    rank, ws = world()
    mb = MLMBatches(stream, cfg, tc["nseg"], tc["seqs"], tc["mask_p"], tc["splice_p"], tc["mem_from"],
                    seed=tc["seed"] + 7919 * rank, facts=tc.get("facts"), recall_p=tc.get("recall_p", 0.0),
                    gap=tc.get("recall_gap", 4), recall_n=tc.get("recall_n", 4),
                    shuffle_values=tc.get("recall_shuffle", False))
    rng = np.random.default_rng(tc["seed"] + 1 + 7919 * rank)
    opt = make_opt(model, tc)
    params = [p for p in model.parameters() if p.requires_grad]
    est_steps, step, t0, tokens = tc["est_steps"], 0, time.time(), 0
    rec_ok = rec_n = 0                                        # recall-fact values right since the last log line
    paths = list(tc.get("attn_probe") or [])
    attn, probe, t_mark = (paths[0] if paths else None), {}, 0.0
    while True:
        go = time.time() < t_end and step < tc.get("max_steps", 10**9)
        if paths and go:
            i, r = divmod(step - 10, 20)                          # path i timed over steps 10+20i .. 30+20i
            if step >= 10 and r == 0 and i <= len(paths):
                sync()
                if i > 0:
                    probe[f"{paths[i - 1]}_step_s"] = (time.time() - t_mark) / 20
                if i < len(paths):
                    attn = paths[i]
                else:
                    attn = min(paths, key=lambda a: probe[f"{a}_step_s"])
                    probe["chosen"] = attn
                    est_steps = step + int((t_end - time.time()) / probe[f"{attn}_step_s"])
                    if rank == 0:
                        print(f"attention probe {json.dumps(probe)}", flush=True)
                t_mark = time.time()
        elif go:
            est_steps = adapt_steps(step, est_steps, t_end)
        if ws > 1:
            import torch.distributed as dist
            ctl = t([int(go), est_steps, paths.index(attn) if attn in paths else -1], torch.int64)
            dist.broadcast(ctl, 0)
            go, est_steps, k = (int(v) for v in ctl.tolist())
            attn = paths[k] if k >= 0 else None
        if not go:
            break
        set_lr(opt, tc, step, est_steps)
        batch = mb()
        loss, ok = mlm_loss(model, cfg, batch, fresh_rand(cfg, rng), attn=attn, recall_w=tc.get("recall_w", 0.0))
        if len(batch) > 4:                                    # accuracy on the recall-fact values, logged
            ask = batch[4][batch[1] >= 0]
            rec_ok = rec_ok + ok[t(ask)].sum()                # stays on the device: read at the log line only
            rec_n += int(ask.sum())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if ws > 1:
            average_grads(params, ws)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        tokens += batch[0].size * ws
        if step % 50 == 0 and rank == 0:
            g = model.gates()
            log.append(dict(phase="mlm", step=step, loss=float(loss.detach()), sec=time.time() - t0,
                            gate_min=float(g.min()), gate_max=float(g.max()), recall_acc=float(rec_ok) / max(1, rec_n)))
            print(f"mlm step {step} loss {float(loss.detach()):.3f} gates {g.min():.2f}..{g.max():.2f} "
                  f"recall {float(rec_ok) / max(1, rec_n):.3f} ({rec_n}) {tokens / (time.time() - t0):.0f} tok/s", flush=True)
            rec_ok = rec_n = 0
        step += 1
    res = dict(steps=step, tokens=tokens, sec=time.time() - t0, world_size=ws)
    if probe:
        res["attn_probe"] = probe
    return res


# ---------------------------------------------------------------- phase 2: contrastive
def encode_queries(model, tok, queries, max_len=64):
    rows = [[QRY] + tok.encode(q, add_special_tokens=False).ids[:max_len - 1] for q in queries]
    n = max(len(r) for r in rows)
    ids = np.zeros((len(rows), n), dtype=np.int64)
    val = np.zeros((len(rows), n), dtype=np.float32)
    for i, r in enumerate(rows):
        ids[i, :len(r)], val[i, :len(r)] = r, 1
    with amp():
        out = model(t(ids), t(val), attn="dense", memory="query")           # zero memory: as query.onnx with zeros
    e = (out["emb"].float() * t(val)[..., None]).sum(1) / t(val).sum(1, keepdim=True)
    return F.normalize(e, dim=-1)                                            # [Bq, E]


def span_positions(lines, start, end, T, seg0, S_row):
    """Flat batch positions of the tokens of lines [start, end] of a file laid out from segment seg0."""
    toks = np.flatnonzero((lines >= start) & (lines <= end))
    toks = toks[(toks >= seg0 * T)]
    return (S_row * T + toks - seg0 * T) if len(toks) else None


def contrastive_batch(files_by_pkg, toks, cfg, cc, rng):
    """Pairs from cc['pkgs'] packages (so in-batch negatives include same-package hard negatives). Each
    chosen file is laid out once, up to its last chosen function (at most cc['max_file_seg'] segments,
    memory across them), and all its chosen functions are pooled from that one encoding; S fixed."""
    T, S_fix = cfg.seg_len, cc["segs"]
    pkgs = rng.choice(len(files_by_pkg), size=cc["pkgs"], replace=False, p=cc["pkg_p"])
    ids = np.zeros((S_fix, T), dtype=np.int64)
    val = np.zeros((S_fix, T), dtype=np.float32)
    seg_doc = np.zeros(S_fix, dtype=np.int64)
    row, doc, queries, spans = 0, 0, [], []
    for pk in pkgs:
        flist, n_pk = files_by_pkg[pk], 0
        for j in rng.permutation(len(flist)):
            fid, fpairs = flist[j]
            f_ids, lines = toks[fid]
            sel = [fpairs[i] for i in rng.permutation(len(fpairs))[:cc["pairs_per_file"]]]
            ends = [np.flatnonzero(lines <= p["end_line"]) for p in sel]
            sel = [p for p, e in zip(sel, ends) if len(e)]
            if not sel:
                continue
            last_seg = max(int(np.flatnonzero(lines <= p["end_line"])[-1]) // T for p in sel)
            seg0 = max(0, last_seg - cc["max_file_seg"] + 1)
            n = last_seg - seg0 + 1
            if row + n > S_fix:
                continue
            got = [(p, span_positions(lines, p["start_line"], p["end_line"], T, seg0, row)) for p in sel]
            got = [(p, pos) for p, pos in got if pos is not None]
            if not got:
                continue
            chunk = f_ids[seg0 * T:(last_seg + 1) * T]
            ids.reshape(-1)[row * T:row * T + len(chunk)] = chunk
            val.reshape(-1)[row * T:row * T + len(chunk)] = 1
            seg_doc[row:row + n] = doc
            row, doc = row + n, doc + 1
            queries += [p["query"] for p, _ in got]
            spans += [pos for _, pos in got]
            n_pk += len(got)
            if n_pk >= cc["pairs_per_pkg"]:
                break
    for r in range(row, S_fix):                                              # one-token dummy docs
        val[r, 0], seg_doc[r], doc = 1, doc, doc + 1
    return ids, val, seg_doc, queries, spans


def pool_spans(emb_flat, spans):
    idx = torch.cat([t(s) for s in spans])
    owner = torch.cat([torch.full((len(s),), i, device=DEV) for i, s in enumerate(spans)])
    e = torch.zeros(len(spans), emb_flat.shape[-1], device=DEV).index_add_(0, owner, emb_flat[idx].float())
    return F.normalize(e, dim=-1)


def contrastive(model, tok, cfg, cc, pairs, toks, log, t_end, val_fn, mlm_batches=None):
    by_pkg = {}
    for p in pairs:
        by_pkg.setdefault(p["pkg"], {}).setdefault(p["file_id"], []).append(p)
    plist = [sorted(v.items()) for v in by_pkg.values() if sum(map(len, v.values())) >= 4]
    w = np.array([sum(len(x) for _, x in v) for v in plist], dtype=np.float64) ** 0.5
    cc = dict(cc, pkg_p=w / w.sum(), pkgs=min(cc["pkgs"], len(plist)))
    rng = np.random.default_rng(cc["seed"])
    opt = make_opt(model, cc)
    best, best_state, step, t0 = -1.0, None, 0, time.time()
    next_eval, est_steps = t0 + cc["eval_every_s"], cc["est_steps"]
    while time.time() < t_end and step < cc.get("max_steps", 10**9):
        est_steps = adapt_steps(step, est_steps, t_end)
        set_lr(opt, cc, step, est_steps)
        ids, val, seg_doc, queries, spans = contrastive_batch(plist, toks, cfg, cc, rng)
        with amp():
            out = model(t(ids), t(val), t(seg_doc), fresh_rand(cfg, rng),
                        attn="flex" if DEV == "cuda" else "gather")
        c = pool_spans(out["emb"].reshape(-1, cfg.emb_dim), spans)
        q = encode_queries(model, tok, queries)
        logits = q @ c.t() / cc["tau"]
        lab = torch.arange(len(queries), device=DEV)
        loss = 0.5 * (F.cross_entropy(logits, lab) + F.cross_entropy(logits.t(), lab))
        if mlm_batches is not None and step % cc["mlm_every"] == 0:        # keep memory + MLM head alive
            loss = loss + cc["mlm_weight"] * mlm_loss(model, cfg, mlm_batches(), fresh_rand(cfg, rng))[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 25 == 0:
            print(f"ctr step {step} loss {float(loss):.3f} batch {len(queries)}", flush=True)
            log.append(dict(phase="contrastive", step=step, loss=float(loss), sec=time.time() - t0))
        step += 1
        done = time.time() >= t_end or step >= cc.get("max_steps", 10**9)
        if time.time() > next_eval or done:
            mrr = val_fn(model)
            log.append(dict(phase="val", step=step, val_mrr10=mrr))
            print(f"val MRR@10 {mrr:.4f} at step {step}", flush=True)
            if mrr > best:
                best, best_state = mrr, {k: v.detach().clone() for k, v in model.state_dict().items()}
            next_eval = time.time() + cc["eval_every_s"]
    if best_state is not None:
        model.load_state_dict(best_state)
    return dict(steps=step, sec=time.time() - t0, best_val_mrr10=best)


@torch.no_grad()
def embed_docs(model, cfg, docs, S_fix=64, rand=None):
    """Token embeddings of whole docs (memory carried across batches): list of [n_tokens, E] float16."""
    model.eval()
    L, G, D = cfg.n_layers, cfg.n_kv_heads, cfg.d_head
    mem = (torch.zeros(L, G, D, D, device=DEV), torch.zeros(L, G, D, device=DEV))
    parts = [[] for _ in docs]
    for ids, val, seg_doc, carry, where in pack(docs, cfg.seg_len, S_fix):
        m_in = mem if carry else (torch.zeros_like(mem[0]), torch.zeros_like(mem[1]))
        with amp():
            out = model(t(ids), t(val), t(seg_doc), rand, m_in[0], m_in[1], attn="gather")
        mem = (out["mem_out"], out["z_out"])
        emb = out["emb"].half()
        for d, k, r in where:
            parts[d].append(emb[r])
    model.train()
    return [torch.cat(p)[:len(docs[i])] for i, p in enumerate(parts)]


def val_mrr(model, tok, cfg, pairs_val, toks, limit=600):
    """MRR@10 over held-out val pairs: each query ranks every val function (pooled over its span)."""
    pv = pairs_val[:limit]
    fids = sorted({p["file_id"] for p in pv})
    rand = fixed_rand(cfg)
    embs = dict(zip(fids, embed_docs(model, cfg, [toks[f][0] for f in fids], rand=rand)))
    vecs = []
    for p in pv:
        lines = toks[p["file_id"]][1]
        sel = t(np.flatnonzero((lines >= p["start_line"]) & (lines <= p["end_line"])))
        e = embs[p["file_id"]][sel].float().mean(0) if len(sel) else torch.zeros(cfg.emb_dim, device=DEV)
        vecs.append(F.normalize(e, dim=-1))
    c = torch.stack(vecs)
    with torch.no_grad():
        q = torch.cat([encode_queries(model, tok, [p["query"] for p in pv[i:i + 256]])
                       for i in range(0, len(pv), 256)])
    scores = q @ c.t()
    rank = (scores > scores.diag()[:, None]).sum(1)                           # 0 = first
    return float(torch.where(rank < 10, 1.0 / (rank + 1).float(), torch.zeros_like(scores.diag())).mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=".data")
    ap.add_argument("--tokenizer", default="", help="reuse this tokenizer.json")
    ap.add_argument("--smoke", action="store_true", help="tiny slice, a few steps of each phase")
    ap.add_argument("--deadline", type=float, default=0, help="epoch seconds by which ckpt.pt must be written")
    args = ap.parse_args()
    conf = json.load(open(args.config))
    cfg, tc = Config(**conf["model"]), conf["train"]
    seed_all(tc["seed"])
    os.makedirs(args.out, exist_ok=True)
    T0 = time.time()
    files, pairs, pairs_val = load_shard_or_synthetic(args.data)
    if args.smoke:
        files = files[::max(1, len(files) // 1500)]
    keep = {f["id"] for f in files}
    pairs = [p for p in pairs if p["file_id"] in keep]
    pairs_val = [p for p in pairs_val if p["file_id"] in keep]
    print(f"files {len(files)} pairs {len(pairs)} val pairs {len(pairs_val)} ({time.time() - T0:.0f}s)", flush=True)
    tok_path = os.path.join(args.out, "tokenizer.json")
    if args.tokenizer:
        from .tok import Tokenizer
        tok = Tokenizer.from_file(args.tokenizer)
        tok.save(tok_path)
    else:
        rng = random.Random(tc["seed"])
        sample, size = [], 0
        for f in rng.sample(files, len(files)):
            if size > tc["tokenizer_mb"] * 2**20:
                break
            sample.append(f["text"])
            size += len(f["text"])
        tok = train_tokenizer(sample, cfg.vocab, tok_path)
    print(f"tokenizer ready ({time.time() - T0:.0f}s)", flush=True)
    pair_files = {p["file_id"] for p in pairs} | {p["file_id"] for p in pairs_val}
    fmap = {f["id"]: f for f in files}
    for p in pairs + pairs_val:
        p["pkg"] = fmap[p["file_id"]]["pkg"]
    train_files = [f for f in files if f["split"] == "train"]
    if tc.get("max_train_mb"):                         # a fixed, seeded subset bounds tokenization time
        random.Random(tc["seed"]).shuffle(train_files)
        keep_n, size = 0, 0
        while keep_n < len(train_files) and size < tc["max_train_mb"] * 2**20:
            size += len(train_files[keep_n]["text"])
            keep_n += 1
        train_files = sorted(train_files[:keep_n], key=lambda f: (f["pkg"], f["path"]))
    toks_all = tokenize_files(tok, [f["text"] for f in train_files])
    stream = np.concatenate([ids for ids, _ in toks_all])
    pf = sorted(pair_files)
    toks = dict(zip(pf, tokenize_files(tok, [fmap[i]["text"] for i in pf], with_lines=True)))
    val_files = [f for f in files if f["split"] == "val"]
    val_stream = np.concatenate([ids for ids, _ in tokenize_files(tok, [f["text"] for f in val_files])]) \
        if val_files else stream[-2_000_000:]
    np.save(os.path.join(args.out, "val_stream.npy"), val_stream[:4_000_000])
    print(f"tokenized: train stream {len(stream)} tokens ({time.time() - T0:.0f}s)", flush=True)

    model = Encoder(cfg).to(DEV)
    n_params = sum(p.numel() for p in model.parameters())
    n_body = n_params - model.tok.weight.numel()
    log, summary = [], dict(config=cfg.to_dict(), params=n_params, device=torch.cuda.get_device_name() if DEV == "cuda" else "cpu")
    mlm_s, ctr_s = 60 * tc["mlm"]["minutes"], 60 * tc["contrastive"]["minutes"]
    if args.deadline:                                  # fit both phases before the caller's deadline
        avail = args.deadline - time.time() - 20
        scale = min(1.0, avail / (mlm_s + ctr_s))
        mlm_s, ctr_s = mlm_s * scale, ctr_s * scale
        print(f"phase budgets: mlm {mlm_s:.0f}s contrastive {ctr_s:.0f}s", flush=True)
    t_mlm_end = time.time() + mlm_s if not args.smoke else time.time() + 20
    mc = dict(tc["mlm"], seed=tc["seed"])
    if args.smoke:
        mc["max_steps"] = 6
    summary["mlm"] = pretrain(model, cfg, mc, stream, log, t_mlm_end)
    summary["mlm"]["card"] = summary["device"]
    summary["mlm"]["tokens_per_s"] = summary["mlm"]["tokens"] / summary["mlm"]["sec"]
    fpt = flops_per_token(cfg, n_body)
    summary["mlm"]["mfu_vs_989tflops"] = summary["mlm"]["tokens_per_s"] * fpt / 989e12
    torch.save(dict(model=model.state_dict(), config=cfg.to_dict()), os.path.join(args.out, "ckpt_mlm.pt"))
    cc = dict(tc["contrastive"], seed=tc["seed"] + 7)
    if args.smoke:
        cc.update(max_steps=4, eval_every_s=5)
    t_end = time.time() + ctr_s if not args.smoke else time.time() + 30
    try:
        aux = MLMBatches(stream, cfg, mc["nseg"], mc["seqs"], mc["mask_p"], mc["splice_p"], mc["mem_from"],
                         seed=tc["seed"] + 3)
        summary["contrastive"] = contrastive(model, tok, cfg, cc, pairs, toks, log, t_end,
                                             lambda m: val_mrr(m, tok, cfg, pairs_val, toks), aux)
    except Exception as ex:                            # keep the pretrained model: export still has work
        import traceback
        traceback.print_exc()
        summary["contrastive"] = dict(error=repr(ex))
    summary["gates"] = model.gates().tolist()
    summary["wall_min"] = (time.time() - T0) / 60
    torch.save(dict(model=model.state_dict(), config=cfg.to_dict()), os.path.join(args.out, "ckpt.pt"))
    json.dump(dict(summary=summary, log=log), open(os.path.join(args.out, "train_log.json"), "w"), indent=1)
    print(json.dumps(summary, indent=1), flush=True)


if __name__ == "__main__":
    main()
