"""CPU experiment (session 14 had no GPU): can the trained encoder's compressive memory learn *keyed* recall once it
reads and writes through its own q/k/v (Config.mem_proj), everything else frozen? Only the LAST layer's memory is
trained (its q/k/v projections and its gates), over cached states of the frozen layers below and only at the asked
fact tokens, so a step costs a fraction of a second on a CPU.

  cache  Sequences of --nseg segments of --seg-len tokens cut from the masked-token shard (.mlmdata), 15 % of
         tokens masked as in training, with 1..8 recall facts a sequence (data.fact_bank: 'name = value', the value
         drawn apart from its name, so no weight can know it; asked for with the value masked >= --gap segments
         later). Runs the frozen encoder (the shipped weights) up to the last block and keeps what that block
         needs: its LayerNorm'd input at every token (the memory's write side) and, at the asked tokens, the
         residual, the local attention output, the label and the shipped model's own prediction.
  train  AdamW on W_qkv_m (normal(0, --mem-init), no decay) and the last layer's gate logits β; cross-entropy at
         the asked tokens. Every --eval-every steps: accuracy on the held-out cache (other packages, other names,
         facts asked >= 8 segments later): memory on, memory off (a_mem = 0, same gates), the shipped model; and
         by the number of facts F in the sequence, against 1/F (a guess among the earlier values: the shortcut
         that a memory keyed on the token class, not on the name, would give; see NOTES, run 26).

python3 -m lens_train.mem_adapter cache --part 0/2 --out /tmp/ma/train
python3 -m lens_train.mem_adapter cache --held-out --gap 8 --out /tmp/ma/test
python3 -m lens_train.mem_adapter cache --passkey 64 --filler repeat \
    --batches 24 --out /tmp/ma/pk64rep
python3 -m lens_train.mem_adapter train --train /tmp/ma/train --test /tmp/ma/test,/tmp/ma/pk64rep --out /tmp/ma/run.json
python3 -m lens_train.mem_adapter bootstrap --init /tmp/ma/run.pt --test /tmp/ma/test --out /tmp/ma/boot.json
"""
import argparse
import glob
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from .chunks import load_model_dir
from .data import MASK, MLMBatches, fact_bank, load_shard, tokenize_files
from .model import attn_dense, mem_contrib, mem_parallel, mem_read, rope, sigma

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MODEL_DIR = os.path.join(ROOT, "kernels", "model")


def load_model(seg_len):
    """The shipped weights (int8 matrices dequantised) in float32, with segments of seg_len tokens."""
    model = load_model_dir(MODEL_DIR, seg_len=seg_len).eval()  # the weights do not depend on the segment length
    cfg = model.cfg
    for p in model.parameters():
        p.requires_grad_(False)
    return model, cfg


def held_out(pkg):
    """Every 8th package (by a stable hash of its name) is held out: test sequences come from other code."""
    return sum(pkg.encode()) % 8 == 0


def build_stream(tok, held, max_mb):
    files = [f for f in load_shard(os.path.join(ROOT, ".mlmdata"))[0] if f["split"] == "train"]
    files = sorted((f for f in files if held_out(f["pkg"]) == held), key=lambda f: (f["pkg"], f["path"]))
    rng = np.random.default_rng(7)
    keep, size = [], 0
    for i in rng.permutation(len(files)):                    # a seeded subset, then back in package order
        if size > max_mb * 2**20:
            break
        keep.append(files[i])
        size += len(files[i]["text"])
    keep.sort(key=lambda f: (f["pkg"], f["path"]))
    return np.concatenate([ids for ids, _ in tokenize_files(tok, [f["text"] for f in keep], batch=256)])


