"""Update kernels/model/model-card.json for run 3 (chunk-alone retrieval path) from its run folder.
Keeps run 2's pretraining record; replaces retrieval, eval, memory (shipped), equivalence and file hashes.

python3 kernels/train/model_card_run3.py --run RUN3 --dev-score score.json --dev-score-init score_init.json --out kernels/model
"""
import json

from model_card import dev_eval, finish_card, open_card


def main():
    args, path, card, log = open_card(("--dev-score-init",))
    s = log["summary"]
    dev, dev0 = json.load(open(args.dev_score)), json.load(open(args.dev_score_init))
    card["version"] = 3
    card["retrieval"] = dict(chunk_graph="query", doc_token=2, query_token=3, max_chunk_tokens=512,
                             max_query_tokens=64, memory="zeros",
                             note="chunks and queries are each encoded alone through query.onnx (dense attention, "
                                  "zero memory); embedding = L2-normalised mean of emb over all tokens")
    c = s["chunks"]
    card["training"]["run3_chunks"] = dict(
        card=s["device"], init="run 2 (shipped weights)", steps=s["steps"], seconds=round(s["sec"], 1),
        pairs=s["pairs"], tokens=s["tokens"], tokens_per_s=round(s["tokens_per_s"]),
        mfu_vs_989_tflops=round(s["mfu_vs_989tflops"], 4), batch=c["batch"], same_package_group=c["group"],
        max_code_tokens=c["max_code"], tau_final=round(s["tau"], 4), aux_mlm=f"every {c['aux_every']} steps, "
        f"weight {c['aux_weight']}, {c['aux_nseg']} x 1024 x {c['aux_seqs']}", best_step=s["best_step"],
        wall_minutes=round(s["wall_min"], 2))
    card["eval"] = dict(
        dev=dev_eval(dev),
        dev_run2_weights_chunk_path=dict(overall=dev0["overall"], by_language=dev0["by_language"]),
        val_mrr10=round(s["val_mrr10_best"], 4), val_mrr10_run2_weights=round(s["val_mrr10_init"], 4),
        val_protocol="2,040 held-out val pairs; each query ranks all val functions (chunk alone) + "
                     "distractor windows of val files without pairs")
    finish_card(card, args, path, s["gates"])
    print(json.dumps(card["eval"]["dev"]["overall"]), card["eval"]["val_mrr10"])


if __name__ == "__main__":
    main()
