"""Refit the embedding head W_e on the shipped encoder's frozen features (CPU experiment, no GPU lent).

The retrieval embedding is normalize(mean_t W_e LN(h_t)) = normalize(W_e f), f = mean_t LN(h_t) over the valid
positions (CONTRACT.md, "Pooling and embeddings"). So with f cached for every train and val sequence — computed by
the shipped int8 query graph itself with onnxruntime-node (features.mjs) — W_e (and the final LayerNorm's bias,
which adds W_e·Δβ) can be refit by contrastive training on this machine in minutes, and written back into
weights.bin without touching any graph.

  ids      tokenized sequences of the val set (train_chunks.val_set, the selection metric of every run) and of the
           train pairs (the function alone), as flat int32 files for features.mjs
  graph    DIR/feat.onnx: the shipped query graph that also outputs the final LayerNorm's output
  corpus   the train files that carry pairs, as a folder the extension's CLI can index (lexical pass only)
  ext-ids  the code side as the extension embeds it: the chunk its chunker makes around each pair's function
  refit    symmetric InfoNCE over the train features from the shipped W_e, val MRR@10 each epoch; keeps the best
  write    the refit W_e (int8 rows, as quant8 stores them) into a copy of the model folder, and a run folder for
           fixtures.py --graphs

The head_refit stage of kernels/train/reproduce.py runs these in order (lens_train/stages_post.py); by hand, from
kernels/train (MODEL: a model folder, default kernels/model; VAL: a JSON whose "chunks" holds the val settings):
python3 -m lens_train.head_refit ids --data SHARD --out DIR --val-config VAL [--model MODEL]
python3 -m lens_train.head_refit graph --dir DIR [--model MODEL]
node --import tsx features.mjs DIR val_q val_code train_q            # DIR/*.ids.i32 -> DIR/*.f32 (pooled LN(h))
python3 -m lens_train.head_refit refit --dir DIR --out DIR/refit.pt [--code train_xcode]
python3 -m lens_train.head_refit write --refit DIR/refit.pt --dir DIR --out MODEL_DIR --run RUN_DIR [--model MODEL]
"""
import argparse
import json
import os
import shutil

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "..", "model")                           # kernels/model


def write_seqs(path, seqs):
    """seqs -> PATH.ids.i32 (concatenated) + PATH.len.i32 (lengths)."""
    np.concatenate([np.asarray(s, dtype=np.int32) for s in seqs]).tofile(path + ".ids.i32")
    np.array([len(s) for s in seqs], dtype=np.int32).tofile(path + ".len.i32")


def train_pairs(files, pairs):
    """{file id: file} and the pairs whose file is kept and in the train split (the same list for ids, corpus and
    ext-ids, so their rows line up)."""
    fmap = {f["id"]: f for f in files}
    return fmap, [p for p in pairs if p["file_id"] in fmap and fmap[p["file_id"]]["split"] == "train"]


def cmd_ids(a):
    from .tok import Tokenizer
    from .chunks import Spans, query_ids
    from .train_chunks import load_pack, val_set
    tok = Tokenizer.from_file(os.path.join(a.model, "tokenizer.json"))
    cc = json.load(open(a.val_config))["chunks"]                          # the val set of the run that made the model
    files, pairs, pairs_val = load_pack(a.data)
    vs, pv, _ = val_set(tok, cc, files, pairs_val)
    os.makedirs(a.out, exist_ok=True)
    write_seqs(os.path.join(a.out, "val_code"), vs.code + vs.distract)
    write_seqs(os.path.join(a.out, "val_q"), vs.q)
    fmap, pairs = train_pairs(files, pairs)
    for p in pairs:
        p["pkg"] = fmap[p["file_id"]]["pkg"]
    sp = Spans(tok, fmap, pairs, ctx=0)
    write_seqs(os.path.join(a.out, "train_code"), [sp.chunk(i, cc["max_code"]) for i in range(len(pairs))])
    write_seqs(os.path.join(a.out, "train_q"), query_ids(tok, [p["query"] for p in pairs]))
    json.dump(dict(val_pairs=len(pv), val_distract=len(vs.distract), train_pairs=len(pairs),
                   train_pkg=[p["pkg"] for p in pairs]), open(os.path.join(a.out, "meta.json"), "w"))
    print(len(pv), len(vs.distract), len(pairs))


