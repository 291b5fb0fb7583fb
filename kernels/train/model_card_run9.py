"""Update kernels/model/model-card.json for run 9 (run 4's recipe + 57,929 Go/Java doc pairs, from the shipped
run-4 weights), and record runs 7 and 8 (BM25 hard negatives; selection on the val hybrid), which were tried
from the same weights and not shipped. Keeps the earlier records; replaces eval, memory (shipped), equivalence,
file hashes.

python3 kernels/train/model_card_run9.py --run RUN9 --dev-score score.json --tried RUN7,RUN8 --out kernels/model
"""
import json
import os

from model_card import dev_eval, finish_card, open_card


def run_record(s, log, init):
    c = s["chunks"]
    return dict(card=s["device"], init=init, steps=s["steps"], seconds=round(s["sec"], 1), pairs=s["pairs"],
                tokens=s["tokens"], tokens_per_s=round(s["tokens_per_s"]),
                mfu_vs_989_tflops=round(s["mfu_vs_989tflops"], 4), batch_mix=c["mix"], pair_sources=s["sources"],
                lr=c["lr"], best_step=s["best_step"], selected_on=s.get("select", "dense"),
                wall_minutes=round(s["wall_min"], 2),
                val_curve=[(e["step"], round(e["val_mrr10"], 4)) + ((round(e["val_hybrid_mrr10"], 4),)
                           if "val_hybrid_mrr10" in e else ()) for e in log["log"] if e["phase"] == "val"])


def main():
    args, path, card, log = open_card(extra=("--tried",))
    s = log["summary"]
    dev = json.load(open(args.dev_score))
    before = dict(weights="run 4, rounded to float16", val_mrr10=card["eval"]["val_mrr10"],
                  dev_overall=card["eval"]["dev"]["overall"], dev_by_language=card["eval"]["dev"]["by_language"])
    card["version"] = 9
    for name, run, why in zip(("run7_chunks", "run8_chunks"), args.tried.split(","), (
            "BM25 hard negatives (pairs/hard_negatives.py): the original pairs' part of each batch built from "
            "lexical neighbourhoods (a seed pair + 3 of its BM25 top 8). Val MRR@10 0.239-0.250, never above "
            "its start: not shipped.",
            "run 7 selected on the val hybrid (ValSet.hybrid_mrr: BM25 fused with dense as the extension's "
            "defaults). Val hybrid MRR@10 0.4115 -> at most 0.4138 (+0.002), dense 0.248-0.264: not shipped.")):
        t = json.load(open(os.path.join(run, "train_log.json")))
        card["training"][name] = dict(run_record(t["summary"], t, "run 4 (shipped weights)"), outcome=why)
    card["training"]["run9_chunks"] = dict(
        run_record(s, log, "run 4 (shipped weights)"), extra_pairs_build=s["extra_pairs"],
        xdoc="first sentence of a Javadoc / Go doc comment -> the method or func without it (pairs/build_xlang.py "
             "over openjdk-17-source and golang-1.19-src, the optional sources of training-sources.md): 45,558 "
             "Java + 12,371 Go pairs",
        val_hybrid_mrr10=dict(init=round(s["val_hybrid_mrr10_init"], 4), bm25_alone=round(s["val_bm25_mrr10"], 4),
                              rounded_fp16=round(s["val_hybrid_mrr10_rounded_fp16"], 4)))
    card["eval"] = dict(
        dev=dict(dev_eval(dev), weights="run 9, rounded to float16"),
        before_run9=before,
        val_mrr10=round(s["val_mrr10_rounded_fp16"], 4), val_mrr10_run4_weights=round(s["val_mrr10_init"], 4),
        val_protocol="2,040 held-out val pairs; each query ranks all val functions (chunk alone) + "
                     "distractor windows of val files without pairs")
    card["storage"].update(val_mrr10_float32=round(s["val_mrr10_best"], 4),
                           val_mrr10_rounded=round(s["val_mrr10_rounded_fp16"], 4))
    finish_card(card, args, path, s["gates"])
    print(json.dumps(card["eval"]["dev"]["overall"]), card["eval"]["val_mrr10"])
    print(json.dumps(card["memory"]["shipped"]))


if __name__ == "__main__":
    main()
