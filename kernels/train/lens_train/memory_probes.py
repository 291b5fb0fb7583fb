"""Memory probes in PyTorch (issue 24): does a checkpoint's compressive memory recall? Each probe is run with the
memory on and ablated (its read zeroed: memory="off"), on held-out text (the val packages: val_stream.npy) with
held-out identifier names (banks.json "val"); deterministic seeds.

  passkey  a 5-digit key at an evenly spread depth (segment 0 .. N-2), asked in the last of N segments; exact keys
           and digit tokens. N > 64 runs in pieces of 64 segments, the memory carried between them (mem_out -> mem_in).
  code     K identifiers defined (random values) in the first half of 16 segments, each used with its value masked
           >= 8 segments later; exact values and value tokens.
  mlm      masked-token accuracy on segments 8-15 (evaluate.mlm_probe), on against off.
  share    per head: mean over real-code tokens of g|A_mem| / (g|A_mem| + (1-g)|A_local|).

cd kernels/train && python3 -m lens_train.memory_probes --ckpt DIR/ckpt.pt --model-dir ../model --prep-dir P --out DIR/probe.json

`export-mlm`: the masked-token graph `mlm.fp32.onnx` of a model folder, for the CLI's `probe-memory` (issue 24): the encoder
(gather attention, memory across segments as encoder.onnx) and the tied output matrix at asked positions only.

  inputs   input_ids [S, T] int64, valid [S, T] f32, seg_doc [S] int64, rand_blocks [L, H, nb, r] int64,
           mem_in [L, G, D, D] f32, z_in [L, G, D] f32, positions [P] int64 (flat indices into S*T)
  outputs  top_ids [P, 5] int64 (the 5 likeliest tokens, best first), mem_out, z_out (as encoder.onnx)

Its weights are the folder's own: every tensor the graph stores is looked up by content in the folder's
weights.bin (int8 codes and row scales read from the folder's query graph, float16-exact vectors as float16, as
export.py stores them), and the graph points at those bytes. weights.bin is not rewritten; a tensor not found
there is an error (computed constants that torch versions round differently, the RoPE tables, stay in the graph).
The logits are E·hᵀ with E the embedding exactly as the Gather stores it (no transposed copy).

cd kernels/train && python3 -m lens_train.memory_probes export-mlm --model ../model [--check] [--golden FILE]
"""
import argparse
import hashlib
import io
import json
import os
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

from . import model as model_mod
from .data import MASK
from .export import F16, LEGACY, OPSET, Q8, S8, example_inputs, int8_lookup, share_weights
from .model import Config, Encoder, random_blocks
from .quant8 import load_state
from .memory_recall import FORMS, Encode, random_value
from .tok import Tokenizer
from .train import DEV, amp, fixed_rand, t

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
    from .evaluate import mlm_probe
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


# ---------------------------------------------------------------- the masked-token graph for probe-memory
TOP = 5


class MlmGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, input_ids, valid, seg_doc, rand_blocks, mem_in, z_in, positions):
        o = self.m(input_ids, valid, seg_doc, rand_blocks, mem_in, z_in, attn="gather")
        h = o["h"].reshape(-1, self.m.cfg.d_model)[positions]                  # [P, d]
        logits = (self.m.tok.weight @ h.t()).t()                              # [P, V]
        return logits.topk(TOP, dim=-1).indices, o["mem_out"].float(), o["z_out"].float()


def int8_from_graph(path):
    """{name: (int8 codes [out, in], float32 scales [out])} of a graph's int8-stored matrices (torch's layout:
    a MatMul stores Wᵀ with scales over its columns, the embedding's Gather W with scales over its rows)."""
    g = onnx.load(path, load_external_data=True).graph
    inits = {t.name: t for t in g.initializer}
    out = {}
    for name, t in inits.items():
        if not name.endswith("__q8"):
            continue
        q = numpy_helper.to_array(t)
        s = numpy_helper.to_array(inits[name[:-4] + "__s8"]).astype(np.float32)
        if s.shape[0] == 1:                                                  # [1, out]: stored transposed
            q, s = q.T, s[0]
        else:
            s = s[:, 0]
        out[name[:-4]] = (torch.from_numpy(np.ascontiguousarray(q)), torch.from_numpy(s))
    return out


def weights_index(model_dir):
    """{content key: offset} of every tensor the folder's graphs read from weights.bin."""
    blob = open(os.path.join(model_dir, "weights.bin"), "rb").read()
    index = {}
    for fn in sorted(os.listdir(model_dir)):
        if not fn.endswith(".onnx") or fn.startswith("mlm."):
            continue
        for t in onnx.load(os.path.join(model_dir, fn), load_external_data=False).graph.initializer:
            ext = {e.key: e.value for e in t.external_data}
            if ext.get("location") == "weights.bin":
                off, n = int(ext["offset"]), int(ext["length"])
                index[key(blob[off:off + n], t)] = off
    return index


def key(raw, t):
    return hashlib.sha256(raw + bytes(str((t.data_type, list(t.dims))), "ascii")).hexdigest()


