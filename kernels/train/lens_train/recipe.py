"""The recipe runner. A recipe (kernels/train/recipes/*.json) names a model's stages in order with their settings;
`run` executes them, each in OUT/<stage>/, and writes OUT/<stage>/manifest.json: the recipe's settings for it, the
hashes of what it read (files it was given, the manifests of the stages it read from), what it measured, the
files it made, and the wall time of each step.

Resume: a stage whose manifest exists with the same settings and the same upstream manifests is done and skipped;
a stage stopped part-way keeps its finished steps (OUT/<stage>/steps.json) and goes on from the next one. Deadline:
a step states the seconds it needs (a masked-token call, a contrastive seed, ...) and is not begun when less is
left: the runner stops with exit code 3 (`STOPPED`), and the same command later goes on. One GPU command may run
10 minutes, so a recipe's GPU steps are each shorter than that.
"""
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time

TRAIN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))     # kernels/train
ROOT = os.path.dirname(os.path.dirname(TRAIN))                           # the repository
STAGES = ("data", "pairs", "pretrain_mlm", "memory", "contrastive", "soup", "int8", "head_refit", "export", "fixtures", "card")
STOPPED = 3                                                              # exit code: deadline reached, call again


class Deadline(Exception):
    """A step would not finish by the deadline: nothing of it was started."""


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for b in iter(lambda: fh.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def tree_hash(path):
    """sha256 of a file, or of a folder's files (their relative paths and hashes, sorted)."""
    if os.path.isfile(path):
        return sha256(path)
    h = hashlib.sha256()
    for d, _, fs in sorted(os.walk(path)):
        for f in sorted(fs):
            p = os.path.join(d, f)
            h.update(f"{os.path.relpath(p, path)} {sha256(p)}\n".encode())
    return h.hexdigest()


def load_recipe(path):
    r = json.load(open(path))
    names = [s["stage"] for s in r["stages"]]
    unknown = [n for n in names if n not in STAGES]
    if unknown:
        raise SystemExit(f"{path}: unknown stage(s) {unknown}; stages are {', '.join(STAGES)}")
    if names != sorted(names, key=STAGES.index) or len(set(names)) != len(names):
        raise SystemExit(f"{path}: stages out of order or repeated: {names}; the order is {', '.join(STAGES)}")
    return r


class Ctx:
    """What a stage sees: its settings, its folder, the other stages' outputs, the deadline, and runners for the
    package's command-line modules."""

    def __init__(self, recipe, recipe_path, out, stage, deadline):
        self.recipe, self.recipe_path, self.out, self.name = recipe, recipe_path, out, stage["stage"]
        self.cfg = stage
        self.dir = os.path.join(out, self.name)
        self.deadline = deadline
        self.read = {}                                                   # upstream stage -> its manifest's sha256
        self.inputs = {}                                                 # name -> {path, sha256}
        os.makedirs(self.dir, exist_ok=True)
        self.steps_path = os.path.join(self.dir, "steps.json")
        self.steps = json.load(open(self.steps_path)) if os.path.exists(self.steps_path) else {}
        self.settings = dict(stage, recipe_model=recipe.get("model"), recipe_tokenizer=recipe.get("tokenizer"))
        key = hashlib.sha256(json.dumps(self.settings, sort_keys=True).encode()).hexdigest()
        if self.steps.pop("settings", key) != key:                      # steps of other settings: start over
            self.steps = {}
        self.key = key

    def left(self):
        return self.deadline - time.time() if self.deadline else float("inf")

    def need(self, seconds, what):
        if self.left() < seconds:
            raise Deadline(f"{self.name}: {what} needs {seconds:.0f} s, {self.left():.0f} s left")

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def stage_out(self, stage, *p):
        """A file or folder of an earlier stage's output; that stage's manifest is recorded as read."""
        m = os.path.join(self.out, stage, "manifest.json")
        if not os.path.exists(m):
            raise SystemExit(f"{self.name} reads stage '{stage}', which has not run in {self.out}: run it first "
                             f"(reproduce.py ... --from-stage {stage})")
        self.read[stage] = sha256(m)
        return os.path.join(self.out, stage, *p)

    def manifest_of(self, stage):
        return json.load(open(self.stage_out(stage, "manifest.json")))

    def has(self, stage):
        return os.path.exists(os.path.join(self.out, stage, "manifest.json"))

    def input(self, name, path):
        """A file or folder this stage reads from outside the run folder: its hash goes into the manifest."""
        self.inputs[name] = dict(path=os.path.relpath(path, ROOT) if path.startswith(ROOT) else path,
                                 sha256=tree_hash(path))
        return path

    def step(self, name, fn, need=0):
        """Run fn() once: a step finished in an earlier call is skipped (its result kept in steps.json)."""
        if name in self.steps:
            return self.steps[name]["result"]
        self.need(need, name)
        t0 = time.time()
        print(f"--- {self.name}/{name} ({time.strftime('%H:%M:%S')})", flush=True)
        res = fn()
        self.steps[name] = dict(seconds=round(time.time() - t0, 1), result=res)
        json.dump(dict(self.steps, settings=self.key), open(self.steps_path, "w"), indent=1)
        return res

    def sh(self, cmd, log=None, env=None, cwd=TRAIN, timeout=None):
        """Run a command (its output to the console and to OUT/<stage>/<log>.log); a failure stops the run."""
        e = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        logf = open(self.path((log or "cmd") + ".log"), "a")
        logf.write("$ " + " ".join(map(str, cmd)) + "\n")
        logf.flush()
        p = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, errors="replace")
        for line in p.stdout:
            sys.stdout.write(line)
            logf.write(line)
        rc = p.wait(timeout)
        logf.close()
        if rc != 0:
            raise RuntimeError(f"{self.name}: exit code {rc}: {' '.join(map(str, cmd))} (log: {logf.name})")

    def py(self, module, *args, gpus=1, log=None, env=None):
        """python3 -m lens_train.MODULE ARGS, or on several GPUs one process a GPU through torchrun."""
        launch = [sys.executable]
        if gpus > 1:
            launch += ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(gpus)]
        self.sh(launch + ["-m", "lens_train." + module, *args], log=log or module.replace(".", "_"), env=env)


