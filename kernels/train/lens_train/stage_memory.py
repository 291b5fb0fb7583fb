"""The recipe stage `memory` (issue 24): recall training of the compressive memory from a model folder and its
probes, memory on against ablated (memory_recall.py, memory_probes.py). Settings (a recipe's stage entry):
  init_model   the model folder to start from (default kernels/model)
  shard        the data stage's folder holding files.jsonl.xz and val.jsonl.xz (default "shard")
  recall       memory_recall's settings: segments_per_step, curriculum, mask_p, splice_p, passkey_p, max_facts,
               warmup, attn
  defaults, variants   each variant's settings (rule, train, learning rates, beta0, recall_w, minutes, seed)
  parallel     true: the variants train at once, one process each on the one GPU (a small model leaves it idle
               most of a step), and their probes likewise
  probes       memory_probes' arguments: trials ("16:40,64:16"), code_trials, long ("256:6,1024:3"), seconds
               (what the probes need, for the deadline), quick (the CPU smoke)
  max_steps    (smoke) stop each variant after this many steps
Outputs: OUT/memory/prep/ (token streams, name banks), OUT/memory/<variant>/ckpt.pt (packed int8), train_log.json,
probe.json; the manifest's metrics hold each variant's training summary and probe numbers."""
import json
import os
import subprocess
import sys

from .recipe import ROOT, TRAIN, sha256

OVERHEAD_S = 90          # a call's start (model load, CUDA) and save, on top of its minutes (as stages.py)


def repo_path(p):
    return p if os.path.isabs(p) else os.path.join(ROOT, p)


def _procs(ctx, jobs):
    """Run {name: argv} at once (python3 -m lens_train.X ...), each logging to OUT/memory/<name>.log; a failure
    of any stops the run after all have ended."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "4"))
    running = {}
    for name, argv in jobs.items():
        log = open(ctx.path(name + ".log"), "a")
        log.write("$ " + " ".join(argv) + "\n")
        log.flush()
        running[name] = (subprocess.Popen([sys.executable, "-m", *argv], cwd=TRAIN, env=env, stdout=log,
                                          stderr=subprocess.STDOUT), log)
    failed = []
    for name, (p, log) in running.items():
        try:                                   # killed 20 s before the deadline, so the call still packs what it has
            rc = p.wait(timeout=max(1.0, ctx.left() - 20) if ctx.deadline else None)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = f"killed at the deadline {p.wait()}"
        if rc != 0:
            failed.append(f"{name} (exit {rc}, log {log.name})")
        log.close()
    if failed:
        raise RuntimeError("memory: " + ", ".join(failed))


def memory(ctx):
    c = ctx.cfg
    model = ctx.input("init_model", repo_path(c.get("init_model", "kernels/model")))
    shard = ctx.stage_out("data", c.get("shard", "shard"))
    prep = ctx.path("prep")
    conf = ctx.path("config.json")
    json.dump(dict(c["recall"], defaults=c["defaults"], variants=c["variants"]), open(conf, "w"), indent=1)
    ctx.step("prep", lambda: ctx.py("memory_recall", "--prep", "--data", shard, "--model-dir", model, "--out", prep))
    names = sorted(c["variants"])
    minutes = {v: dict(c["defaults"], **c["variants"][v])["minutes"] for v in names}
    steps = ["--max-steps", str(c["max_steps"])] if c.get("max_steps") else []

    def train(vs):
        _procs(ctx, {f"train_{v}": ["lens_train.memory_recall", "--recipe", conf, "--variant", v, "--model-dir", model,
                                    "--prep-dir", prep, "--out", ctx.path(v), *steps] for v in vs})
        out = {}
        for v in vs:
            s = json.load(open(ctx.path(v, "train_log.json")))["summary"]
            out[v] = dict(steps=s["steps"], tokens=s["tokens"], seconds=s["sec"], card=s["card"],
                          ckpt_sha256=sha256(ctx.path(v, "ckpt.pt")))
        return out

    p = c.get("probes", {})
    args = ["--trials", p.get("trials", "16:40,64:16"), "--code-trials", str(p.get("code_trials", 20)),
            "--long", p.get("long", ""), *(["--quick"] if p.get("quick") else [])]

    def probe(vs):
        _procs(ctx, {f"probe_{v}": ["lens_train.memory_probes", "--ckpt", ctx.path(v, "ckpt.pt"), "--model-dir", model,
                                    "--prep-dir", prep, "--out", ctx.path(v, "probe.json"), *args] for v in vs})
        return {v: json.load(open(ctx.path(v, "probe.json"))) for v in vs}

    groups = [names] if c.get("parallel") else [[v] for v in names]
    trained, probed = {}, {}
    for g in groups:
        tag = "_".join(g)
        trained.update(ctx.step("train_" + tag, lambda g=g: train(g), need=60 * max(minutes[v] for v in g) + OVERHEAD_S))
        probed.update(ctx.step("probe_" + tag, lambda g=g: probe(g), need=p.get("seconds", 90)))
    return {v: dict(train=trained[v], probes={k: x for k, x in probed[v].items() if k not in ("share", "gates")},
                    gates=probed[v].get("gates"), share=probed[v].get("share")) for v in names}