def draw_with_layout(mb):
    """One MLMBatches batch, plus for every asked token the accuracy of a guess among the values the memory holds
    (the shortcut of a memory keyed on the token class rather than on the name): the share of the facts written
    in a segment before its own whose value has the same token at the same place (itself included); and the
    number of facts of its sequence. The draws are MLMBatches' own: _place is only watched (a fact is placed when
    both of its two calls find room)."""
    calls, place = [], mb._place

    def watched(busy, b, s, n):
        p = place(busy, b, s, n)
        calls.append((b, s, p, n))
        return p
    mb._place = watched
    try:
        inp, labels, seg_doc, mem_mask, ask = mb()
    finally:
        mb._place = place
    n = mb.nseg
    facts = []                                             # (sequence, write segment, ask row, value start, value)
    for w, q in zip(calls[0::2], calls[1::2]):
        if w[2] is None or q[2] is None:
            continue
        row, pq, m = q[0] * n + q[1], q[2], q[3]
        off = int(np.argmax(ask[row, pq:pq + m]))
        facts.append((w[0], w[1], row, pq + off, labels[row, pq + off:pq + m].copy()))
    share, count = np.zeros(ask.shape), np.zeros(ask.shape, dtype=np.int64)
    for b, _, row, start, val in facts:
        held = [v for b2, j2, _, _, v in facts if b2 == b and j2 < row % n]
        for p, tokv in enumerate(val):
            share[row, start + p] = np.mean([len(v) > p and v[p] == tokv for v in held])
        count[row, start:start + len(val)] = sum(1 for f in facts if f[0] == b)
    return (inp, labels, seg_doc, mem_mask, ask), count[ask], share[ask]


def fact_batches(args, cfg, tok, stream):
    """The fact batches of a cache part: its seed, and the name bank of the train or the held-out side."""
    part = int(args.part.split("/")[0])
    bank_seed = 1001 if args.held_out else 1000               # held-out sequences ask about other names
    return MLMBatches(stream, cfg, args.nseg, args.seqs, splice_p=0.0, seed=args.seed * 100 + part + 17 * args.held_out,
                      facts=fact_bank(tok, seed=bank_seed), recall_p=1.0, gap=args.gap, recall_n=args.recall_n,
                      shuffle_values=True)


@torch.no_grad()
def cache(args):
    from .tok import Tokenizer
    torch.set_num_threads(1)
    model, cfg = load_model(args.seg_len)
    tok = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
    part = int(args.part.split("/")[0])
    stream = build_stream(tok, args.held_out, args.max_mb)
    mb = fact_batches(args, cfg, tok, stream)
    os.makedirs(args.out, exist_ok=True)
    print(f"stream {len(stream)} tokens; {args.batches} batches of {args.seqs} x {args.nseg} x {cfg.seg_len}",
          flush=True)
    T0 = time.time()
    for i in range(args.batches):
        (inp, labels, seg_doc, _, ask), n_facts, guess = draw_with_layout(mb)
        store(model, cfg, inp, labels, seg_doc, ask, n_facts, guess, os.path.join(args.out, f"b{part:02d}_{i:04d}.pt"))
        print(f"batch {i + 1}/{args.batches}: {int(ask.sum())} asked tokens, {time.time() - T0:.0f}s", flush=True)


