"""Write kernels/model/model-card.json for run 18: the run-12 encoder (10.3 M parameters) after ten masked-token
calls (12a-12j, pretrain_mlm.py; 12e-12j on several GPUs), then run 17c's contrastive recipe with four seeds at
once (configs/big18?.json, one train_chunks.py a GPU) and a model soup of them (soup.py: the best on val of the
single runs, their uniform average and a greedy soup). Run 15 (shipped before) is kept as the earlier shipped
weights; the 4.3 M model stays under "earlier_model".

python3 kernels/train/model_card_run18.py --run RUN18 --dev-score score.json --mlm RUN12,RUN12B,...,RUN12J \
    --extension-score dense=dense.json,hybrid=hybrid.json --out kernels/model
"""
import json
import os

from model_card import dev_eval, finish_card, mlm_lineage, mlm_record, open_card
from model_card_run9 import run_record


def main():
    args, path, card, log = open_card(extra=("--mlm", "--extension-score"))
    s = log["summary"]
    soup = s["soup"]
    dev = json.load(open(args.dev_score))
    summaries = [json.load(open(os.path.join(p, "mlm_log.json")))["summary"] for p in args.mlm.split(",")]
    mlm = [dict(mlm_record(m), gpus=m.get("world_size", 1)) for m in summaries]
    tr = card["training"]
    run15 = dict(tr["run15_chunks"], outcome="val MRR@10 %.4f: shipped before run 18" % card["eval"]["val_mrr10"])
    variants = {}
    for v in "abcd":                                       # every seed's own run (train_log.<v>.json)
        p = os.path.join(args.run, f"train_log.{v}.json")
        if os.path.exists(p):
            lv = json.load(open(p))
            variants[v] = dict(run_record(lv["summary"], lv, "run 12 after ten masked-token calls (12a-12j)"),
                               seed=lv["summary"]["chunks"]["seed"],
                               val_mrr10_rounded_fp16=round(lv["summary"]["val_mrr10_rounded_fp16"], 4))
    card.update(version=18, config=s["config"], parameters=summaries[0]["params"])
    card["training"] = dict(
        card=s["device"],
        **mlm_lineage(mlm),
        run13_chunks=tr["run13_chunks"],
        run14_chunks=tr["run14_chunks"],
        run15_chunks=run15,
        run18_chunks=dict(recipe="configs/big18{a,b,c,d}.json: run 17c's mix and schedule, seeds 1818-1821, "
                                 "one a GPU at once on 4 x " + s["device"], variants=variants),
        run18_soup=dict(method="soup.py: each seed's selected weights, their uniform average and a greedy soup "
                               "(seeds by val, best first; one joins only if val does not drop), all rounded to "
                               "float16 and scored on the same val pairs; the best is shipped",
                        candidates=[dict(name=c["name"], members=c["members"], val_mrr10=round(c["val_mrr10"], 4),
                                         val_hybrid_mrr10=round(c["val_hybrid_mrr10"], 4))
                                    for c in soup["candidates"]],
                        chosen=soup["chosen"], members=soup["chosen_members"]),
        data=tr["data"])
    ext = {}
    for item in args.extension_score.split(","):           # mode=score.json: the extension's own runs on dev
        mode, f = item.split("=", 1)
        d = json.load(open(f))
        ext[mode] = dict(overall=d["overall"], by_language=d["by_language"])
    card["eval"] = dict(
        dev=dict(dev_eval(dev), weights="run 18 (soup), rounded to float16"),
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
