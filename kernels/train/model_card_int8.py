"""Update kernels/model/model-card.json when the shipped weights move to int8 storage (quant8.py round, then
export.py): the same trained model with every weight matrix rounded to int8 codes times a float32 scale per row.
The card keeps its training record; `storage`, the extension's dev and val scores, the equivalence errors, the
memory probe and the file table are replaced by the int8 weights' own.

python3 kernels/train/model_card_int8.py --run RUN --dev-score dense=d.json,hybrid=h.json \
    --val-score dense=vd.json,hybrid=vh.json --before-val dense=0.470,hybrid=0.613 --out kernels/model
RUN holds int8_round.json (quant8.py round), equivalence.json (fixtures.py) and memory_probe.json (evaluate.py).
"""
import argparse
import json
import os

from model_card import equivalence_summary, file_table, memory_summary, scores


def main():
    ap = argparse.ArgumentParser()
    for a in ("--run", "--dev-score", "--val-score", "--before-val", "--out"):
        ap.add_argument(a, required=True)
    args = ap.parse_args()
    path = os.path.join(args.out, "model-card.json")
    card = json.load(open(path))
    rnd = json.load(open(os.path.join(args.run, "int8_round.json")))
    before = {k: float(v) for k, v in (i.split("=") for i in args.before_val.split(","))}
    val = scores(args.val_score)
    card["storage"] = dict(
        file="weights.bin", precision="int8 matrices (a float32 scale per row) + float16 vectors",
        note=("every weight matrix (token embedding, attention, feed-forward, projection) is stored as int8 codes and a "
              "float32 scale per output row; each graph restores it with Cast and Mul at its start, which ONNX Runtime "
              "folds when the session is created, so the fp32 graphs compute in float32 with exactly the rounded "
              "weights and the fp16 graphs with those rounded to float16. One weights file for both precisions"),
        int8_share=rnd["int8_share"], max_rel_change_per_matrix=rnd["max_rel_change"],
        val_extension=dict(val, before_int8=before,
                           note="val set through the extension (scripts/tune-fusion.mjs), MRR@10 before: the same "
                                "weights rounded to float16 only"),
        fp16_storage_before=card["storage"])
    card["eval"]["dev_extension"] = dict(scores(args.dev_score), note=card["eval"]["dev_extension"]["note"],
                                         weights="the int8 weights")
    card["equivalence"] = equivalence_summary(json.load(open(os.path.join(args.run, "equivalence.json"))))
    probe = os.path.join(args.run, "memory_probe.json")
    if os.path.exists(probe):
        p = json.load(open(probe))
        card["memory"]["shipped"] = memory_summary(p)
        card["memory"]["gates_sigmoid_beta"] = p["gates"]
    card["files"] = file_table(args.out)
    json.dump(card, open(path, "w"), indent=1)
    print(json.dumps({k: card["storage"][k] for k in ("precision", "int8_share", "val_extension")}, indent=1))


if __name__ == "__main__":
    main()
