"""Model soup (Wortsman et al. 2022) over contrastive runs from one initialisation (run_gpu.sh's variants, one
train_chunks.py a GPU). Ingredients: each run's selected weights and, for runs that kept snapshots.pt (train_chunks'
swa_from), the average of those snapshots (a trajectory average, SWA: Izmailov et al. 2018). Candidates: every
ingredient alone, the uniform average of the runs (and of the SWAs), and a greedy soup (ingredients by val, best
first; one joins the average only if val does not drop). Every candidate is scored on train_chunks' val set as
it selects (val_set: the same val pairs and distractors; chunk-alone MRR@10, or the hybrid when the config selects
on it; parameters rounded to fp16 first when round_fp16), and the best becomes a run folder that export.py,
fixtures.py and evaluate.py read unchanged.

python3 -m lens_train.soup --runs DIR.a DIR.b ... --data .r5data --config CONFIG.json --out DIR [--smoke]
Writes DIR/ckpt.pt (train_chunks' format), DIR/soup.json (every candidate's val, the choice, the greedy soup), and
the best single run's other files (tokenizer.json, val_stream.npy, ckpt_init.pt, train_log*.json), its
train_log.json's summary carrying the chosen numbers, the soup and every run's own summary (run_summaries).
"""
import argparse
import json
import os
import shutil
import time

import torch

from .chunks import set_expand
from .model import Config, Encoder
from .quant8 import SCALES, load_state
from .train import DEV
from .train_chunks import load_pack, round_fp16, val_set


def average(states):
    """Uniform average of state dicts (same keys): float tensors averaged in float64 and cast back to their
    dtype, every other tensor (and non-tensor) taken from the first."""
    assert all(s.keys() == states[0].keys() for s in states), "state dicts with other keys"
    out = {}
    for k, v in states[0].items():
        if torch.is_tensor(v) and v.is_floating_point():
            out[k] = (sum(s[k].double() for s in states) / len(states)).to(v.dtype)
        else:
            out[k] = v
    return out