def cmd_graph(a):
    """DIR/feat.onnx: the shipped query graph with the final LayerNorm's output [B, T, d_model] as a second output
    (reads a copy of weights.bin beside it; the card beside it gives features.mjs the shapes)."""
    import onnx
    m = onnx.load(os.path.join(a.model, "query.fp32.onnx"), load_external_data=False)
    ln = "/m/ln_f/LayerNormalization_output_0"
    assert any(n.output[0] == ln for n in m.graph.node), "no final LayerNorm output in the query graph"
    d_model = json.load(open(os.path.join(a.model, "model-card.json")))["config"]["d_model"]
    m.graph.output.append(onnx.helper.make_tensor_value_info(ln, onnx.TensorProto.FLOAT, ["B", "T", d_model]))
    os.makedirs(a.dir, exist_ok=True)
    onnx.save(m, os.path.join(a.dir, "feat.onnx"))
    shutil.copyfile(os.path.join(a.model, "model-card.json"), os.path.join(a.dir, "model-card.json"))   # features.mjs
    w = os.path.join(a.dir, "weights.bin")
    if not os.path.exists(w):
        shutil.copyfile(os.path.join(a.model, "weights.bin"), w)           # ORT refuses links out of the folder


def cmd_corpus(a):
    """Every train file that carries a pair, written to OUT/<file id>/<pkg>/<path> (its real extension, so the
    extension's chunker parses it), and OUT.map.json: file id -> that path. Index it with `cli.js index OUT`."""
    from .train_chunks import load_pack
    files, pairs, _ = load_pack(a.data)
    fmap, pairs = train_pairs(files, pairs)
    need = sorted({p["file_id"] for p in pairs})
    where = {}
    for fid in need:
        f = fmap[fid]
        rel = f"{fid}/{f['pkg']}/{f['path']}".replace("..", "_")
        path = os.path.join(a.out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(f["text"])
        where[fid] = rel
    json.dump(where, open(a.out.rstrip("/") + ".map.json", "w"))
    print(len(need), "files")


def cmd_ext_ids(a):
    """train_xcode: for a seeded subset of the train pairs, the chunk the EXTENSION makes around each pair's
    function (its chunker's symbol chunks, packed groups and pieces, read from a lexical index of the pairs' files:
    `cli.js index CORPUS --index-dir D`), tokenized alone as the extension embeds it (<doc> + <= 511 tokens of the
    chunk's lines, CR stripped). Chunks are stored once; train_xcode.pair.i32 maps each kept pair (row of
    train_q) -> its chunk's row."""
    import sqlite3
    from .tok import Tokenizer
    from .data import DOC
    from .train_chunks import load_pack
    tok = Tokenizer.from_file(os.path.join(a.model, "tokenizer.json"))
    files, pairs, _ = load_pack(a.data)
    fmap, pairs = train_pairs(files, pairs)                               # the rows of ids' train_q
    where = json.load(open(a.corpus_map))                                  # file id -> path in the corpus
    db = sqlite3.connect(a.index)
    by_path = {}
    for path, s, e, parts in db.execute("select f.path, c.start_line, c.end_line, c.parts from chunks c "
                                        "join files f on f.id = c.file_id"):
        if a.members and parts:                                            # a packed chunk: embedded member by member
            by_path.setdefault(path, []).extend((m[2], m[3]) for m in json.loads(parts))
        else:
            by_path.setdefault(path, []).append((s, e))
    rng = np.random.default_rng(a.seed)
    keep = np.sort(rng.permutation(len(pairs))[:a.limit]) if a.limit else np.arange(len(pairs))
    rows, chunk_row, texts, file_lines = [], {}, [], {}
    for i in keep:
        p = pairs[i]
        path = where[str(p["file_id"])]
        best = max(by_path.get(path, []), default=None,
                   key=lambda c: (min(c[1], p["end_line"]) - max(c[0], p["start_line"]), -c[0]))
        if best is None or min(best[1], p["end_line"]) < max(best[0], p["start_line"]):
            continue                                                         # no chunk overlaps the function
        key = (path, best)
        if key not in chunk_row:
            if p["file_id"] not in file_lines:                               # split once per file, CR stripped
                file_lines[p["file_id"]] = [l[:-1] if l.endswith("\r") else l
                                            for l in fmap[p["file_id"]]["text"].split("\n")]
            lines = file_lines[p["file_id"]]
            chunk_row[key] = len(texts)
            texts.append("\n".join(lines[best[0] - 1:best[1]]))
        rows.append((int(i), chunk_row[key]))
    encs = tok.encode_batch(texts, add_special_tokens=False)
    name = "train_mcode" if a.members else "train_xcode"
    write_seqs(os.path.join(a.dir, name), [[DOC] + e.ids[:511] for e in encs])
    np.array(rows, dtype=np.int32).tofile(os.path.join(a.dir, name + ".pair.i32"))
    st = dict(pairs=len(pairs), asked=len(keep), kept=len(rows), chunks=len(texts),
              tokens=int(sum(min(len(e.ids), 511) + 1 for e in encs)))
    json.dump(st, open(os.path.join(a.dir, name + ".json"), "w"))
    print(json.dumps(st))


def load_f(d, name):
    n = np.fromfile(os.path.join(d, name + ".len.i32"), dtype=np.int32).size
    return torch.from_numpy(np.fromfile(os.path.join(d, name + ".f32"), dtype=np.float32).reshape(n, -1))


def shipped_head(model_dir=None):
    """W_e [256, 384] and the model, as a model folder's query graph holds them (int8 codes x scale);
    default kernels/model."""
    from .chunks import load_model_dir
    m = load_model_dir(model_dir or MODEL)
    return m.proj.weight.detach().clone(), m


def val_mrr(W, b, fq, fc):
    from .chunks import mrr10
    q = F.normalize((fq + b) @ W.t(), dim=-1)
    c = F.normalize((fc + b) @ W.t(), dim=-1)
    return mrr10(q @ c.t())


def cmd_refit(a):
    torch.manual_seed(a.seed)
    W0, _ = shipped_head(a.init_model)
    vq, vc = load_f(a.dir, "val_q"), load_f(a.dir, "val_code")
    tq, tc = load_f(a.dir, "train_q"), load_f(a.dir, a.code)
    code_of = torch.arange(len(tq))                                        # pair -> row of the code features
    pair_map = a.code if a.code != "train_code" else ("train_xcode" if a.xcode_pairs else None)
    if pair_map:                                                           # the pairs ext-ids kept, in its order
        pm = torch.from_numpy(np.fromfile(os.path.join(a.dir, pair_map + ".pair.i32"), dtype=np.int32)
                              .reshape(-1, 2).astype(np.int64))
        tq = tq[pm[:, 0]]
        code_of = pm[:, 1] if a.code != "train_code" else pm[:, 0]         # ext-ids' chunk row, or the pair's own
    print("features", tuple(vq.shape), tuple(vc.shape), tuple(tq.shape), tuple(tc.shape))
    W = W0.clone().requires_grad_(True)
    b = torch.zeros(W0.shape[1], requires_grad=True)          # Δβ of the final LayerNorm (feeds only W_e)
    params = [W] + ([b] if a.bias else [])
    log_t = torch.tensor(np.log(a.tau), requires_grad=True)
    opt = torch.optim.AdamW([{"params": params, "weight_decay": 0.0}, {"params": [log_t], "weight_decay": 0.0}],
                            lr=a.lr)
    base = val_mrr(W0, torch.zeros_like(b), vq, vc)
    print(f"shipped head: val MRR@10 {base:.4f}")
    best, best_state, n = base, (W0.clone(), torch.zeros_like(b)), len(tq)
    log = [dict(epoch=0, val=base)]
    for ep in range(1, a.epochs + 1):
        perm = torch.randperm(n)
        tot = 0.0
        for i in range(0, n - a.batch + 1, a.batch):
            idx = perm[i:i + a.batch]
            q = F.normalize((tq[idx] + b) @ W.t(), dim=-1)
            ci = code_of[idx]
            c = F.normalize((tc[ci] + b) @ W.t(), dim=-1)
            s = q @ c.t() / log_t.exp()
            same = (ci[:, None] == ci[None, :]) & ~torch.eye(len(idx), dtype=torch.bool)
            s = s.masked_fill(same, float("-inf"))                         # one chunk holding two pairs' functions
            y = torch.arange(len(idx))
            loss = 0.5 * (F.cross_entropy(s, y) + F.cross_entropy(s.t(), y)) + a.l2 * ((W - W0) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss)
        with torch.no_grad():
            v = val_mrr(W, b, vq, vc)
        log.append(dict(epoch=ep, val=v, loss=tot / max(1, n // a.batch), tau=float(log_t.exp()),
                        rel_change=float((W - W0).norm() / W0.norm())))
        print(json.dumps(log[-1]), flush=True)
        if v > best:
            best, best_state = v, (W.detach().clone(), b.detach().clone())
    torch.save(dict(W=best_state[0], b=best_state[1], val=best, base=base, log=log, args=vars(a)), a.out)
    kept = max(log, key=lambda x: x["val"])["epoch"]
    args = {k: v for k, v in vars(a).items() if k not in ("dir", "out", "init_model")}   # no run-specific paths
    json.dump(dict(val=best, base=base, kept_epoch=kept, epochs_run=len(log) - 1, log=log, args=args),
              open(os.path.splitext(a.out)[0] + ".json", "w"), indent=1)
    print(f"best val MRR@10 {best:.4f} (shipped {base:.4f}) -> {a.out}")


def external(graph_path, init_name):
    """(offset, length) of an initializer stored in weights.bin."""
    import onnx
    g = onnx.load(graph_path, load_external_data=False).graph
    t = next(t for t in g.initializer if t.name == init_name)
    e = {x.key: x.value for x in t.external_data}
    assert e.get("location") == "weights.bin", (graph_path, init_name, e)
    return int(e["offset"]), int(e["length"])


def proj_initializers(graph_path):
    """Names of W_eᵀ's int8 codes and row scales in a graph (the initializers behind /m/proj/MatMul)."""
    import onnx
    g = onnx.load(graph_path, load_external_data=False).graph
    w = next(n for n in g.node if n.name == "/m/proj/MatMul").input[1]
    names = {t.name for t in g.initializer}
    assert w + "__q8" in names and w + "__s8" in names, (graph_path, w)
    return w + "__q8", w + "__s8"


def cmd_write(a):
    """A model folder (copy of kernels/model) with the refit W_e in weights.bin — int8 codes and row scales at the
    offsets every graph reads them from (the graphs are unchanged) — and a run folder (RUN/ckpt.pt, the same
    weights in float32) for fixtures.py --graphs."""
    from .quant8 import fake_int8
    r = torch.load(a.refit)
    if float(r["b"].abs().max()) > 0:
        raise SystemExit("a refit with a LayerNorm bias changes graph initializers, not weights.bin: not written")
    W, m = shipped_head(a.model)
    deq, codes, scales = fake_int8(r["W"])                                 # [256, 384], per output row
    shutil.copytree(a.model, a.out, dirs_exist_ok=True)
    at = {}
    for g in sorted(os.listdir(a.model)):
        if g.endswith(".onnx") and not g.startswith("lens."):               # the lens graph has no embedding head
            gq, gs = proj_initializers(os.path.join(a.model, g))
            at[g] = (external(os.path.join(a.model, g), gq), external(os.path.join(a.model, g), gs))
    (oq, lq), (os_, ls) = at["query.fp32.onnx"]
    assert all(v == at["query.fp32.onnx"] for v in at.values()), at          # one copy of W_e for every graph
    cq = codes.t().contiguous().numpy()                                     # W_eᵀ [384, 256], as the graphs store it
    cs = scales.float().numpy().reshape(1, -1)
    assert cq.nbytes == lq and cs.nbytes == ls, (cq.nbytes, lq, cs.nbytes, ls)
    with open(os.path.join(a.out, "weights.bin"), "r+b") as fh:
        fh.seek(oq)
        fh.write(cq.astype(np.int8).tobytes())
        fh.seek(os_)
        fh.write(cs.astype(np.float32).tobytes())
    from .chunks import load_from_onnx
    back = load_from_onnx(type(m)(m.cfg), os.path.join(a.out, "query.fp32.onnx")).proj.weight
    assert torch.equal(back, deq), "weights.bin does not read back as the refit head"
    sd = m.state_dict()
    sd["proj.weight"] = deq
    import dataclasses
    os.makedirs(a.run, exist_ok=True)
    torch.save(dict(model=sd, config=dataclasses.asdict(m.cfg)), os.path.join(a.run, "ckpt.pt"))
    shutil.copyfile(os.path.join(a.model, "tokenizer.json"), os.path.join(a.run, "tokenizer.json"))
    if not os.path.exists(os.path.join(a.dir, "val_code.f32")):
        return                                                              # no cached val features to score
    vq, vc = load_f(a.dir, "val_q"), load_f(a.dir, "val_code")
    zero = torch.zeros(W.shape[1])
    res = dict(val_replaced_head=val_mrr(W, zero, vq, vc), val_refit_float=val_mrr(r["W"], zero, vq, vc),
               val_refit_int8=val_mrr(deq, zero, vq, vc), graphs=sorted(at), rel_change=float((deq - W).norm() / W.norm()))
    json.dump(res, open(os.path.join(a.run, "write.json"), "w"), indent=1)
    print(json.dumps(res))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    required = {"ids": "data out val-config", "graph": "dir", "corpus": "data out", "ext-ids": "data dir index corpus-map",
                "refit": "dir out", "write": "refit dir out run"}
    p = {}
    for cmd, names in required.items():
        p[cmd] = sub.add_parser(cmd)
        for n in names.split():
            p[cmd].add_argument("--" + n, required=True)
    p["ext-ids"].add_argument("--limit", type=int, default=0)
    p["ext-ids"].add_argument("--seed", type=int, default=0)
    p["ext-ids"].add_argument("--members", action="store_true", help="a packed chunk's members apart, as the "
                              "extension embeds them -> train_mcode")
    for cmd in ("ids", "graph", "ext-ids", "write"):
        p[cmd].add_argument("--model", default=MODEL, help="the model folder whose encoder gives the features "
                            "(default kernels/model)")
    r = p["refit"]
    r.add_argument("--epochs", type=int, default=10)
    r.add_argument("--batch", type=int, default=1024)
    r.add_argument("--lr", type=float, default=3e-4)
    r.add_argument("--tau", type=float, default=0.05)
    r.add_argument("--l2", type=float, default=0.0)
    r.add_argument("--bias", action="store_true")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--init-model", default=None, help="model folder whose head to start from (default kernels/model; "
                   "version 27 was refit from run 18's: `git show 8581626:kernels/model/...`)")
    r.add_argument("--xcode-pairs", action="store_true", help="only the pairs ext-ids kept, in its order (to compare "
                   "code sides on the same pairs and steps)")
    r.add_argument("--code", default="train_code", help="train_code (function alone) or train_xcode (ext-ids)")
    a = ap.parse_args()
    {"ids": cmd_ids, "graph": cmd_graph, "refit": cmd_refit, "write": cmd_write, "ext-ids": cmd_ext_ids, "corpus": cmd_corpus}[a.cmd](a)


if __name__ == "__main__":
    main()
