"""The recipe's stages after the int8 model: head_refit, export, fixtures, card (the earlier ones: stages.py).
Same form: `stage(ctx) -> metrics`, steps run once, settings from the recipe's entry (ctx.cfg)."""
import hashlib
import json
import os
import shutil
import subprocess

from .recipe import ROOT, TRAIN, copy_tree, sha256


def pinned_model(ctx, pin):
    """A model folder from git blobs (pin["files"]: name -> blob hash, read with `git cat-file`), each checked
    against pin["sha256"][name] where given: the recipe's named input when the stage before it did not run here."""
    d = ctx.path("input_model")
    os.makedirs(d, exist_ok=True)
    for name, blob in sorted(pin["files"].items()):
        data = subprocess.run(["git", "-C", ROOT, "cat-file", "blob", blob], check=True, capture_output=True).stdout
        want = pin.get("sha256", {}).get(name)
        got = hashlib.sha256(data).hexdigest()
        if want and got != want:
            raise SystemExit(f"{ctx.name}: git blob {blob} ({name}) has sha256 {got}, the recipe says {want}")
        with open(os.path.join(d, name), "wb") as fh:
            fh.write(data)
    return d


def model_input(ctx):
    """The model folder this stage starts from: the `from` stage's OUT/<from>/model when that stage ran in this
    run folder, else the recipe's pinned git blobs."""
    m = ctx.cfg["model"]
    if m.get("from") and ctx.has(m["from"]):
        return ctx.stage_out(m["from"], "model")
    if not m.get("pinned"):
        raise SystemExit(f"{ctx.name}: stage '{m.get('from')}' has not run here and the recipe pins no model")
    d = pinned_model(ctx, m["pinned"])
    ctx.input("model", d)
    return d


def node(ctx, args, log):
    ctx.sh(["node", *args], log=log, cwd=ROOT)


def head_refit(ctx):
    """W_e refit on the frozen encoder's features (head_refit.py, features.mjs): ids, feature graph, features of
    the val set and the train queries, optionally the code side as the extension chunks it (ext-ids: a lexical
    index of the pairs' files by the extension's CLI), refit from the input model's head, write into a copy of the
    input model folder: OUT/head_refit/model and OUT/head_refit/run/ckpt.pt."""
    c, shard, hr = ctx.cfg, ctx.stage_out("data", "shard"), ctx.path("work")
    model = model_input(ctx)
    os.makedirs(hr, exist_ok=True)
    val = ctx.path("val.json")
    json.dump(dict(chunks=c["val"]), open(val, "w"), indent=1)
    feats = os.path.join(TRAIN, "features.mjs")
    ctx.step("ids", lambda: ctx.py("head_refit", "ids", "--data", shard, "--out", hr, "--val-config", val,
                                   "--model", model))
    ctx.step("graph", lambda: ctx.py("head_refit", "graph", "--dir", hr, "--model", model))
    ctx.step("features", lambda: node(ctx, ["--import", "tsx", feats, hr, "val_q", "val_code", "train_q"], "features"),
             need=c.get("features_s", 0))
    code = c["refit"].get("code", "train_code")
    if code == "train_code":
        ctx.step("features_code", lambda: node(ctx, ["--import", "tsx", feats, hr, "train_code"], "features"))
    else:
        x = c["ext_ids"]
        corpus, idx = ctx.path("corpus"), ctx.path("index")
        ctx.step("corpus", lambda: ctx.py("head_refit", "corpus", "--data", shard, "--out", corpus))
        if not os.path.exists(os.path.join(ROOT, "dist", "cli.js")):
            ctx.step("build_cli", lambda: node(ctx, ["scripts/build.mjs", "--quiet"], "build"))
        ctx.step("index", lambda: node(ctx, ["dist/cli.js", "index", corpus, "--index-dir", idx], "index"))
        ctx.step("ext_ids", lambda: ctx.py("head_refit", "ext-ids", "--data", shard, "--dir", hr, "--index",
                                           os.path.join(idx, "index.sqlite"), "--corpus-map", corpus + ".map.json",
                                           "--limit", str(x["limit"]), "--seed", str(x["seed"]), "--model", model,
                                           *(["--members"] if x.get("members") else [])))
        ctx.step("features_" + code, lambda: node(ctx, ["--import", "tsx", feats, hr, code], "features"))
    r = c["refit"]
    flags = [f"--{k.replace('_', '-')}" for k in ("bias", "xcode_pairs") if r.get(k)]
    ctx.step("refit", lambda: ctx.py("head_refit", "refit", "--dir", hr, "--out", os.path.join(hr, "refit.pt"),
                                     "--code", code, "--batch", str(r["batch"]), "--lr", str(r["lr"]),
                                     "--epochs", str(r["epochs"]), "--tau", str(r.get("tau", 0.05)),
                                     "--l2", str(r.get("l2", 0.0)), "--seed", str(r.get("seed", 0)),
                                     "--init-model", model, *flags))
    ctx.step("write", lambda: ctx.py("head_refit", "write", "--refit", os.path.join(hr, "refit.pt"), "--dir", hr,
                                     "--out", ctx.path("model"), "--run", ctx.path("run"), "--model", model))
    fit = json.load(open(os.path.join(hr, "refit.json")))
    ext = json.load(open(os.path.join(hr, code + ".json"))) if code != "train_code" else None
    if ext:
        ext["tokens_m"] = round(ext["tokens"] / 1e6, 2)
    meta = json.load(open(os.path.join(hr, "meta.json")))
    return dict(write=json.load(open(ctx.path("run", "write.json"))), refit=fit,
                sequences=dict(val_pairs=meta["val_pairs"], val_distract=meta["val_distract"],
                               train_pairs=meta["train_pairs"]),
                ext_ids=ext)


