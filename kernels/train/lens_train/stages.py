"""The recipe's stages up to the int8 model: data, pairs, pretrain_mlm, contrastive, soup, int8 (the rest:
stages_post.py). Each is `stage(ctx) -> metrics`: it runs the package's command-line modules as steps (ctx.step:
done once, skipped when the run goes on), reads earlier stages through ctx.stage_out, and writes into ctx.dir.
Settings come from the recipe's entry for the stage (ctx.cfg); see kernels/train/README.md for each key."""
import json
import os
import shutil
import subprocess
import sys

from .recipe import ROOT, TRAIN, copy_tree, sha256
from .stages_post import card, export, fixtures, head_refit  # noqa: F401  (the runner looks stages up here)
from .stage_memory import memory  # noqa: F401  (issue 24: recall training of the memory, its own recipes)

OVERHEAD_S = 90          # a training call's start (tokenizing its stream) and save, on top of its minutes


def repo_path(p):
    return p if os.path.isabs(p) else os.path.join(ROOT, p)


def gpus_here():
    try:
        import torch
        return torch.cuda.device_count()
    except ImportError:
        return 0


def check_gpus(ctx, n):
    have = gpus_here()
    if n > 1 and have < n:
        raise SystemExit(f"{ctx.name}: the recipe asks for {n} GPUs, this machine has {have} (kind nvidia-h100-x{n})")


def shard_counts(d):
    from .data import read_jsonl_xz
    out = {}
    for name in ("files", "pairs", "pairs_val"):
        p = os.path.join(d, name + ".jsonl.xz")
        if os.path.exists(p):
            rows = read_jsonl_xz(p)
            out[name] = len(rows)
            if name == "files":
                out["train_files"] = sum(r["split"] == "train" for r in rows)
                out["bytes"] = sum(len(r["text"].encode("utf-8", "surrogatepass")) for r in rows)
    return out


def data(ctx):
    """The shard (OUT/data/shard): built from the allowed sources (source "allowed": build_corpus.sh + build_shard,
    the sources left in `work` for the stages that read more of them), taken from folders (source "folder": .data
    and a masked-token shard .mlmdata carried to the GPU machine -> OUT/data/mlm) or synthetic (the smoke recipe)."""
    c, shard, mlm = ctx.cfg, ctx.path("shard"), ctx.path("mlm")
    if c["source"] == "synthetic":
        from .data import synthetic_shard, write_jsonl_xz

        def write():
            files, pairs, pairs_val = synthetic_shard(c.get("files", 300), c.get("seed", 0))
            os.makedirs(shard, exist_ok=True)
            for name, rows in (("files", files), ("pairs", pairs), ("pairs_val", pairs_val)):
                write_jsonl_xz(os.path.join(shard, name + ".jsonl.xz"), rows)
        ctx.step("synthetic", write)
    elif c["source"] == "folder":
        for name, key in (("shard", "shard"), ("mlm", "mlm")):
            if c.get(key):
                src = ctx.input(key, repo_path(c[key]))
                ctx.step("copy_" + key, lambda s=src, n=name: copy_tree(s, ctx.path(n)))
    elif c["source"] == "allowed":
        work = c.get("work", "/tmp/lens-data")
        ctx.step("corpus", lambda: ctx.sh(["bash", os.path.join(TRAIN, "data", "build_corpus.sh"), work], "corpus"))
        budget = ["--budget-mib", str(c["budget_mib"])] if c.get("budget_mib") else []
        ctx.step("shard", lambda: ctx.py("build_shard", "--work", work, "--out", shard, *budget))
    else:
        raise SystemExit(f"data: unknown source {c['source']!r} (allowed, folder, synthetic)")
    m = dict(shard=shard_counts(shard))
    if os.path.isdir(mlm):
        m["mlm"] = shard_counts(mlm)
    want = c.get("expect") or {}
    m["expect_met"] = all(m["shard"].get(k) == v for k, v in want.items())
    if not m["expect_met"]:
        print(f"WARNING data: the shard differs from the recipe's expectation {want}: {m['shard']}", flush=True)
    return m


def fill(args, ctx, extra):
    """Placeholders in a recipe's step arguments: {out} (this stage's folder), {shard}, {mlm}, {work}, ..."""
    return [a.format(out=ctx.dir, **extra) for a in args]


