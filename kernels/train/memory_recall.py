"""Train the compressive memory to recall (issue 24): the shipped encoder with the memory's own q/k/v projections
(`mem_proj`, no RoPE, no weight decay) grafted into every layer, trained on masked-token batches with recall tasks
laid over them (recall_tasks.py: passkeys and code definitions asked for segments later), under a curriculum over
the number of segments per sequence (the tokens per step fixed).

python3 kernels/train/memory_recall.py --recipe kernels/train/recipes/mem.json --variant a --data .memdata \
    --model-dir kernels/model --out DIR [--minutes M] [--stream DIR/stream.npy]
A variant sets: rule (linear | delta), train ("full": every weight, the base at its own lr; "memory": only the
memory projections and the gates), the gate logit to start from (beta0) and the learning rates. The gates get their
own lr and no decay. Writes DIR/ckpt.pt (packed int8, quant8.pack), DIR/train_log.json.
`--prep` tokenizes the shard once into DIR/stream.npy + DIR/val_stream.npy + DIR/banks.json (shared by variants).
"""
import argparse
import dataclasses
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import model as model_mod
from data import MLMBatches, read_jsonl_xz, tokenize_files
from model import Encoder
from quant8 import pack
from recall_tasks import Encode, add_recall, name_bank
from train import DEV, amp, fresh_rand, seed_all, t