def greedy_soup(scores, score):
    """Greedy soup over runs 0..n-1: `scores` are the runs' own vals; by these, best first, a run joins only if
    score(members) — the val of the average of those runs' weights — does not drop. -> (members, val)."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])          # stable: ties keep the run order
    members, best = [order[0]], scores[order[0]]
    for i in order[1:]:
        s = score(members + [i])
        if s >= best:
            members, best = members + [i], s
    return members, best


def pick(cands):
    """The candidate with the highest `sel`; on a tie the first (single runs are listed before the soups)."""
    return max(cands, key=lambda c: c["sel"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", nargs="+", required=True, help="train_chunks.py output folders (ckpt.pt, train_log.json)")
    ap.add_argument("--data", required=True, help="the pack the runs trained on (its val pairs and files)")
    ap.add_argument("--config", required=True, help="a variant's config: its chunks.val_pairs, distractors, "
                                                    "expand_idents, round_fp16, select")
    ap.add_argument("--out", required=True)
    ap.add_argument("--smoke", action="store_true", help="the runs were --smoke runs (val set of their file subset)")
    args = ap.parse_args()
    T0 = time.time()
    assert all(os.path.abspath(args.out) != os.path.abspath(r) for r in args.runs), "--out is one of the runs"
    runs = [r for r in args.runs if os.path.exists(os.path.join(r, "ckpt.pt"))]   # a crashed variant has none
    skipped = [r for r in args.runs if r not in runs]
    if skipped:
        print(f"no ckpt.pt, left out: {skipped}", flush=True)
    assert runs, "no run with a ckpt.pt"
    names = [os.path.basename(os.path.normpath(r)) for r in runs]
    cks = [torch.load(os.path.join(r, "ckpt.pt"), map_location="cpu") for r in runs]
    logs = [json.load(open(os.path.join(r, "train_log.json"))) if os.path.exists(os.path.join(r, "train_log.json"))
            else dict(summary={}, log=[]) for r in runs]
    for n, ck in zip(names, cks):
        assert ck["config"] == cks[0]["config"], f"{n}: another model config than {names[0]}"
    # ingredients: each run's selected weights, then (run 19) each run's trajectory average (SWA) of the weights
    # train_chunks kept at its last val passes (snapshots.pt), for the runs that have them
    # (an ingredient may be a packed int8 checkpoint, quant8.py pack: an earlier call's soup carried in small)
    ingr, states = list(names), [load_state(ck) for ck in cks]
    for r, n in zip(runs, names):
        sp = os.path.join(r, "snapshots.pt")
        if os.path.exists(sp):
            snaps = torch.load(sp, map_location="cpu")
            ingr.append(f"{n}.swa{len(snaps)}")
            states.append(average([x["model"] for x in snaps]))
            del snaps
    cc = json.load(open(args.config))["chunks"]
    rnd, hybrid = bool(cc.get("round_fp16")), cc.get("select") == "hybrid"
    for n, lg in zip(names, logs):                         # the val settings the runs selected with
        rc = lg["summary"].get("chunks") or {}
        diff = [k for k in ("val_pairs", "distractors", "expand_idents", "round_fp16", "select")
                if k in rc and rc.get(k) != cc.get(k)]
        if diff:
            print(f"WARNING {n} trained with other val settings: {diff}", flush=True)

    # train_chunks' val set, as its main builds it
    from .tok import Tokenizer
    tok = Tokenizer.from_file(os.path.join(runs[0], "tokenizer.json"))
    set_expand(tok, cc.get("expand_idents"))
    files, _, pairs_val = load_pack(args.data, args.smoke)
    vs, pairs_val, _ = val_set(tok, cc, files, pairs_val)
    print(f"val {len(pairs_val)} + {len(vs.distract)} distractors ({time.time() - T0:.0f}s)", flush=True)
    model = Encoder(Config(**{k: v for k, v in cks[0]["config"].items() if k != "dense_below"})).to(DEV)
    cache = {}

    def load(members, rounded=rnd):                        # the average of these ingredients' weights into `model`
        model.load_state_dict(average([states[i] for i in sorted(members)]))   # one order: the same sums
        if rounded:
            round_fp16(model)

    def val(members, rounded=rnd):                         # dense and hybrid val MRR@10 (cached) and the one selected on
        key = (tuple(sorted(members)), rounded)
        if key not in cache:
            load(members, rounded)
            m = vs.mrr(model)
            h = vs.hybrid_mrr()
            cache[key] = dict(val_mrr10=m, val_hybrid_mrr10=h, sel=h if hybrid else m)
            print(f"val MRR@10 {m:.4f} hybrid {h:.4f}: {'+'.join(ingr[i] for i in members)}"
                  f"{' (fp16-rounded)' if rounded else ''}", flush=True)
        return cache[key]

    cands = [dict(name=n, members=[i], **val([i]),
                  train_val_mrr10_rounded_fp16=lg["summary"].get("val_mrr10_rounded_fp16"),
                  train_val_mrr10_best=lg["summary"].get("val_mrr10_best")) for i, (n, lg) in enumerate(zip(names, logs))]
    swa = list(range(len(runs), len(ingr)))
    cands += [dict(name=ingr[i], members=[i], **val([i])) for i in swa]
    greedy = [0]
    if len(runs) > 1:
        cands.append(dict(name="uniform", members=list(range(len(runs))), **val(range(len(runs)))))
    if len(swa) > 1:
        cands.append(dict(name="uniform_swa", members=swa, **val(swa)))
    if len(ingr) > 1:                                      # greedy over every ingredient, single runs and SWAs
        greedy, _ = greedy_soup([c["sel"] for c in cands[:len(ingr)]], lambda ms: val(ms)["sel"])
        cands.append(dict(name="greedy", members=greedy, **val(greedy)))
    best = pick(cands)
    top = pick(cands[:len(runs)])                          # the best single run: its folder's files and ckpt keys
    # val_mrr10_best as train_chunks writes it: the selected-on val before the rounding (a single run: its own)
    if len(best["members"]) == 1 and best["members"][0] < len(runs):
        unrounded = logs[best["members"][0]]["summary"].get("val_mrr10_best", best["sel"])
    else:
        unrounded = val(best["members"], rounded=False)["sel"] if rnd else best["sel"]
    print(f"chosen: {best['name']} ({'+'.join(ingr[i] for i in best['members'])}) val {best['sel']:.4f}; "
          f"best single {top['name']} {top['sel']:.4f}", flush=True)

    # the chosen weights as train_chunks saves them (parameters rounded when round_fp16)
    load(best["members"])
    os.makedirs(args.out, exist_ok=True)
    src = runs[top["members"][0]]
    ck = dict(cks[top["members"][0]], model={k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
    ck.pop(SCALES, None)                                   # float weights now, whatever the best single's form
    torch.save(ck, os.path.join(args.out, "ckpt.pt"))
    for f in os.listdir(src):                              # tokenizer, val stream, init weights, logs; not model/
        if f not in ("ckpt.pt", "train_log.json", "soup.json", "snapshots.pt") and os.path.isfile(os.path.join(src, f)):
            shutil.copy2(os.path.join(src, f), os.path.join(args.out, f))
    soup = dict(runs=names, ingredients=ingr, skipped=skipped, select="hybrid" if hybrid else "dense", round_fp16=rnd,
                candidates=[dict({k: v for k, v in c.items() if k != "members"},
                                 members=[ingr[i] for i in c["members"]]) for c in cands],
                chosen=best["name"], chosen_members=[ingr[i] for i in best["members"]],
                greedy_members=[ingr[i] for i in greedy], best_single=top["name"], files_from=src,
                sec=time.time() - T0)
    json.dump(soup, open(os.path.join(args.out, "soup.json"), "w"), indent=1)
    run_summaries = {n: dict(lg["summary"]) for n, lg in zip(names, logs)}   # before the chosen numbers go in
    log = logs[top["members"][0]]
    log["summary"].update(val_mrr10_best=unrounded, val_mrr10_rounded_fp16=best["val_mrr10"] if rnd else None,
                          val_hybrid_mrr10_rounded_fp16=best["val_hybrid_mrr10"] if rnd else None, soup=soup,
                          run_summaries=run_summaries)
    json.dump(log, open(os.path.join(args.out, "train_log.json"), "w"), indent=1)
    print(json.dumps({k: soup[k] for k in ("chosen", "chosen_members", "greedy_members")}), flush=True)


if __name__ == "__main__":
    main()
