"""Write kernels/model/model-card.json for a soup run (run 18 or 19): the run-12 encoder (10.3 M parameters) after
its masked-token calls (12a-..., pretrain_mlm.py; 12e on, on several GPUs), then run 17c's contrastive recipe with
four seeds at once (configs/big<N>?.json, one train_chunks.py a GPU) and a model soup of them (soup.py: the best on
val of the single runs, their uniform average and a greedy soup; run 19 adds each seed's trajectory average). The
weights shipped before are kept in the card with their val ("outcome"); the 4.3 M model stays under
"earlier_model".

python3 kernels/train/model_card_soup.py --version 18 --run RUN18 --dev-score score.json \
    --mlm RUN12,RUN12B,...,RUN12J --extension-score dense=dense.json,hybrid=hybrid.json --out kernels/model
"""
import json
import os

from model_card import dev_eval, finish_card, mlm_lineage, mlm_record, open_card, scores
from model_card_run9 import run_record

# per version: the earlier contrastive entries the card keeps (the last one: the weights shipped before, which
# gets an outcome), the recipe line and the soup's method line
RUNS = {
    18: dict(keep=("run13_chunks", "run14_chunks", "run15_chunks"),
             recipe="run 17c's mix and schedule",
             method="soup.py: each seed's selected weights, their uniform average and a greedy soup (seeds by val, "
                    "best first; one joins only if val does not drop), all rounded to float16 and scored on the same "
                    "val pairs; the best is shipped"),
    19: dict(keep=("run13_chunks", "run14_chunks", "run15_chunks", "run18_chunks", "run18_soup"),
             recipe="run 18's recipe (run 17c's mix and schedule), val every 40 s, the weights kept at every val "
                    "pass of the second half",
             method="soup.py: ingredients are each seed's selected weights and each seed's trajectory average (SWA: "
                    "the mean of its kept weights); candidates are every ingredient, the uniform averages of the seeds "
                    "and of the SWAs, and a greedy soup over all ingredients (by val, best first; one joins only if val "
                    "does not drop), all rounded to float16 and scored on the same val pairs; the best is shipped"),
}
COUNT = {10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen", 14: "fourteen"}


def main():
    args, path, card, log = open_card(extra=("--version", "--mlm", "--extension-score"))
    n, spec = int(args.version), RUNS[int(args.version)]
    s = log["summary"]
    soup = s["soup"]
    dev = json.load(open(args.dev_score))
    summaries = [json.load(open(os.path.join(p, "mlm_log.json")))["summary"] for p in args.mlm.split(",")]
    mlm = [dict(mlm_record(m), gpus=m.get("world_size", 1)) for m in summaries]
    calls = f"{COUNT[len(mlm)]} masked-token calls (12a-12{chr(ord('a') + len(mlm) - 1)})"
    tr = card["training"]
    before = spec["keep"][-1]                              # the weights shipped until now
    kept = {k: dict(tr[k]) for k in spec["keep"]}
    kept[before]["outcome"] = "val MRR@10 %.4f: shipped before run %d" % (card["eval"]["val_mrr10"], n)
    variants = {}
    for v in "abcd":                                       # every seed's own run (train_log.<v>.json)
        p = os.path.join(args.run, f"train_log.{v}.json")
        if os.path.exists(p):
            lv = json.load(open(p))
            variants[v] = dict(run_record(lv["summary"], lv, f"run 12 after {calls}"),
                               seed=lv["summary"]["chunks"]["seed"],
                               val_mrr10_rounded_fp16=round(lv["summary"]["val_mrr10_rounded_fp16"], 4))
    seeds = sorted(v["seed"] for v in variants.values())
    card.update(version=n, config=s["config"], parameters=summaries[0]["params"])
    card["training"] = dict(
        card=s["device"],
        **mlm_lineage(mlm),
        **kept,
        **{f"run{n}_chunks": dict(recipe=f"configs/big{n}{{a,b,c,d}}.json: {spec['recipe']}, seeds "
                                         f"{seeds[0]}-{seeds[-1]}, one a GPU at once on 4 x " + s["device"],
                                  variants=variants),
           f"run{n}_soup": dict(method=spec["method"],
                                candidates=[dict(name=c["name"], members=c["members"], val_mrr10=round(c["val_mrr10"], 4),
                                                 val_hybrid_mrr10=round(c["val_hybrid_mrr10"], 4))
                                            for c in soup["candidates"]],
                                chosen=soup["chosen"], members=soup["chosen_members"])},
        data=tr["data"])
    ext = scores(args.extension_score)                     # mode=score.json: the extension's own runs on dev
    card["eval"] = dict(
        dev=dict(dev_eval(dev), weights=f"run {n} (soup), rounded to float16"),
        dev_extension=dict(ext, note="infini-lens index --embed, then eval --mode dense|hybrid (chunks of the "
                                     "extension's chunker, each encoded alone); the kit scorer"),
        val_mrr10=round(s["val_mrr10_rounded_fp16"], 4),
        val_protocol=card["eval"]["val_protocol"])
    card["storage"].update(val_mrr10_float32=round(s["val_mrr10_best"], 4),
                           val_mrr10_rounded=round(s["val_mrr10_rounded_fp16"], 4))
    # the shipped weights' gates: the probe of the chosen soup (the summary's are its best single run's)
    finish_card(card, args, path, json.load(open(os.path.join(args.run, "memory_probe.json")))["gates"])
    print(json.dumps(card["eval"]["dev"]["overall"]), card["eval"]["val_mrr10"], card["parameters"])


if __name__ == "__main__":
    main()