@torch.no_grad()
def cache_passkey(args):
    """evaluate.passkey's sequences ('passkey = 12345' in segment 0, asked with the digits masked in segment d,
    code or repeated filler between), stored like the fact batches: one file a trial, F = 1."""
    from .evaluate import FILLER
    from .tok import Tokenizer
    torch.set_num_threads(1)
    model, cfg = load_model(args.seg_len)
    tok = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
    T, d = cfg.seg_len, args.passkey
    if args.filler == "repeat":
        one = np.array(tok.encode(FILLER, add_special_tokens=False).ids, np.int64)
        stream = np.tile(one, (d + 2) * T // len(one) + 2)
    else:
        stream = build_stream(tok, True, args.max_mb)
    rng = np.random.default_rng(5)
    pre = tok.encode("\npasskey = ", add_special_tokens=False).ids
    os.makedirs(args.out, exist_ok=True)
    T0 = time.time()
    for i in range(args.batches):
        kid = tok.encode("".join(str(x) for x in rng.integers(0, 10, 5)), add_special_tokens=False).ids
        start = int(rng.integers(0, len(stream) - (d + 1) * T))
        ids = stream[start:start + (d + 1) * T].astype(np.int64).copy().reshape(d + 1, T)
        p0, p1 = int(rng.integers(16, T - 32)), int(rng.integers(16, T - 32))
        ids[0, p0:p0 + len(pre) + len(kid)] = pre + kid
        ids[d, p1:p1 + len(pre)] = pre
        labels = np.full_like(ids, -100)
        ask = np.zeros(ids.shape, bool)
        ask[d, p1 + len(pre):p1 + len(pre) + len(kid)] = True
        labels[d, p1 + len(pre):p1 + len(pre) + len(kid)] = kid
        ids[ask] = MASK
        one = np.ones(int(ask.sum()))                      # one fact, so a guess among the earlier values is right
        store(model, cfg, ids, labels, np.zeros(d + 1, np.int64), ask, one.astype(np.int64), one,
              os.path.join(args.out, f"p{d:03d}_{i:04d}.pt"))
        print(f"trial {i + 1}/{args.batches}: {time.time() - T0:.0f}s", flush=True)


@torch.no_grad()
def store(model, cfg, inp, labels, seg_doc, ask, n_facts, guess, path):
    """Run the frozen encoder up to its last block; save what that block needs at the asked tokens."""
    L, G, D = cfg.n_layers, cfg.n_kv_heads, cfg.d_head
    last = model.blocks[L - 1]
    S, T = inp.shape
    ids, valid, doc = torch.from_numpy(inp), torch.ones(S, T, dtype=torch.bool), torch.from_numpy(seg_doc)
    ctx = dict(valid=valid, seg_doc=doc, mem_in=torch.zeros(L, G, D, D), z_in=torch.zeros(L, G, D),
               attn="dense", memory="parallel", lens=False, cos=model.cos, sin=model.sin)
    x = model.tok(ids)
    for l in range(L - 1):
        x, _ = model.blocks[l](x, ctx, l)
    h1 = last.ln1(x)                                        # [S, T, d]: the last block's attention input
    q, k, v = last.attn.heads(last.attn.wqkv, h1)
    cos, sin = model.cos[:T], model.sin[:T]
    a_local = attn_dense(rope(q, cos, sin), rope(k, cos, sin), v, valid)   # [S, H, T, D]
    xs, _ = last(x, ctx, L - 1)                             # the shipped last block, its own memory as trained
    shipped = model.mlm_logits(model.ln_f(xs)).argmax(-1)   # [S, T]
    si, ti = np.nonzero(ask)
    torch.save(dict(h1=h1.half(), seg_doc=doc, si=torch.from_numpy(si), ti=torch.from_numpy(ti),
                    x=x[si, ti].clone(), a_local=a_local[si, :, ti].clone(),
                    labels=torch.from_numpy(labels[si, ti]), shipped=shipped[si, ti].clone(),
                    n_facts=torch.from_numpy(n_facts), guess=torch.from_numpy(guess)), path)


def add_layout(args):
    """For a fact cache written before the guess baseline was stored: replay its draws (same stream, bank and
    seed; no model), check that they give the cached labels and fact counts, and add the guess to every file."""
    from .tok import Tokenizer
    _, cfg = load_model(args.seg_len)
    tok = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
    part = int(args.part.split("/")[0])
    mb = fact_batches(args, cfg, tok, build_stream(tok, args.held_out, args.max_mb))
    for i in range(args.batches):
        (_, labels, _, _, ask), n_facts, guess = draw_with_layout(mb)
        path = os.path.join(args.out, f"b{part:02d}_{i:04d}.pt")
        b = torch.load(path)
        si, ti = np.nonzero(ask)
        assert torch.equal(b["labels"], torch.from_numpy(labels[si, ti])), f"{path}: the replay differs"
        assert torch.equal(b["n_facts"], torch.from_numpy(n_facts)), f"{path}: other fact counts"
        b["guess"] = torch.from_numpy(guess)
        torch.save(b, path)
    print(f"guess added to {args.batches} files of {args.out}", flush=True)


class LastLayerMemory(torch.nn.Module):
    """The last layer's own memory projections and gates, on top of the frozen model."""

    def __init__(self, model, cfg, mem_init, beta0):
        super().__init__()
        H, G, D = cfg.n_heads, cfg.n_kv_heads, cfg.d_head
        self.m, self.cfg = model, cfg
        self.wqkv_m = torch.nn.Parameter(torch.randn((H + 2 * G) * D, cfg.d_model) * mem_init)
        self.beta = torch.nn.Parameter(torch.full((H,), float(beta0)))

    def load(self, path):
        """An earlier train run's projections and gates."""
        ck = torch.load(path)
        with torch.no_grad():
            self.wqkv_m.copy_(ck["wqkv_m"]), self.beta.copy_(ck["beta"])
        return self

    def forward(self, b, memory=True):
        cfg, m = self.cfg, self.m
        H, G, D = cfg.n_heads, cfg.n_kv_heads, cfg.d_head
        last = m.blocks[cfg.n_layers - 1]
        h1 = b["h1"].float()                                   # [S, T, d]
        S, T, _ = h1.shape
        si, ti = b["si"], b["ti"]
        wq, wk, wv = self.wqkv_m.split([H * D, G * D, G * D], dim=0)
        sk = sigma(h1 @ wk.t()).reshape(S, T, G, D).transpose(1, 2)             # [S, G, T, D]
        vm = (h1 @ wv.t()).reshape(S, T, G, D).transpose(1, 2)
        C, zc = mem_contrib(sk, vm, torch.ones(S, T))                           # the model's own memory functions
        M, z = mem_parallel(C, zc, b["seg_doc"], torch.zeros(G, D, D), torch.zeros(G, D))[:2]   # before each segment
        sq = sigma(h1[si, ti] @ wq.t()).reshape(-1, H, 1, D)                    # [N, H, 1, D]: asked tokens only
        a_mem = mem_read(sq, M[si], z[si])[:, :, 0]                             # [N, H, D]
        if not memory:
            a_mem = torch.zeros_like(a_mem)
        g = torch.sigmoid(self.beta)[None, :, None]
        a = g * a_mem + (1 - g) * b["a_local"]                                  # [N, H, D]
        x = b["x"] + last.attn.wo(a.reshape(len(si), H * D))
        x = x + last.ff2(F.gelu(last.ff1(last.ln2(x)), approximate="tanh"))
        return m.mlm_logits(m.ln_f(x))


@torch.no_grad()
def evaluate(mod, test):
    ok = {"on": [], "off": [], "shipped": []}
    nf, gs = [], []
    for b in test:
        for name, mem in (("on", True), ("off", False)):
            ok[name].append((mod(b, memory=mem).argmax(-1) == b["labels"]).numpy())
        ok["shipped"].append((b["shipped"] == b["labels"]).numpy())
        nf.append(b["n_facts"].numpy())
        gs.append(b["guess"].numpy())
    nf, gs = np.concatenate(nf), np.concatenate(gs)
    res = {k: float(np.concatenate(v).mean()) for k, v in ok.items()}
    res["file_exact"] = {k: float(np.mean([o.all() for o in v])) for k, v in ok.items()}   # a passkey file: one key
    res["n"] = int(len(nf))
    res["guess"] = float(gs.mean())                          # a guess among the values written before
    res["by_facts"] = {}
    on = np.concatenate(ok["on"])
    for lo, hi in ((1, 2), (3, 4), (5, 8)):
        sel = (nf >= lo) & (nf <= hi)
        if sel.any():
            res["by_facts"][f"{lo}-{hi}"] = dict(n=int(sel.sum()), on=float(on[sel].mean()),
                                                 guess_1_over_F=float((1 / nf[sel]).mean()),
                                                 guess=float(gs[sel].mean()))
    return res


@torch.no_grad()
def bootstrap(args):
    """A trained run's projections (--init) on a fact cache (--test), per fact (the tokens of one value averaged):
    memory on against the guess, by facts in the memory, with a 95 % bootstrap interval over the facts."""
    model, cfg = load_model(args.seg_len)
    mod = LastLayerMemory(model, cfg, args.mem_init, args.beta0).load(args.init)
    on, guess, nf = [], [], []
    for p in sorted(glob.glob(os.path.join(args.test, "*.pt"))):
        b = torch.load(p)
        ok = (mod(b).argmax(-1) == b["labels"]).double().numpy()
        si, ti = b["si"].numpy(), b["ti"].numpy()
        fact = np.cumsum(np.r_[True, (si[1:] != si[:-1]) | (ti[1:] != ti[:-1] + 1)]) - 1   # one value, one run
        for f in range(fact.max() + 1):
            sel = fact == f
            on.append(ok[sel].mean()), guess.append(b["guess"].numpy()[sel].mean()), nf.append(int(b["n_facts"][sel][0]))
    on, guess, nf = np.array(on), np.array(guess), np.array(nf)
    rng, res = np.random.default_rng(0), {}
    for lo, hi in ((1, 2), (3, 4), (5, 8), (1, 8)):
        sel = (nf >= lo) & (nf <= hi)
        d = on[sel] - guess[sel]
        bs = [d[rng.integers(0, len(d), len(d))].mean() for _ in range(5000)]
        res[f"{lo}-{hi}"] = dict(facts=int(sel.sum()), on=float(on[sel].mean()), guess=float(guess[sel].mean()),
                                 on_minus_guess=float(d.mean()), ci95=[float(np.percentile(bs, 2.5)),
                                                                       float(np.percentile(bs, 97.5))])
        print(f"facts {lo}-{hi}: {json.dumps(res[f'{lo}-{hi}'])}", flush=True)
    json.dump(res, open(args.out, "w"), indent=1)


def train(args):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    model, cfg = load_model(args.seg_len)
    load = lambda d: [torch.load(p) for p in sorted(glob.glob(os.path.join(d, "*.pt")))]
    tr = [b for d in args.train.split(",") for b in load(d)]
    tests = {os.path.basename(d.rstrip("/")): load(d) for d in args.test.split(",")}
    evaluate_all = lambda: {name: evaluate(mod, te) for name, te in tests.items()}
    mod = LastLayerMemory(model, cfg, args.mem_init, args.beta0)
    if args.init:                                          # go on from an earlier run's projections and gates
        mod.load(args.init)
    opt = torch.optim.AdamW([dict(params=[mod.wqkv_m], lr=args.lr, weight_decay=0.0),
                             dict(params=[mod.beta], lr=args.beta_lr, weight_decay=0.0)])
    log = [dict(step=0, **evaluate_all())]
    print(json.dumps(log[-1]), flush=True)
    rng = np.random.default_rng(args.seed)
    T0, step = time.time(), 0
    while step < args.steps and time.time() - T0 < args.minutes * 60:
        b = tr[int(rng.integers(len(tr)))]
        warm = min(1.0, (step + 1) / 50)
        for gr, lr in zip(opt.param_groups, (args.lr, args.beta_lr)):
            gr["lr"] = lr * warm
        logits = mod(b)
        loss = F.cross_entropy(logits, b["labels"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % args.eval_every == 0 or step == args.steps:
            acc = float((logits.argmax(-1) == b["labels"]).float().mean())
            log.append(dict(step=step, sec=round(time.time() - T0, 1), loss=float(loss), train_acc=acc,
                            gates=torch.sigmoid(mod.beta).tolist(), **evaluate_all()))
            print(json.dumps(log[-1]), flush=True)
    json.dump(dict(args=vars(args), train_batches=len(tr), test_batches={k: len(v) for k, v in tests.items()},
                   log=log), open(args.out, "w"), indent=1)
    torch.save(dict(wqkv_m=mod.wqkv_m.detach(), beta=mod.beta.detach(), layer=cfg.n_layers - 1),
               os.path.splitext(args.out)[0] + ".pt")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["cache", "train", "add-layout", "bootstrap"])
    ap.add_argument("--seg-len", type=int, default=256)
    ap.add_argument("--nseg", type=int, default=16)
    ap.add_argument("--seqs", type=int, default=4)
    ap.add_argument("--gap", type=int, default=1)
    ap.add_argument("--recall-n", type=int, default=8, help="1..N facts a sequence")
    ap.add_argument("--seed", type=int, default=26)
    ap.add_argument("--part", default="0/1")
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--held-out", action="store_true")
    ap.add_argument("--passkey", type=int, default=0, help="cache passkey trials at this distance (segments)")
    ap.add_argument("--filler", choices=["code", "repeat"], default="code")
    ap.add_argument("--max-mb", type=float, default=12.0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--train", default="")
    ap.add_argument("--test", default="")
    ap.add_argument("--mem-init", type=float, default=0.05)
    ap.add_argument("--init", default="", help="an earlier train run's .pt (its W_qkv_m and gates)")
    ap.add_argument("--beta0", type=float, default=0.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--beta-lr", type=float, default=1e-2)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.cmd == "train":
        train(args)
    elif args.cmd == "add-layout":
        add_layout(args)
    elif args.cmd == "bootstrap":
        bootstrap(args)
    elif args.passkey:
        cache_passkey(args)
    else:
        cache(args)


if __name__ == "__main__":
    main()
