"""Train the compressive memory to recall (issue 24): the shipped encoder with the memory's own q/k/v projections
(`mem_proj`, no RoPE, no weight decay) grafted into every layer, trained on masked-token batches with recall tasks
laid over them (below: passkeys and code definitions asked for segments later), under a curriculum over
the number of segments per sequence (the tokens per step fixed).

cd kernels/train && python3 -m lens_train.memory_recall --recipe CONFIG.json --variant a --model-dir ../model \
    --prep-dir P --out DIR [--minutes M]      (CONFIG: a recipe's memory stage, recipes/mem24.json)
A variant sets: rule (linear | delta), train ("full": every weight, the base at its own lr; "memory": only the
memory projections and the gates), the gate logit to start from (beta0) and the learning rates. The gates get their
own lr and no decay. Writes DIR/ckpt.pt (packed int8, quant8.pack), DIR/train_log.json.
`--prep --data SHARD --out P` tokenizes the shard once into P/stream.npy, P/val_stream.npy, P/banks.json (shared by
the variants). The recipe runner's `memory` stage (stage_memory.py) runs all of it.

The recall tasks:
Synthetic recall tasks for the compressive memory (issue 24), laid over masked-token batches.

Two tasks, each written in one segment and asked for in a later one, the answer masked where it is asked:
  passkey  a 5-digit key ('passkey = 40617' or 'The pass key is 40617.') written at a random depth, asked in the
           last segment ('passkey = ' then the digits masked);
  code     an identifier taken from real code, defined with a random value (digits, hex or a quoted word) in
           one segment ('\\nNAME = 0x3f2a' / 'const NAME = ...' / '#define NAME ...'), and used later with the value
           masked ('\\nassert NAME == ' / 'expect(NAME).toBe(' / '_Static_assert(NAME == ').
Values are drawn apart from names, so no weight can know them: only the memory can answer. A prefix and its value
are tokenized apart (as evaluate.passkey does), so the value's tokens are the same where written and where asked.
"""
import argparse
import dataclasses
import json
import math
import os
import re
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import model as model_mod
from .data import MASK, MLMBatches, read_jsonl_xz, tokenize_files
from .model import Encoder
from .quant8 import pack
from .tok import Tokenizer
from .train import DEV, amp, fresh_rand, seed_all, t


# ---------------------------------------------------------------- recall tasks

DEF_RE = {
    "python": re.compile(r"^([A-Za-z_][A-Za-z0-9_]{3,39})\s*=\s*[^=\s]", re.M),
    "javascript": re.compile(r"\b(?:const|let|var)\s+([A-Za-z_$][\w$]{3,39})\s*=\s*[^=\s]"),
    "typescript": re.compile(r"\b(?:const|let|var)\s+([A-Za-z_$][\w$]{3,39})\s*[:=]"),
    "c": re.compile(r"#\s*define\s+([A-Za-z_]\w{3,39})\s+\S"),
}
# (definition prefix, use prefix) per language family; the value follows each prefix
FORMS = {
    "python": ("\n{n} = ", "\nassert {n} == "),
    "javascript": ("\nconst {n} = ", "\nexpect({n}).toBe("),
    "c": ("\n#define {n} ", "\n_Static_assert({n} == "),
}
PASSKEY_FORMS = (("\npasskey = ", "\npasskey = "),
                 ("\nThe pass key is ", "\nThe pass key is "))


def name_bank(files, per_lang=4000, seed=0):
    """[(lang family, name)]: identifiers defined in the files (distinct names, at most per_lang a family)."""
    rng = np.random.default_rng(seed)
    seen, out = set(), {"python": [], "javascript": [], "c": []}
    for f in files:
        fam = "javascript" if f["lang"] == "typescript" else f["lang"]
        for m in DEF_RE[f["lang"]].finditer(f["text"]):
            n = m.group(1)
            if n not in seen:
                seen.add(n)
                out[fam].append(n)
    bank = []
    for fam, names in out.items():
        names = sorted(names)
        pick = rng.permutation(len(names))[:per_lang]
        bank += [(fam, names[i]) for i in sorted(pick)]
    return bank


