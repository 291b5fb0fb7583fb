"""Update kernels/model/model-card.json for run 4 (run 3 + identifier / unselected-docstring pairs).
Keeps the pretraining and run 3 records; replaces eval, memory (shipped), equivalence and file hashes.

python3 kernels/train/model_card_run4.py --run RUN4 --dev-score score.json --out kernels/model
"""
import json

from model_card import dev_eval, finish_card, open_card


def main():
    args, path, card, log = open_card()
    s = log["summary"]
    dev = json.load(open(args.dev_score))
    c = s["chunks"]
    run3_eval = dict(val_mrr10=card["eval"]["val_mrr10"], dev_overall=card["eval"]["dev"]["overall"],
                     dev_by_language=card["eval"]["dev"]["by_language"])
    card["version"] = 4
    card["training"]["run4_chunks"] = dict(
        card=s["device"], init="run 3 (shipped weights)", steps=s["steps"], seconds=round(s["sec"], 1),
        pairs=s["pairs"], tokens=s["tokens"], tokens_per_s=round(s["tokens_per_s"]),
        mfu_vs_989_tflops=round(s["mfu_vs_989tflops"], 4), batch=c["batch"], batch_mix=c["mix"],
        pair_sources=s["sources"], extra_pairs_build=s["extra_pairs"], same_package_group=c["group"],
        lr=c["lr"], max_code_tokens=c["max_code"], tau_final=round(s["tau"], 4),
        aux_mlm=f"every {c['aux_every']} steps, weight {c['aux_weight']}, {c['aux_nseg']} x 1024 x {c['aux_seqs']}",
        best_step=s["best_step"], wall_minutes=round(s["wall_min"], 2),
        extra_pairs="ident: function name split into lower-case words -> the function (name hidden in its "
                    "definition line half of the time); doc: first sentence of docstrings/doc comments the eval "
                    "builder did not select -> the function without its doc; train-split files only")
    card["eval"] = dict(
        dev=dev_eval(dev),
        run3=run3_eval,
        val_mrr10=round(s["val_mrr10_best"], 4), val_mrr10_run3_weights=round(s["val_mrr10_init"], 4),
        val_protocol="2,040 held-out val pairs; each query ranks all val functions (chunk alone) + "
                     "distractor windows of val files without pairs")
    finish_card(card, args, path, s["gates"])
    print(json.dumps(card["eval"]["dev"]["overall"]), card["eval"]["val_mrr10"])
    print(json.dumps(card["memory"]["shipped"]))


if __name__ == "__main__":
    main()