def pairs(ctx):
    """The training pack (OUT/pairs/pack): each recipe step is a package module (`module`) or a shell line
    (`sh`) with placeholders, run once."""
    extra = dict(shard=ctx.stage_out("data", "shard"), pack=ctx.path("pack"), train=TRAIN, root=ROOT,
                 work=ctx.cfg.get("work", "/tmp/lens-data"))
    for i, st in enumerate(ctx.cfg["steps"]):
        name = st.get("name", f"step{i}")
        if "module" in st:
            ctx.step(name, lambda st=st: ctx.py(st["module"], *fill(st.get("args", []), ctx, extra), log=name))
        else:
            ctx.step(name, lambda st=st: ctx.sh(["bash", "-c", st["sh"].format(out=ctx.dir, **extra)], log=name))
    stats = ctx.path("pack", "pack_stats.json")
    m = dict(pack=shard_counts(ctx.path("pack")))
    if os.path.exists(stats):
        m["pack_stats"] = {k: v for k, v in json.load(open(stats)).items() if k != "bytes"}
    return m


def tokenizer(ctx):
    return ctx.input("tokenizer", repo_path(ctx.recipe["tokenizer"]))


def pretrain_mlm(ctx):
    """Masked-token calls in order, each one process (torchrun on several GPUs) of `minutes`, each from the one
    before (the first from `init_model`, a model folder, or from scratch): OUT/pretrain_mlm/calls/NAME/. A call on
    shard "mlm" (every allowed file, build_mlm_shard) reads data's carried one or builds it once here from
    `mlm_shard.work`, the sources the data stage downloaded."""
    c, tok = ctx.cfg, tokenizer(ctx)
    prev = None
    if c.get("init_model"):
        prev = ("--init-model", ctx.input("init_model", repo_path(c["init_model"])))
    summaries = []
    for call in c["calls"]:
        d = ctx.path("calls", call["name"])
        mlm = dict(c["mlm"], **call.get("mlm", {}))
        conf = dict(model=dict(ctx.recipe["model"], **c.get("model", {})), train=dict(seed=c["seed"], mlm=mlm))
        shard = ctx.stage_out("data", "shard")
        if call.get("shard") == "mlm":                     # every allowed file: data's carried one, or built here
            shard = ctx.stage_out("data", "mlm")
            if not os.path.isdir(shard):
                shard, work = ctx.path("mlm"), c.get("mlm_shard", {}).get("work", "/tmp/lens-data")
                ctx.step("mlm_shard", lambda: ctx.py("build_mlm_shard", "--work", work, "--out", ctx.path("mlm")))
        gpus = call.get("gpus", 1)

        def run_call(d=d, conf=conf, shard=shard, gpus=gpus, prev=prev, call=call, mlm=mlm):
            check_gpus(ctx, gpus)
            os.makedirs(d, exist_ok=True)
            json.dump(conf, open(os.path.join(d, "config.json"), "w"), indent=1)
            ctx.py("pretrain_mlm", "--config", os.path.join(d, "config.json"), "--tokenizer", tok, "--data", shard,
                   "--out", d, *(prev or ()), *c.get("args", []), *call.get("args", []), gpus=gpus,
                   log="call_" + call["name"])
            s = json.load(open(os.path.join(d, "mlm_log.json")))["summary"]
            return dict(ckpt_sha256=sha256(os.path.join(d, "ckpt_mlm.pt")), card=s.get("card"), steps=s["steps"],
                        tokens=s["tokens"], seconds=round(s["sec"], 1),
                        tokens_per_s=round(s["tokens_per_s"]), mfu_vs_989_tflops=round(s["mfu_vs_989tflops"], 4),
                        stream_tokens=s["stream_tokens"], resumed=bool(prev) and prev[0] == "--resume",
                        sequence=f"{mlm['nseg']} segments x {conf['model']['seg_len']} tokens, {mlm['seqs']} "
                                 f"sequences a step, memory on", gpus=gpus, name=call["name"], seed=s["seed"],
                        **({"init_model": c["init_model"]} if prev and prev[0] == "--init-model" else {}))
        summaries.append(ctx.step("call_" + call["name"], run_call, need=60 * mlm["minutes"] + OVERHEAD_S))
        if prev and prev[0] == "--resume":                 # only the newest checkpoint travels (64 MiB carry)
            for f in (prev[1], os.path.join(os.path.dirname(prev[1]), "val_stream.npy")):
                if os.path.exists(f):
                    os.remove(f)
        prev = ("--resume", os.path.join(d, "ckpt_mlm.pt"))
    shutil.copyfile(prev[1], ctx.path("ckpt_mlm.pt"))
    return dict(calls=summaries, tokens=sum(s["tokens"] for s in summaries),
                seconds=round(sum(s["seconds"] for s in summaries), 1),
                gpu_seconds=round(sum(s["seconds"] * max(1, s["gpus"]) for s in summaries), 1))