# ---------------------------------------------------------------- the delta rule, batched over sequences
def mem_delta_docs(sq, sk, v, valid, seg_doc, mem_in, z_in, rule, eps=1e-6):
    """mem_sequential's result for training batches (B docs of n segments each, in order, zero memory in): the
    segment loop runs n times over all docs at once instead of B*n times. Anything else goes to mem_sequential."""
    S = sq.shape[0]
    nd = int(seg_doc[-1]) + 1
    if rule != "delta" or S % nd or bool((mem_in != 0).any()) or \
            not torch.equal(seg_doc, torch.arange(nd, device=seg_doc.device).repeat_interleave(S // nd)):
        return _mem_sequential(sq, sk, v, valid, seg_doc, mem_in, z_in, rule, eps)
    n = S // nd
    H, T, D = sq.shape[1:]
    G = sk.shape[1]
    sq5, sk5 = sq.reshape(nd, n, H, T, D), sk.reshape(nd, n, G, T, D)
    v5, va = v.reshape(nd, n, G, T, D), valid.reshape(nd, n, T)
    M = torch.zeros(nd, G, D, D, dtype=sq.dtype, device=sq.device)
    z = torch.zeros(nd, G, D, dtype=sq.dtype, device=sq.device)
    reads = []
    for s in range(n):
        reads.append(model_mod.mem_read(sq5[:, s], M, z, eps))                 # [nd, H, T, D]
        km = sk5[:, s] * va[:, s][:, None, :, None]                           # [nd, G, T, D]
        retrieved = (km @ M) / (km @ z.unsqueeze(-1) + eps)
        M = M + km.transpose(-1, -2) @ (v5[:, s] - retrieved)
        z = z + km.sum(2)
    C = sk * valid[:, None, :, None]
    return (torch.stack(reads, 1).reshape(S, H, T, D), M[-1], z[-1], (C.transpose(-1, -2) @ v).sum(0), C.sum((0, 2)))


_mem_sequential = model_mod.mem_sequential


def use_batched_delta():
    """Training only: the model's delta path (mem_sequential) goes through mem_delta_docs, equal by test."""
    model_mod.mem_sequential = mem_delta_docs


# ---------------------------------------------------------------- model
def grafted(model_dir, rule, mem_init, beta0, seed):
    """The shipped encoder with fresh memory projections normal(0, mem_init) in every layer and the gate logits
    set to beta0 (None keeps the shipped gates)."""
    from chunks import load_model_dir
    base = load_model_dir(model_dir)
    cfg = dataclasses.replace(base.cfg, mem_proj=True, memory_rule=rule)
    m = Encoder(cfg)
    missing, unexpected = m.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and all(".attn.wqkv_m." in k for k in missing), (missing, unexpected)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for b in m.blocks:
            b.attn.wqkv_m.weight.copy_(torch.randn(b.attn.wqkv_m.weight.shape, generator=g) * mem_init)
            if beta0 is not None:
                b.attn.beta.fill_(beta0)
    return m


def param_groups(m, var):
    """base matrices (decay), base vectors, memory projections (own lr, no decay), gates (own lr, no decay)."""
    groups = {"base": [], "base_nd": [], "mem": [], "beta": []}
    for n, p in m.named_parameters():
        key = "beta" if n.endswith(".attn.beta") else "mem" if ".attn.wqkv_m." in n else \
            "base" if p.dim() >= 2 else "base_nd"
        if var["train"] == "memory" and key.startswith("base"):
            p.requires_grad_(False)
            continue
        groups[key].append(p)
    lr = dict(base=var["lr"], base_nd=var["lr"], mem=var["mem_lr"], beta=var["beta_lr"])
    wd = dict(base=var["wd"], base_nd=0.0, mem=0.0, beta=0.0)
    return [dict(params=ps, lr=lr[k], weight_decay=wd[k], name=k, base_lr=lr[k]) for k, ps in groups.items() if ps]


# ---------------------------------------------------------------- data
def prep(data_dir, tokenizer, out):
    """Tokenize the shard once: stream.npy (train, package order), val_stream.npy (held-out packages), and the
    identifier banks of both splits (banks.json)."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(tokenizer)
    train = read_jsonl_xz(os.path.join(data_dir, "files.jsonl.xz"))
    val = read_jsonl_xz(os.path.join(data_dir, "val.jsonl.xz"))
    os.makedirs(out, exist_ok=True)
    for name, files in (("stream", train), ("val_stream", val)):
        ids = np.concatenate([i for i, _ in tokenize_files(tok, [f["text"] for f in files])]).astype(np.int16)
        np.save(os.path.join(out, f"{name}.npy"), ids)
        print(f"{name}: {len(ids):,} tokens from {len(files):,} files", flush=True)
    json.dump(dict(train=name_bank(train), val=name_bank(val, seed=1)), open(os.path.join(out, "banks.json"), "w"))


def curriculum(stages, frac):
    """The stage (nseg) in force at this fraction of the run's time: stages = [[nseg, share], ...]."""
    acc = 0.0
    for nseg, share in stages:
        acc += share
        if frac < acc:
            return nseg
    return stages[-1][0]


def loss_fn(m, cfg, inp, labels, seg_doc, ask, rand, recall_w, attn):
    with amp():
        out = m(t(inp), t(np.ones(inp.shape, np.float32)), t(seg_doc), rand, attn=attn)
        lab = t(labels).reshape(-1)
        sel = lab >= 0
        logits = m.mlm_logits(out["h"].reshape(-1, cfg.d_model)[sel]).float()
    ce = F.cross_entropy(logits, lab[sel], reduction="none")
    a = t(ask).reshape(-1)[sel]
    loss = ce.mean() + (recall_w * ce[a > 0].mean() if bool((a > 0).any()) else 0.0)
    ok = logits.argmax(-1) == lab[sel]
    return loss, ok, a


def train(args, recipe, var):
    seed_all(var["seed"])
    stream = np.load(os.path.join(args.prep_dir, "stream.npy")).astype(np.int64)
    banks = json.load(open(os.path.join(args.prep_dir, "banks.json")))
    from tokenizers import Tokenizer
    enc = Encode(Tokenizer.from_file(os.path.join(args.model_dir, "tokenizer.json")))
    m = grafted(args.model_dir, var["rule"], var["mem_init"], var.get("beta0"), var["seed"]).to(DEV)
    if var["rule"] == "delta":
        use_batched_delta()
    cfg = m.cfg
    opt = torch.optim.AdamW(param_groups(m, var), betas=(0.9, 0.95), **(dict(fused=True) if DEV == "cuda" else {}))
    rng = np.random.default_rng(var["seed"])
    per_step, stages = recipe["segments_per_step"], recipe["curriculum"]
    batches = {n: MLMBatches(stream, cfg, n, per_step // n, recipe["mask_p"], recipe["splice_p"], 8,
                             seed=var["seed"] + n) for n, _ in stages}
    attn = recipe.get("attn", "masked") if DEV == "cuda" else "gather"
    t0 = time.time()
    total = 60 * (args.minutes or var["minutes"])
    log, step, tokens, acc = [], 0, 0, dict(code=[0, 0], passkey=[0, 0])
    while True:
        frac = (time.time() - t0) / total
        if frac >= 1 or step >= args.max_steps:
            break
        nseg = curriculum(stages, frac)
        inp, labels, seg_doc, _ = batches[nseg]()
        ask = add_recall(inp, labels, nseg, enc, banks["train"], rng, recipe["passkey_p"], recipe["max_facts"])
        warm = min(1.0, (step + 1) / recipe["warmup"])
        for g in opt.param_groups:
            g["lr"] = g["base_lr"] * warm * max(0.05, 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))
        loss, ok, a = loss_fn(m, cfg, inp, labels, seg_doc, ask, fresh_rand(cfg, rng), var["recall_w"], attn)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in m.parameters() if p.requires_grad], 1.0)
        opt.step()
        tokens += inp.size
        for kind, code in (("code", 1), ("passkey", 2)):
            acc[kind][0] += ok[a == code].sum()                               # on the device until logged
            acc[kind][1] += int((ask == code).sum())
        if step % 50 == 0:
            g = m.gates()
            row = dict(step=step, sec=round(time.time() - t0, 1), nseg=nseg, loss=round(float(loss), 4),
                       code_acc=round(float(acc["code"][0]) / max(1, acc["code"][1]), 4),
                       passkey_acc=round(float(acc["passkey"][0]) / max(1, acc["passkey"][1]), 4),
                       gate_min=round(float(g.min()), 4), gate_max=round(float(g.max()), 4),
                       tok_s=round(tokens / (time.time() - t0)))
            log.append(row)
            print(json.dumps(row), flush=True)
            acc = dict(code=[0, 0], passkey=[0, 0])
        step += 1
    res = dict(steps=step, tokens=tokens, sec=round(time.time() - t0, 1), variant=var,
               card=torch.cuda.get_device_name() if DEV == "cuda" else "cpu", gates=m.gates().tolist())
    state = {k: v.detach().float().cpu() for k, v in m.state_dict().items()}
    ck = dict(model=state, config=cfg.to_dict(), call=0)
    torch.save(pack(ck), os.path.join(args.out, "ckpt.pt"))
    json.dump(dict(summary=res, log=log), open(os.path.join(args.out, "train_log.json"), "w"), indent=1)
    print(json.dumps({k: v for k, v in res.items() if k != "gates"}), flush=True)
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipe", default="")
    ap.add_argument("--variant", default="a")
    ap.add_argument("--data", default=".memdata")
    ap.add_argument("--model-dir", default="kernels/model")
    ap.add_argument("--prep-dir", default="", help="stream.npy, val_stream.npy, banks.json (default: --out)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=0)
    ap.add_argument("--max-steps", type=int, default=10**9)
    ap.add_argument("--prep", action="store_true", help="tokenize the shard into --out and stop")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.prep:
        prep(args.data, os.path.join(args.model_dir, "tokenizer.json"), args.out)
        return
    args.prep_dir = args.prep_dir or args.out
    recipe = json.load(open(args.recipe))
    train(args, recipe, dict(recipe["defaults"], **recipe["variants"][args.variant]))


if __name__ == "__main__":
    main()
