"""The recipe runner (lens_train/recipe.py) and the package's shape: manifests, resume, deadline, card templates,
no import cycles, no sys.path tricks."""
import ast
import json
import os

import pytest

from lens_train import card, recipe, stages

TRAIN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(TRAIN, "lens_train")


def module_imports(path, name):
    """The lens_train modules one module imports, at its top or inside functions (relative or absolute)."""
    tree = ast.parse(open(path).read())
    pkg = name.rsplit(".", 1)[0] if not path.endswith("__init__.py") else name
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom):
            if n.level:
                base = pkg.split(".")[:len(pkg.split(".")) - (n.level - 1)]
                mod = ".".join(base + ([n.module] if n.module else []))
            else:
                mod = n.module or ""
            if mod.startswith("lens_train"):
                subs = [f"{mod}.{a.name}" for a in n.names]
                out |= {s for s in subs if s in ALL} or {mod}
        elif isinstance(n, ast.Import):
            out |= {a.name for a in n.names if a.name.startswith("lens_train")}
    return {m for m in out if m in ALL and m != name}


def package_modules():
    mods = {}
    for d, _, fs in os.walk(PKG):
        for f in fs:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(d, f), TRAIN)[:-3].replace(os.sep, ".")
                mods[rel[:-len(".__init__")] if rel.endswith(".__init__") else rel] = os.path.join(d, f)
    return mods


ALL = package_modules()


def find_cycle(graph):
    """A list of modules forming an import cycle, or None."""
    state = {}

    def visit(m, stack):
        state[m] = 1
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if not state.get(n):
                c = visit(n, stack + [n])
                if c:
                    return c
        state[m] = 2
        return None
    for m in sorted(graph):
        if not state.get(m):
            c = visit(m, [m])
            if c:
                return c
    return None


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a"}}) is None


def test_no_import_cycles_in_the_package():
    graph = {m: module_imports(p, m) for m, p in ALL.items()}
    assert graph["lens_train.chunks"] >= {"lens_train.data", "lens_train.lexical"}   # the parser sees imports
    assert find_cycle(graph) is None, find_cycle(graph)


def test_no_sys_path_tricks_and_cli_imports_only_the_package():
    for m, p in ALL.items():
        assert "sys.path.insert" not in open(p).read(), m
    tree = ast.parse(open(os.path.join(TRAIN, "reproduce.py")).read())
    local = {f[:-3] for f in os.listdir(TRAIN) if f.endswith(".py")}
    for n in ast.walk(tree):
        names = [a.name for a in n.names] if isinstance(n, ast.Import) else [n.module] if isinstance(n, ast.ImportFrom) else []
        assert not any(x.split(".")[0] in local for x in names), names


def test_tracked_file_budget():
    import subprocess
    files = subprocess.run(["git", "ls-files", "."], cwd=TRAIN, capture_output=True, text=True).stdout.split()
    if not files:
        pytest.skip("not a git checkout")
    assert len(files) <= 60, len(files)
    assert not [f for f in files if os.path.basename(f).startswith("model_card")]


def write_recipe(tmp_path, names, **extra):
    r = dict(name="t", version=1, command="x", model={}, stages=[dict(stage=n, **extra.get(n, {})) for n in names])
    p = tmp_path / "r.json"
    p.write_text(json.dumps(r))
    return str(p)