def host():
    h = dict(python=platform.python_version(), machine=platform.machine(), cpus=os.cpu_count())
    try:
        import torch
        h.update(torch=torch.__version__, gpus=torch.cuda.device_count())
        if torch.cuda.is_available():
            h["gpu"] = torch.cuda.get_device_name()
    except ImportError:
        pass
    return h


def outputs(d):
    """Every file a stage left in its folder (manifest and logs aside), with its size and hash."""
    res = {}
    for dd, _, fs in sorted(os.walk(d)):
        for f in sorted(fs):
            p = os.path.join(dd, f)
            rel = os.path.relpath(p, d)
            if rel in ("manifest.json", "steps.json") or rel.endswith(".log"):
                continue
            res[rel] = dict(bytes=os.path.getsize(p), sha256=sha256(p))
    return res


def is_done(ctx):
    """The stage's manifest exists with today's settings, the same upstream manifests and the same input files."""
    m = ctx.path("manifest.json")
    if not os.path.exists(m):
        return False
    man = json.load(open(m))
    if man.get("settings") != ctx.settings:
        return False
    if not all(os.path.exists(os.path.join(ctx.out, s, "manifest.json"))
               and sha256(os.path.join(ctx.out, s, "manifest.json")) == h for s, h in man.get("read", {}).items()):
        return False
    for i in man.get("inputs", {}).values():                             # files from outside: unchanged?
        p = i["path"] if os.path.isabs(i["path"]) else os.path.join(ROOT, i["path"])
        if not os.path.exists(p) or tree_hash(p) != i["sha256"]:
            return False
    return True


def run(impl, recipe_path, out, from_stage=None, to_stage=None, deadline_s=0, force=False):
    """Run the recipe's stages from `from_stage` (default: the first) to `to_stage` (default: the last), each by
    the function of its name in `impl` (lens_train.stages); returns the exit code: 0 done, STOPPED at the deadline."""
    recipe = load_recipe(recipe_path)
    names = [s["stage"] for s in recipe["stages"]]
    for s in (from_stage, to_stage):
        if s and s not in names:
            raise SystemExit(f"no stage '{s}' in {recipe_path}: its stages are {', '.join(names)}")
    lo = names.index(from_stage) if from_stage else 0
    hi = names.index(to_stage) + 1 if to_stage else len(names)
    deadline = time.time() + deadline_s if deadline_s else 0
    os.makedirs(out, exist_ok=True)
    T0 = time.time()
    for st in recipe["stages"][lo:hi]:
        ctx = Ctx(recipe, recipe_path, out, st, deadline)
        if not force and is_done(ctx):
            print(f"=== {ctx.name}: done before (OUT/{ctx.name}/manifest.json)", flush=True)
            continue
        if force or os.path.exists(ctx.path("manifest.json")):          # a finished stage reruns from its start
            for f in ("manifest.json", "steps.json"):
                if os.path.exists(ctx.path(f)):
                    os.remove(ctx.path(f))
            ctx.steps = {}
        print(f"=== {ctx.name} ({time.strftime('%H:%M:%S')}, {ctx.left():.0f} s left)", flush=True)
        t0 = time.time()
        try:
            metrics = getattr(impl, ctx.name)(ctx)
        except Deadline as e:
            print(f"STOPPED at the deadline: {e}. Run the same command again to go on.", flush=True)
            return STOPPED
        man = dict(stage=ctx.name, recipe=dict(path=os.path.relpath(os.path.abspath(recipe_path), ROOT),
                                               sha256=sha256(recipe_path), name=recipe.get("name")),
                   settings=ctx.settings, read=ctx.read, inputs=ctx.inputs, metrics=metrics, outputs=outputs(ctx.dir),
                   steps={k: v["seconds"] for k, v in ctx.steps.items()}, wall_s=round(time.time() - t0, 1),
                   finished_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), host=host())
        json.dump(man, open(ctx.path("manifest.json"), "w"), indent=1)
        print(f"=== {ctx.name} done in {time.time() - t0:.0f} s: {json.dumps(metrics)[:400]}", flush=True)
    print(f"all asked stages done in {time.time() - T0:.0f} s: {out}", flush=True)
    return 0


def copy_tree(src, dst):
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
