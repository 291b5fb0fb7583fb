"""Write kernels/model/model-card.json for run 15: the run-12 encoder (10.3 M parameters) after four masked-token
calls (12a-12d, pretrain_mlm.py; 12d on the fused-kernel attention path, 2.2x the tokens of a FlexAttention
call), then run 9's chunk-path contrastive recipe (train_chunks.py, configs/big15.json). Run 14 (the same recipe
after 12a-12b, shipped before) is recorded as the earlier shipped weights; the 4.3 M model stays under
"earlier_model".

python3 kernels/train/model_card_run15.py --run RUN15 --dev-score score.json --mlm RUN12,RUN12B,RUN12C,RUN12D --out kernels/model
"""
import json
import os

from model_card import dev_eval, finish_card, mlm_lineage, mlm_record, open_card
from model_card_run9 import run_record


def main():
    args, path, card, log = open_card(extra=("--mlm",))
    s = log["summary"]
    dev = json.load(open(args.dev_score))
    summaries = [json.load(open(os.path.join(p, "mlm_log.json")))["summary"] for p in args.mlm.split(",")]
    mlm = [mlm_record(m) for m in summaries]
    tr = card["training"]
    run14 = dict(tr["run14_chunks"], outcome="val MRR@10 %.4f: shipped before run 15" % card["eval"]["val_mrr10"])
    card.update(version=15, config=s["config"], parameters=summaries[0]["params"])
    card["training"] = dict(
        card=s["device"],
        **mlm_lineage(mlm),
        run13_chunks=tr["run13_chunks"],
        run14_chunks=run14,
        run15_chunks=dict(run_record(s, log, "run 12 after four masked-token calls"),
                          val_hybrid_mrr10=dict(init=round(s["val_hybrid_mrr10_init"], 4),
                                                bm25_alone=round(s["val_bm25_mrr10"], 4),
                                                rounded_fp16=round(s["val_hybrid_mrr10_rounded_fp16"], 4))),
        data=tr["data"])
    card["eval"] = dict(
        dev=dict(dev_eval(dev), weights="run 15, rounded to float16"),
        val_mrr10=round(s["val_mrr10_rounded_fp16"], 4),
        val_protocol=card["eval"]["val_protocol"])
    card["storage"].update(val_mrr10_float32=round(s["val_mrr10_best"], 4),
                           val_mrr10_rounded=round(s["val_mrr10_rounded_fp16"], 4))
    finish_card(card, args, path, s["gates"])
    print(json.dumps(card["eval"]["dev"]["overall"]), card["eval"]["val_mrr10"], card["parameters"])


if __name__ == "__main__":
    main()