def test_runner_manifests_resume_and_deadline(tmp_path, monkeypatch):
    calls = []

    def data(ctx):
        ctx.step("make", lambda: open(ctx.path("x.txt"), "w").write("shard") and None)
        calls.append("data")
        return dict(n=1)

    def pairs(ctx):
        src = ctx.stage_out("data", "x.txt")
        for i in range(3):
            ctx.step(f"part{i}", lambda i=i: calls.append(f"part{i}") or i, need=100 if i == 2 else 0)
        return dict(read=open(src).read())
    monkeypatch.setattr(stages, "data", data)
    monkeypatch.setattr(stages, "pairs", pairs)
    rp, out = write_recipe(tmp_path, ["data", "pairs"], pairs=dict(k=1)), str(tmp_path / "out")
    assert recipe.run(stages, rp, out, deadline_s=50) == recipe.STOPPED      # part2 needs 100 s: not begun
    assert calls == ["data", "part0", "part1"]
    man = json.load(open(os.path.join(out, "data", "manifest.json")))
    assert man["metrics"] == dict(n=1) and man["outputs"]["x.txt"]["bytes"] == 5 and "make" in man["steps"]
    assert not os.path.exists(os.path.join(out, "pairs", "manifest.json"))
    assert recipe.run(stages, rp, out) == 0                                  # goes on: data done, part0/1 kept
    assert calls == ["data", "part0", "part1", "part2"]
    man = json.load(open(os.path.join(out, "pairs", "manifest.json")))
    assert man["metrics"] == dict(read="shard") and set(man["read"]) == {"data"}
    assert recipe.run(stages, rp, out) == 0 and len(calls) == 4              # everything up to date
    assert recipe.run(stages, rp, out, from_stage="pairs", force=True) == 0 and calls[-3:] == ["part0", "part1", "part2"]
    rp2 = write_recipe(tmp_path, ["data", "pairs"], pairs=dict(k=2))   # other settings: pairs reruns
    assert recipe.run(stages, rp2, out) == 0 and calls[-1] == "part2" and len(calls) == 10
    src = tmp_path / "input.txt"                                     # a file from outside the run folder
    src.write_text("one")
    monkeypatch.setattr(stages, "data", lambda ctx: dict(n=len(open(ctx.input("src", str(src))).read())))
    assert recipe.run(stages, rp, out, to_stage="data", force=True) == 0
    man = json.load(open(os.path.join(out, "data", "manifest.json")))
    assert man["metrics"] == dict(n=3) and man["inputs"]["src"]["path"] == str(src)
    src.write_text("three")                                          # changed: data and what reads it rerun
    assert recipe.run(stages, rp, out) == 0 and calls[-1] == "part2" and len(calls) == 13
    assert json.load(open(os.path.join(out, "data", "manifest.json")))["metrics"] == dict(n=5)
    with pytest.raises(SystemExit, match="has not run"):
        recipe.run(stages, rp, str(tmp_path / "other"), from_stage="pairs")
    with pytest.raises(SystemExit, match="out of order"):
        recipe.load_recipe(write_recipe(tmp_path, ["pairs", "data"]))


def test_card_placeholders():
    ctx = dict(version=27, export=dict(files={"weights.bin": dict(bytes=11200512)}), hr=dict(val=0.495612, log=[1, 2]))
    js = card.fill_json(dict(v="{{version}}", f="{{hr/val:4}}", l="{{hr/log}}", s="v{{version}} {{hr/val:.3f}}"), ctx)
    assert js == dict(v=27, f=0.4956, l=[1, 2], s="v27 0.496")
    assert card.fill_md("{{export/files/weights.bin/bytes:,}} bytes", ctx) == "11,200,512 bytes"
    with pytest.raises(KeyError, match="no 'hr/nope'"):
        card.fill_md("{{hr/nope}}", ctx)
    assert card.differences(dict(a=1, b=[1, 2]), dict(a=1, b=[1, 3])) == ["/b/1: shipped 2 generated 3"]


@pytest.mark.parametrize("name", ["smoke.json", "v27.json"])
def test_recipes_load(name):
    r = recipe.load_recipe(os.path.join(TRAIN, "recipes", name))
    assert [s["stage"] for s in r["stages"]] == [s for s in recipe.STAGES if s != "memory"]  # memory: recipes/mem24.json


def test_v27_pins_run_18s_int8_model_in_git():
    """The head refit's named input: every file of run 18's int8 model folder, by git blob, with its sha256."""
    import hashlib
    import subprocess
    r = recipe.load_recipe(os.path.join(TRAIN, "recipes", "v27.json"))
    pin = next(s for s in r["stages"] if s["stage"] == "head_refit")["model"]["pinned"]
    assert {"weights.bin", "query.fp32.onnx", "model-card.json", "tokenizer.json"} <= set(pin["files"])
    for name, blob in pin["files"].items():
        data = subprocess.run(["git", "cat-file", "blob", blob], cwd=TRAIN, capture_output=True).stdout
        if not data:
            pytest.skip("not a git checkout with history")
        assert hashlib.sha256(data).hexdigest() == pin["sha256"][name], name