def random_value(rng):
    """A value no weight can know: 3-8 digits, 0x + 4-8 hex digits, or a quoted random lowercase word."""
    k = rng.random()
    if k < 0.45:
        return "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(3, 9))))
    if k < 0.75:
        return "0x" + "".join(rng.choice(list("0123456789abcdef"), int(rng.integers(4, 9))))
    return "'" + "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), int(rng.integers(4, 9)))) + "'"


class Encode:
    """Token ids of short strings, cached (the same prefixes recur)."""

    def __init__(self, tok):
        self.tok, self.cache = tok, {}

    def __call__(self, s):
        if s not in self.cache:
            self.cache[s] = np.array(self.tok.encode(s, add_special_tokens=False).ids, dtype=np.int64)
        return self.cache[s]


def code_item(enc, bank, rng):
    fam, n = bank[int(rng.integers(len(bank)))]
    d, u = FORMS[fam]
    return enc(d.format(n=n)), enc(u.format(n=n)), enc(random_value(rng))


def passkey_item(enc, rng):
    d, u = PASSKEY_FORMS[int(rng.integers(len(PASSKEY_FORMS)))]
    key = "".join(str(x) for x in rng.integers(0, 10, 5))
    return enc(d), enc(u), enc(key)


def place(busy, s, n, rng, T, margin=0):
    """A free start for n tokens in segment s (None after 8 tries)."""
    for _ in range(8):
        p = int(rng.integers(margin, T - n - margin))
        if not busy[s, p:p + n].any():
            return p
    return None


def insert(inp, labels, busy, ask, kind, item, j, s, rng):
    """Write item (def prefix, use prefix, value) in segment j (visible, unlabelled) and ask for it in segment s
    (use prefix visible, the value masked and labelled). Rows are the segments of one sequence."""
    dpre, upre, val = item
    T = inp.shape[1]
    pw = place(busy, j, len(dpre) + len(val), rng, T)
    pq = place(busy, s, len(upre) + len(val), rng, T)
    if pw is None or pq is None:
        return False
    w = np.concatenate([dpre, val])
    inp[j, pw:pw + len(w)] = w
    labels[j, pw:pw + len(w)] = -100
    busy[j, pw:pw + len(w)] = True
    a = pq + len(upre)
    inp[s, pq:a] = upre
    labels[s, pq:a] = -100
    inp[s, a:a + len(val)] = MASK
    labels[s, a:a + len(val)] = val
    busy[s, pq:a + len(val)] = True
    ask[s, a:a + len(val)] = kind
    return True


def add_recall(inp, labels, nseg, enc, bank, rng, passkey_p=0.5, max_facts=16):
    """Lay recall tasks over a masked-token batch in place: per sequence a passkey (probability passkey_p; written
    at a random depth, asked in the last segment) and 1..min(max_facts, max(2, nseg)) code definitions, each asked
    for in a later segment. Returns ask [S, T] int8: 1 code value, 2 passkey digit, 0 elsewhere."""
    S, T = inp.shape
    ask = np.zeros((S, T), dtype=np.int8)
    if nseg < 2:
        return ask
    for b in range(S // nseg):
        r = slice(b * nseg, (b + 1) * nseg)
        seq_inp, seq_lab, seq_ask = inp[r], labels[r], ask[r]
        busy = np.zeros((nseg, T), dtype=bool)
        if rng.random() < passkey_p:
            insert(seq_inp, seq_lab, busy, seq_ask, 2, passkey_item(enc, rng), int(rng.integers(0, nseg - 1)),
                   nseg - 1, rng)
        for _ in range(int(rng.integers(1, min(max_facts, max(2, nseg)) + 1))):
            j = int(rng.integers(0, nseg - 1))
            insert(seq_inp, seq_lab, busy, seq_ask, 1, code_item(enc, bank, rng), j,
                   int(rng.integers(j + 1, nseg)), rng)
    return ask



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
    from .chunks import load_model_dir
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