def compare(built, shipped):
    """File by file: equal bytes or not, with sizes and hashes."""
    res = {}
    for f in sorted(os.listdir(built)):
        b, s = os.path.join(built, f), os.path.join(shipped, f)
        if not os.path.isfile(b) or not os.path.exists(s):
            continue
        res[f] = dict(equal=open(b, "rb").read() == open(s, "rb").read(), bytes=os.path.getsize(b),
                      bytes_shipped=os.path.getsize(s), sha256=sha256(b), sha256_shipped=sha256(s))
    return res


def export(ctx):
    """The model folder to ship (OUT/export/model): the graphs as the int8 stage exported them and the final
    weights.bin (the head refit writes W_e at the offsets every graph reads, graphs unchanged); each file's size
    and hash, and where the recipe names one, a byte-for-byte comparison with a shipped folder."""
    src = ctx.stage_out(ctx.cfg.get("from", "head_refit"), "model")
    copy_tree(src, ctx.path("model"))
    for f in ("model-card.json", "MODEL_CARD.md"):                          # the card stage writes these
        if os.path.exists(ctx.path("model", f)):
            os.remove(ctx.path("model", f))
    files = {f: dict(bytes=os.path.getsize(ctx.path("model", f)), sha256=sha256(ctx.path("model", f)))
             for f in sorted(os.listdir(ctx.path("model")))}
    m = dict(files=files, total_bytes=sum(v["bytes"] for v in files.values()))
    if ctx.cfg.get("compare"):
        m["compare"] = compare(ctx.path("model"), os.path.join(ROOT, ctx.cfg["compare"]))
        m["all_equal"] = all(v["equal"] for v in m["compare"].values())
    return m


def fixtures(ctx):
    """fixtures.py --graphs: float64 PyTorch outputs of every graph for fixed inputs (test/fixtures/model's form),
    and where the recipe names the shipped fixtures, the largest difference from them."""
    run = ctx.stage_out(ctx.cfg.get("run_from", "head_refit"), "run")
    model = ctx.stage_out("export", "model")
    out = ctx.path("fixtures")
    ctx.step("graphs", lambda: ctx.py("fixtures", "--graphs", "--run", run, "--model", model, "--out", out),
             need=ctx.cfg.get("need_s", 0))
    m = dict(equivalence=json.load(open(os.path.join(run, "equivalence.json"))))
    if ctx.cfg.get("compare"):
        import numpy as np
        ref = os.path.join(ROOT, ctx.cfg["compare"])
        diffs = {}
        for g, entry in json.load(open(os.path.join(out, "graphs.json"))).items():
            for k, o in (entry.get("outputs", {}) if isinstance(entry, dict) else {}).items():
                a, b = os.path.join(out, o["file"]), os.path.join(ref, o["file"])
                if not os.path.exists(b):
                    continue
                x, y = np.fromfile(a, dtype=o["dtype"]), np.fromfile(b, dtype=o["dtype"])
                diffs[f"{g}.{k}"] = (float(np.abs(x.astype(np.float64) - y).max()) if x.shape == y.shape
                                     else "shape differs")
        m["max_abs_diff_vs_shipped"] = diffs
    return m


def card(ctx):
    """model-card.json and MODEL_CARD.md generated from the recipe and the manifests (lens_train/card.py), and
    where the recipe names the shipped card, the fields that differ from it."""
    from .card import build
    man = {s["stage"]: (ctx.manifest_of(s["stage"]) if ctx.has(s["stage"]) else None)
           for s in ctx.recipe["stages"] if s["stage"] != "card"}
    js, md = build(ctx.recipe, man, ctx.cfg, read=lambda p: ctx.input(os.path.basename(p), os.path.join(ROOT, p)))
    json.dump(js, open(ctx.path("model-card.json"), "w"), indent=1, ensure_ascii=False)
    open(ctx.path("MODEL_CARD.md"), "w").write(md)
    m = dict(ran=sorted(s for s, v in man.items() if v), recorded=sorted(s for s, v in man.items() if not v))
    if ctx.cfg.get("compare"):
        from .card import differences
        ref = os.path.join(ROOT, ctx.cfg["compare"])
        m["json_differences"] = differences(json.load(open(os.path.join(ref, "model-card.json"))), js)
        m["md_equal"] = open(os.path.join(ref, "MODEL_CARD.md")).read() == md
    if ctx.cfg.get("install"):                                              # ship: the card beside the model
        for f in ("model-card.json", "MODEL_CARD.md"):
            shutil.copyfile(ctx.path(f), os.path.join(ROOT, ctx.cfg["install"], f))
    return m
