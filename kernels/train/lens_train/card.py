"""The model card, generated: model-card.json and MODEL_CARD.md from the recipe, the stages' manifests and two
templates the recipe names (card stage: "json_template", "md_template"). A template holds the card's text and the
records of measurements no stage makes (or the recipe's card stage holds them inline: "json", "md", a list of
lines) (the extension's dev and val evals, memory probes: each with its command);
every number a stage measures comes in through a placeholder:

  JSON: a string value "{{path}}" is replaced by the value itself (a number, a list, an object);
  Markdown: "{{path}}" or "{{path:FORMAT}}" by the value formatted with Python's format spec (e.g. ",", ".4f").

A path is '/'-separated keys from the context: `version`, `config`, `parameters`, `command`, `stages_run`,
`stages_recorded`, and each stage's metrics by its name (`head_refit/write/val_refit_int8`, `export/files/weights.bin/
bytes`). A stage that did not run in this run folder gives the metrics the recipe recorded for it ("recorded": the
GPU calls of earlier sessions), so a card generated after `--from-stage head_refit` has the same fields.
"""
import json
import os
import re

from .recipe import ROOT

PLACE = re.compile(r"\{\{([^{}:]+)(?::([^{}]*))?\}\}")


def parameters(config):
    from .model import Config, Encoder
    fields = Config.__dataclass_fields__
    return sum(p.numel() for p in Encoder(Config(**{k: v for k, v in config.items() if k in fields})).parameters())


def context(recipe, manifests):
    stages = {s["stage"]: s for s in recipe["stages"]}
    ran = sorted((s for s, m in manifests.items() if m), key=list(stages).index)
    from .model import Config
    fields = Config.__dataclass_fields__
    dense_below = Config(**{k: v for k, v in recipe["model"].items() if k in fields}).dense_below
    ctx = dict(version=recipe["version"], config=dict(recipe["model"], dense_below=dense_below),
               parameters=parameters(recipe["model"]),
               command=recipe["command"], stages_run=ran,
               stages_recorded=[s for s in stages if s != "card" and s not in ran])
    ctx.update(stages_run_text=", ".join(ctx["stages_run"]) or "none",
               stages_recorded_text=", ".join(ctx["stages_recorded"]) or "none")
    for s, st in stages.items():
        m = manifests.get(s)
        ctx[s] = m["metrics"] if m else st.get("recorded", {})
    return ctx


def lookup(ctx, path):
    v = ctx
    for k in path.strip().split("/"):
        if isinstance(v, list):
            v = v[int(k)]
        elif isinstance(v, dict) and k in v:
            v = v[k]
        else:
            raise KeyError(f"card template: no '{path}' (at '{k}')")
    return v


def fill_json(t, ctx):
    if isinstance(t, dict):
        return {k: fill_json(v, ctx) for k, v in t.items()}
    if isinstance(t, list):
        return [fill_json(v, ctx) for v in t]
    if isinstance(t, str):
        m = PLACE.fullmatch(t)
        if m:
            v = lookup(ctx, m.group(1))
            return round(v, int(m.group(2))) if m.group(2) else v
        if PLACE.search(t):
            return fill_md(t, ctx)
    return t


def fill_md(t, ctx):
    return PLACE.sub(lambda m: format(lookup(ctx, m.group(1)), m.group(2) or ""), t)


def build(recipe, manifests, cfg, read=lambda p: os.path.join(ROOT, p)):
    """(model-card.json as a dict, MODEL_CARD.md as text); `read` maps a template's path to the file to open (the
    card stage records it as an input)."""
    ctx = context(recipe, manifests)
    jt = cfg["json"] if "json" in cfg else json.load(open(read(cfg["json_template"])))
    mt = cfg["md"] if "md" in cfg else open(read(cfg["md_template"])).read()
    return fill_json(jt, ctx), fill_md("".join(mt) if isinstance(mt, list) else mt, ctx)


def differences(a, b, path=""):
    """Paths where two JSON values differ (numbers compared exactly)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in {'shipped' if k in a else 'generated'}")
            else:
                out += differences(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}/{i}")]
    return [] if a == b else [f"{path}: shipped {json.dumps(a)[:80]} generated {json.dumps(b)[:80]}"]