def contrastive(ctx):
    """Contrastive training of every seed from the last masked-token checkpoint (or `init_model`, a model folder),
    as many at once as there are GPUs (one each; on a CPU one after another): OUT/contrastive/NAME/ (ckpt.pt,
    train_log.json)."""
    c, tok = ctx.cfg, tokenizer(ctx)
    pack = ctx.stage_out("pairs", "pack")
    if c.get("init_model"):                                # from a model folder's weights (e.g. kernels/model)
        init, start = ctx.input("init_model", repo_path(c["init_model"])), []
    else:                                                  # from the last masked-token checkpoint
        init, start = ctx.path("init"), ["--resume", ctx.stage_out("pretrain_mlm", "ckpt_mlm.pt")]
        os.makedirs(init, exist_ok=True)
        shutil.copyfile(tok, os.path.join(init, "tokenizer.json"))
    n = max(1, gpus_here()) * c.get("per_gpu", 1)
    seeds = c["seeds"]
    for w in range(0, len(seeds), n):
        wave = seeds[w:w + n]

        def run_wave(wave=wave):
            procs = []
            for i, s in enumerate(wave):
                d = ctx.path(s["name"])
                os.makedirs(d, exist_ok=True)
                conf = dict(model=ctx.recipe["model"], chunks=dict(c["chunks"], seed=s["seed"], name=s["name"]))
                json.dump(conf, open(os.path.join(d, "config.json"), "w"), indent=1)
                cmd = [sys.executable, "-m", "lens_train.train_chunks", "--config", os.path.join(d, "config.json"),
                       "--init", init, "--out", d, "--data", pack, *start, *c.get("args", [])]
                env = dict(os.environ, PYTHONUNBUFFERED="1")
                if gpus_here():
                    env["CUDA_VISIBLE_DEVICES"] = str(i % gpus_here())
                log = open(ctx.path(s["name"] + ".log"), "w")
                procs.append((s["name"], subprocess.Popen(cmd, cwd=TRAIN, env=env, stdout=log, stderr=subprocess.STDOUT)))
            bad = [name for name, p in procs if p.wait() != 0]
            if bad:
                raise RuntimeError(f"contrastive: seed(s) {bad} failed (logs: {ctx.dir}/<seed>.log)")
            return [summary(ctx.path(s["name"])) for s in wave]
        ctx.step("seeds_" + "_".join(s["name"] for s in wave), run_wave,
                 need=60 * c["chunks"]["minutes"] + OVERHEAD_S)
    return dict(seeds=[summary(ctx.path(s["name"])) for s in seeds])


def summary(d):
    s = json.load(open(os.path.join(d, "train_log.json")))["summary"]
    return {k: s.get(k) for k in ("steps", "sec", "val_mrr10_best", "val_mrr10_rounded_fp16", "best_step",
                                  "tokens_per_s", "card")}


def soup(ctx):
    """soup.py over the seeds: every single run, the uniform and the greedy soup, the best on val kept."""
    c = ctx.manifest_of("contrastive")["settings"]
    runs = [ctx.stage_out("contrastive", s["name"]) for s in c["seeds"]]
    ctx.step("soup", lambda: ctx.py("soup", "--runs", *runs, "--data", ctx.stage_out("pairs", "pack"), "--config",
                                    os.path.join(runs[0], "config.json"), "--out", ctx.path("run"),
                                    *ctx.cfg.get("args", [])),
             need=ctx.cfg.get("need_s", 120))
    s = json.load(open(ctx.path("run", "soup.json")))
    return {k: s[k] for k in ("chosen", "chosen_members", "greedy_members", "best_single", "candidates")}


def int8(ctx):
    """Every matrix of the soup rounded to int8 codes x a float32 scale per row (quant8 round), then the graphs
    and one weights.bin (export): OUT/int8/model, with the config in a first model-card.json."""
    run, model = ctx.path("run"), ctx.path("model")

    def rnd():
        copy_tree(ctx.stage_out("soup", "run"), run)
        ctx.py("quant8", "round", "--run", run)
        return json.load(open(os.path.join(run, "int8_round.json")))
    r = ctx.step("round", rnd)
    prec = ctx.cfg.get("precisions", "fp32,fp16")
    ctx.step("export", lambda: ctx.py("export", "--run", run, "--out", model, "--precisions", prec),
             need=ctx.cfg.get("export_s", 300))
    import torch
    cfg = torch.load(os.path.join(run, "ckpt.pt"), map_location="cpu")["config"]
    shutil.copyfile(os.path.join(run, "tokenizer.json"), os.path.join(model, "tokenizer.json"))
    json.dump(dict(config=cfg), open(os.path.join(model, "model-card.json"), "w"), indent=1)
    return dict(round={k: r[k] for k in ("params", "int8", "int8_share", "max_rel_change")},
                weights_bytes=os.path.getsize(os.path.join(model, "weights.bin")))