def export_mlm(model, model_dir):
    """Write model_dir/mlm.fp32.onnx whose every stored tensor is found in model_dir/weights.bin."""
    cfg = model.cfg
    args = example_inputs(cfg, "encoder", "cpu") + (torch.tensor([5, cfg.seg_len + 7, 2 * cfg.seg_len + 100]),)
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(MlmGraph(model.eval()), args, buf, opset_version=OPSET,
                          input_names=["input_ids", "valid", "seg_doc", "rand_blocks", "mem_in", "z_in", "positions"],
                          output_names=["top_ids", "mem_out", "z_out"],
                          dynamic_axes={"input_ids": {0: "S"}, "valid": {0: "S"}, "seg_doc": {0: "S"},
                                        "positions": {0: "P"}, "top_ids": {0: "P"}},
                          do_constant_folding=True, **LEGACY)
    proto = onnx.load_from_string(buf.getvalue())
    table = int8_from_graph(os.path.join(model_dir, "query.fp32.onnx"))
    with tempfile.TemporaryDirectory() as tmp:
        share_weights({"mlm.fp32": proto}, os.path.join(tmp, "w.bin"), fp16_store={"mlm.fp32"},
                      int8_look=int8_lookup(table))
        tmp_blob = open(os.path.join(tmp, "w.bin"), "rb").read()
    index, inline = weights_index(model_dir), []
    for t in proto.graph.initializer:
        ext = {e.key: e.value for e in t.external_data}
        if not ext:
            continue
        off, n = int(ext["offset"]), int(ext["length"])
        k = key(tmp_blob[off:off + n], t)
        if k in index:
            for e in t.external_data:
                e.value = {"location": "weights.bin", "offset": str(index[k]), "length": str(n)}[e.key]
            continue
        if t.name.endswith((Q8, S8, F16)):                                  # a trained weight: must be the folder's
            raise SystemExit(f"{t.name} {list(t.dims)}: not in {model_dir}/weights.bin (export the folder anew)")
        # a computed constant (the RoPE tables): kept in the graph; torch versions differ in its last bits
        del t.external_data[:]
        t.data_location = onnx.TensorProto.DEFAULT
        t.raw_data = tmp_blob[off:off + n]
        inline.append(f"{t.name} {list(t.dims)}")
    print(f"mlm.fp32: every weight read from weights.bin; {len(inline)} computed constants in the graph: "
          + ", ".join(inline), flush=True)
    path = os.path.join(model_dir, "mlm.fp32.onnx")
    onnx.save(proto, path)
    onnx.checker.check_model(path)
    return path


def check(model, model_dir, seed=0):
    """The graph's top token ids against the PyTorch model's at random positions (onnxruntime, CPU)."""
    import onnxruntime as ort
    cfg = model.cfg
    args = example_inputs(cfg, "encoder", "cpu", seed=seed)
    pos = torch.randint(0, args[0].numel(), (64,), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        ref = MlmGraph(model.eval())(*args, pos)
    sess = ort.InferenceSession(os.path.join(model_dir, "mlm.fp32.onnx"), providers=["CPUExecutionProvider"])
    names = ["input_ids", "valid", "seg_doc", "rand_blocks", "mem_in", "z_in", "positions"]
    got = sess.run(None, {n: a.numpy() for n, a in zip(names, args + (pos,))})
    top1 = float((got[0][:, 0] == ref[0][:, 0].numpy()).mean())
    mem = float(np.abs(got[1] - ref[1].numpy()).max() / max(1e-12, np.abs(ref[1].numpy()).max()))
    return dict(top1_agree=top1, mem_out_rel_err=mem)


def golden(model, out, seed=24, S=2, P=32):
    """A small fixture for the runtime's test of mlm.fp32.onnx: token ids of S segments (memory across them),
    P asked positions and PyTorch's top token ids there (float32, the gather path the graph holds)."""
    import json
    cfg = model.cfg
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, cfg.vocab, (S, cfg.seg_len), generator=g)
    pos = torch.randperm(S * cfg.seg_len, generator=g)[:P].sort().values
    rb = random_blocks(1234, cfg.n_layers, cfg.n_heads, cfg.nb, cfg.window, cfg.n_global, cfg.n_random)
    L, G, D = cfg.n_layers, cfg.n_kv_heads, cfg.d_head
    with torch.no_grad():
        top, mem, z = MlmGraph(model.eval())(ids, torch.ones(S, cfg.seg_len), torch.zeros(S, dtype=torch.long), rb,
                                             torch.zeros(L, G, D, D), torch.zeros(L, G, D), pos)
    json.dump(dict(seed=seed, input_ids=ids.tolist(), positions=pos.tolist(), top_ids=top.tolist(),
                   mem_out_abs_sum=float(mem.abs().sum()), z_out_sum=float(z.sum())), open(out, "w"))


def main_export():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="kernels/model", help="a model folder (model-card.json, query.fp32.onnx, weights.bin)")
    ap.add_argument("--check", action="store_true", help="compare with onnxruntime for Python (the GPU machine has it)")
    ap.add_argument("--golden", default="", help="write the runtime test's fixture here (PyTorch's top ids)")
    args = ap.parse_args()
    from .chunks import load_model_dir
    import json
    m = load_model_dir(args.model)                                       # config from the card, mem_proj included
    print(export_mlm(m, args.model), flush=True)
    if args.golden:
        golden(m, args.golden)
    if args.check:
        print(json.dumps(check(m, args.model)), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["export-mlm"]:                                     # the mlm graph of a model folder
        sys.argv.pop(1)
        main_export()
    else:
        main()
