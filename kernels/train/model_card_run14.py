"""Write kernels/model/model-card.json for the run-12/14 encoder (10.3 M parameters, trained from scratch in three
device calls: masked tokens twice (run 12, pretrain_mlm.py), then the chunk-path contrastive recipe of run 9
(run 14, train_chunks.py)). Run 13 (the same contrastive recipe after the first masked-token call only) is
recorded as tried. The 4.3 M-parameter model's card (runs 2-11) is kept under "earlier_model".

python3 kernels/train/model_card_run14.py --run RUN14 --dev-score score.json --mlm RUN12,RUN12B --tried RUN13 --out kernels/model
"""
import copy
import json
import os

from model_card import dev_eval, finish_card, mlm_record, open_card
from model_card_run9 import run_record


def main():
    args, path, card, log = open_card(extra=("--mlm", "--tried"))
    s = log["summary"]
    dev = json.load(open(args.dev_score))
    earlier = copy.deepcopy({k: card[k] for k in ("version", "config", "parameters", "training", "eval", "memory",
                                                  "storage", "ort_cpu_sparse_vs_dense")})
    summaries = [json.load(open(os.path.join(p, "mlm_log.json")))["summary"] for p in args.mlm.split(",")]
    mlm = [mlm_record(m) for m in summaries]
    t13 = json.load(open(os.path.join(args.tried, "train_log.json")))
    params = summaries[0]["params"]
    card.update(version=14, config=s["config"], parameters=params)
    card["training"] = dict(
        card=s["device"],
        mlm=mlm,
        mlm_total=dict(tokens=sum(m["tokens"] for m in mlm), seconds=round(sum(m["seconds"] for m in mlm), 1)),
        run13_chunks=dict(run_record(t13["summary"], t13, "run 12, first masked-token call only"),
                          outcome="val MRR@10 %.4f: not shipped (run 14 starts from more pretraining)"
                                  % t13["summary"]["val_mrr10_rounded_fp16"]),
        run14_chunks=dict(run_record(s, log, "run 12 after both masked-token calls"),
                          val_hybrid_mrr10=dict(init=round(s["val_hybrid_mrr10_init"], 4),
                                                bm25_alone=round(s["val_bm25_mrr10"], 4),
                                                rounded_fp16=round(s["val_hybrid_mrr10_rounded_fp16"], 4))),
        data="masked tokens: every train file of the shard (.data, 55.6 M tokens); contrastive: run 9's mix "
             "(52,732 docstring pairs + identifier / unselected-docstring pairs + 64,089 Go/Java doc pairs)")
    card["eval"] = dict(
        dev=dict(dev_eval(dev), weights="run 14, rounded to float16"),
        val_mrr10=round(s["val_mrr10_rounded_fp16"], 4),
        val_protocol="2,040 held-out val pairs; each query ranks all val functions (chunk alone) + "
                     "distractor windows of val files without pairs")
    card["storage"].update(val_mrr10_float32=round(s["val_mrr10_best"], 4),
                           val_mrr10_rounded=round(s["val_mrr10_rounded_fp16"], 4),
                           note="the selected weights are rounded to float16 once; fp16 graphs read them as they are, "
                                "fp32 graphs through a Cast node at their start that ONNX Runtime folds when the "
                                "session is created. One weights file for both precisions (21.4 MB)")
    card["memory"].pop("pretrained", None)                 # run 2's phase-1 probe: kept under earlier_model
    card.pop("ort_cpu_sparse_vs_dense", None)              # measured on the earlier model's graphs: under earlier_model
    card["earlier_model"] = earlier
    finish_card(card, args, path, s["gates"])
    print(json.dumps(card["eval"]["dev"]["overall"]), card["eval"]["val_mrr10"], card["parameters"])


if __name__ == "__main__":
    main()
