"""Memory probes in PyTorch (issue 24): does a checkpoint's compressive memory recall? Each probe is run with the
memory on and ablated (its read zeroed: memory="off"), on held-out text (the val packages: val_stream.npy) with
held-out identifier names (banks.json "val"); deterministic seeds.

  passkey  a 5-digit key at an evenly spread depth (segment 0 .. N-2), asked in the last of N segments; exact keys
           and digit tokens. N > 64 runs in pieces of 64 segments, the memory carried between them (mem_out -> mem_in).
  code     K identifiers defined (random values) in the first half of 16 segments, each used with its value masked
           >= 8 segments later; exact values and value tokens.
  mlm      masked-token accuracy on segments 8-15 (evaluate.mlm_probe), on against off.
  share    per head: mean over real-code tokens of g|A_mem| / (g|A_mem| + (1-g)|A_local|).

python3 kernels/train/memory_probes.py --ckpt DIR/ckpt.pt --model-dir kernels/model --prep-dir P --out DIR/probe.json
"""
import argparse
import json
import os
import time

import numpy as np
import torch

import model as model_mod
from data import MASK
from model import Config, Encoder
from quant8 import load_state
from recall_tasks import Encode, FORMS, random_value
from train import DEV, amp, fixed_rand, t

MODES = (("on", "parallel"), ("off", "off"))


def load_ckpt(path):
    ck = torch.load(path, map_location="cpu")
    m = Encoder(Config(**{k: v for k, v in ck["config"].items() if k != "dense_below"}))
    m.load_state_dict(load_state(ck))
    return m.to(DEV).eval()


@torch.no_grad()
def predict(m, ids, seg_doc, rand, memory, mem_in=None, z_in=None):
    """Argmax token [S, T] and the memory after the last segment."""
    with amp():
        o = m(t(ids), t(np.ones(ids.shape, np.float32)), t(seg_doc), rand, mem_in=mem_in, z_in=z_in,
              attn="gather" if DEV == "cpu" else "masked", memory=memory)
        return m.mlm_logits(o["h"]).argmax(-1), o["mem_out"], o["z_out"]


def filler(stream, rng, nseg, T):
    s = int(rng.integers(0, len(stream) - nseg * T))
    return stream[s:s + nseg * T].astype(np.int64).reshape(nseg, T).copy()


def passkey(m, enc, stream, nseg, trials, seed=5, piece=64):
    rng = np.random.default_rng(seed)
    T = m.cfg.seg_len
    rand = fixed_rand(m.cfg)
    pre = enc("\npasskey = ")
    res = {k: [0, 0, 0] for k, _ in MODES}                                   # digits ok, digits, keys exact
    depths = np.linspace(0, nseg - 2, trials).round().astype(int)
    for i in range(trials):
        key = enc("".join(str(x) for x in rng.integers(0, 10, 5)))
        ids = filler(stream, rng, nseg, T)
        p0 = int(rng.integers(64, T - 64))
        ids[depths[i], p0:p0 + len(pre) + len(key)] = np.concatenate([pre, key])
        p1 = int(rng.integers(64, T - 64))
        ids[-1, p1:p1 + len(pre)] = pre
        ids[-1, p1 + len(pre):p1 + len(pre) + len(key)] = MASK
        pos = np.arange(p1 + len(pre), p1 + len(pre) + len(key))
        for mode, mem in MODES:
            M = z = None
            for a in range(0, nseg, piece):                                    # pieces carry the memory forward
                b = min(nseg, a + piece)
                pred, M, z = predict(m, ids[a:b], np.zeros(b - a, np.int64), rand, mem, M, z)
            good = pred[-1, pos].cpu().numpy() == key
            r = res[mode]
            r[0], r[1], r[2] = r[0] + int(good.sum()), r[1] + len(key), r[2] + int(good.all())
    return {k: dict(key_exact=r[2] / trials, digit_acc=r[0] / r[1], trials=trials) for k, r in res.items()} | \
        dict(segments=nseg, tokens=nseg * T)


def code_recall(m, enc, stream, bank, trials, nseg=16, k=4, seed=11):
    rng = np.random.default_rng(seed)
    T = m.cfg.seg_len
    rand = fixed_rand(m.cfg)
    res = {k_: [0, 0, 0, 0] for k_, _ in MODES}                             # tokens ok, tokens, values exact, values
    for _ in range(trials):
        ids = filler(stream, rng, nseg, T)
        asks, busy = [], np.zeros(ids.shape, bool)
        for _ in range(k):
            fam, n = bank[int(rng.integers(len(bank)))]
            d, u = (enc(x.format(n=n)) for x in FORMS[fam])
            val = enc(random_value(rng))
            j = int(rng.integers(0, nseg // 2))
            s = int(rng.integers(j + nseg // 2, nseg))
            for seg, w in ((j, np.concatenate([d, val])), (s, np.concatenate([u, val]))):
                for _ in range(20):
                    p = int(rng.integers(0, T - len(w)))
                    if not busy[seg, p:p + len(w)].any():
                        break
                ids[seg, p:p + len(w)] = w
                busy[seg, p:p + len(w)] = True
            ids[s, p + len(u):p + len(w)] = MASK
            asks.append((s, np.arange(p + len(u), p + len(w)), val))
        for mode, mem in MODES:
            pred = predict(m, ids, np.zeros(nseg, np.int64), rand, mem)[0].cpu().numpy()
            r = res[mode]
            for s, pos, val in asks:
                good = pred[s, pos] == val
                r[0], r[1], r[2], r[3] = r[0] + int(good.sum()), r[1] + len(val), r[2] + int(good.all()), r[3] + 1
    return {k_: dict(value_exact=r[2] / r[3], token_acc=r[0] / r[1], values=r[3]) for k_, r in res.items()} | \
        dict(segments=nseg, facts_per_trial=k)


@torch.no_grad()
def memory_share(m, stream, nseg=16, seqs=4, seed=3):
    """Per head [L, H]: mean over tokens of g|A_mem| / (g|A_mem| + (1-g)|A_local|) on real code."""
    rng = np.random.default_rng(seed)
    T = m.cfg.seg_len
    ids = np.concatenate([filler(stream, rng, nseg, T) for _ in range(seqs)])
    cap = {"mem": [], "loc": []}
    orig_read, orig_local = model_mod.mem_read, model_mod.attn_masked if DEV == "cuda" else model_mod.attn_gather

    def read(*a, **k):
        out = orig_read(*a, **k)
        cap["mem"].append(out.float().norm(dim=-1))                              # [S, H, T]
        return out

    def local(*a, **k):
        out = orig_local(*a, **k)
        cap["loc"].append((out[0] if isinstance(out, tuple) else out).float().norm(dim=-1))
        return out
    model_mod.mem_read = read
    setattr(model_mod, "attn_masked" if DEV == "cuda" else "attn_gather", local)
    try:
        predict(m, ids, np.repeat(np.arange(seqs), nseg), fixed_rand(m.cfg), "parallel")
    finally:
        model_mod.mem_read = orig_read
        setattr(model_mod, "attn_masked" if DEV == "cuda" else "attn_gather", orig_local)
    g = m.gates().to(DEV)                                                    # [L, H]
    share = []
    for l, (am, al) in enumerate(zip(cap["mem"], cap["loc"])):
        gm, gl = g[l][None, :, None] * am, (1 - g[l])[None, :, None] * al
        share.append((gm / (gm + gl).clamp(min=1e-12)).mean((0, 2)))
    return torch.stack(share).cpu().tolist()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--model-dir", default="kernels/model")
    ap.add_argument("--prep-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--trials", default="16:48,64:24")
    ap.add_argument("--code-trials", type=int, default=24)
    ap.add_argument("--long", default="", help="e.g. 1024:8: passkey at 1,024 segments, 8 trials")
    ap.add_argument("--quick", action="store_true", help="CPU smoke: no masked-token probe, share on 2 segments")
    args = ap.parse_args()
    from tokenizers import Tokenizer
    from evaluate import mlm_probe
    enc = Encode(Tokenizer.from_file(os.path.join(args.model_dir, "tokenizer.json")))
    val = np.load(os.path.join(args.prep_dir, "val_stream.npy")).astype(np.int64)
    bank = json.load(open(os.path.join(args.prep_dir, "banks.json")))["val"]
    m = load_ckpt(args.ckpt)
    t0, res = time.time(), {"gates": m.gates().tolist()}

    def done(name, value):                                                 # written after each probe: a probe cut
        res[name] = value                                                  # short by a time limit loses only itself
        res["sec"] = round(time.time() - t0, 1)
        json.dump(res, open(args.out, "w"), indent=1)
        print(json.dumps({name: value if name != "share" else "..."}), flush=True)
    for spec in [s for s in args.trials.split(",") if s]:
        n, k = (int(x) for x in spec.split(":"))
        done(f"passkey_{n}", passkey(m, enc, val, n, k))
    done("code_16", code_recall(m, enc, val, bank, args.code_trials, nseg=4 if args.quick else 16))
    if not args.quick:
        mp = mlm_probe(m, m.cfg, val, batches=4)
        done("mlm_seg8_15", {k: float(np.mean(v["acc_by_segment"][8:16])) for k, v in mp.items()})
    share = memory_share(m, val, **(dict(nseg=2, seqs=1) if args.quick else {}))
    done("heads_share_ge_0.1", int(sum(x >= 0.1 for row in share for x in row)))
    done("share", share)
    for spec in [s for s in args.long.split(",") if s]:
        n, k = (int(x) for x in spec.split(":"))
        done(f"passkey_{n}", passkey(m, enc, val, n, k))


if __name__ == "__main__":
    main()
