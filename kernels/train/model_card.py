"""Write kernels/model/model-card.json from a run's measurements (machine-readable twin of MODEL_CARD.md).

python3 kernels/train/model_card.py --run RUN_DIR --dev-score dev_score.json --bench bench.json --out kernels/model
"""
import argparse
import hashlib
import json
import os

import numpy as np


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def open_card(extra=()):
    """The per-run card updaters' common start: --run, --dev-score (+ `extra` flags), --out parsed; returns
    (args, card path, card, the run's train_log.json)."""
    ap = argparse.ArgumentParser()
    for a in ("--run", "--dev-score", *extra, "--out"):
        ap.add_argument(a, required=True)
    args = ap.parse_args()
    path = os.path.join(args.out, "model-card.json")
    return args, path, json.load(open(path)), json.load(open(os.path.join(args.run, "train_log.json")))


def dev_eval(dev):
    """The card's dev entry from a scored dev run of the chunk-alone path (40-line windows)."""
    return dict(set="shared/eval/dev (800 queries)", chunks="40-line windows, stride 20, each encoded alone "
                "(<= 512 tokens), dense only", overall=dev["overall"], by_language=dev["by_language"],
                bm25_baseline_mrr10=0.437)


def scores(spec):
    """mode=score.json,... (the kit scorer's output for each mode) -> {mode: {overall, by_language}}."""
    out = {}
    for item in spec.split(","):
        mode, f = item.split("=", 1)
        d = json.load(open(f))
        out[mode] = dict(overall=d["overall"], by_language=d["by_language"])
    return out


def finish_card(card, args, path, gates):
    """The per-run card updaters' common end: gates, the shipped model's memory probe and equivalence from the
    run, the shipped files' sizes and hashes; writes the card."""
    card["memory"]["gates_sigmoid_beta"] = gates
    card["memory"]["shipped"] = memory_summary(json.load(open(os.path.join(args.run, "memory_probe.json"))))
    card["equivalence"] = equivalence_summary(json.load(open(os.path.join(args.run, "equivalence.json"))))
    card["files"] = file_table(args.out)
    json.dump(card, open(path, "w"), indent=1)


def mlm_record(summary):
    """The card's entry for one masked-token call (pretrain_mlm.py's mlm_log.json summary)."""
    rec = dict(card=summary["card"], steps=summary["steps"], tokens=summary["tokens"], seconds=round(summary["sec"], 1),
               tokens_per_s=round(summary["tokens_per_s"]), mfu_vs_989_tflops=round(summary["mfu_vs_989tflops"], 4),
               stream_tokens=summary["stream_tokens"], resumed=bool(summary["resumed_from"]),
               sequence="16 segments x 1024 tokens, 4 sequences a step, memory on")
    if "attn_probe" in summary:
        rec["attention_path"] = summary["attn_probe"]
    return rec


def mlm_lineage(mlm):
    """The card's masked-token calls (mlm_record entries) and their total."""
    return dict(mlm=mlm, mlm_total=dict(tokens=sum(m["tokens"] for m in mlm),
                                        seconds=round(sum(m["seconds"] for m in mlm), 1)))


def equivalence_summary(eq):
    """The largest relative error per graph and precision (ONNX Runtime CPU vs PyTorch float64) + torch paths."""
    worst = {g: max(v for k, v in e.items() if k != "nan") for g, e in eq["ort"].items()}
    return dict(torch=eq["torch"], ort_cpu_fp32_max_rel_err={g: v for g, v in worst.items() if "fp32" in g},
                ort_cpu_fp16_max_rel_err={g: v for g, v in worst.items() if "fp16" in g})


def file_table(out):
    """Bytes and sha256 of every shipped model file in `out`."""
    return {f: dict(bytes=os.path.getsize(os.path.join(out, f)), sha256=sha256(os.path.join(out, f)))
            for f in sorted(os.listdir(out)) if f.endswith((".onnx", ".bin", "tokenizer.json"))}


def memory_summary(probe):
    on, off = np.array(probe["mlm"]["on"]["acc_by_segment"]), np.array(probe["mlm"]["off"]["acc_by_segment"])
    return dict(acc_seg1_7=dict(on=round(on[1:8].mean(), 4), off=round(off[1:8].mean(), 4)),
                acc_seg8_15=dict(on=round(on[8:].mean(), 4), off=round(off[8:].mean(), 4)),
                acc_by_segment=dict(on=on.tolist(), off=off.tolist()),
                only_in_segment_0=dict(on=probe["mlm"]["on"]["probe_acc"], off=probe["mlm"]["off"]["probe_acc"],
                                       tokens=probe["mlm"]["on"]["probe_n"]),
                passkey=probe["passkey"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--dev-score", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bench-note", default="")
    args = ap.parse_args()
    r = args.run
    train = json.load(open(os.path.join(r, "train_log.json")))
    s = train["summary"]
    eq = json.load(open(os.path.join(r, "equivalence.json")))
    ort_fp32 = {g: max(v for k, v in e.items() if k != "nan") for g, e in eq["ort"].items() if "fp32" in g}
    ort_fp16 = {g: max(v for k, v in e.items() if k != "nan") for g, e in eq["ort"].items() if "fp16" in g}
    dev = json.load(open(args.dev_score))
    mlm = s["mlm"]
    ctr_tokens = s["contrastive"]["steps"] * 64 * 1024
    card = dict(
        name="infini-lens-encoder", version=1,
        config=s["config"], parameters=s["params"],
        tokenizer=dict(file="tokenizer.json", type="byte-level BPE", vocab=8192,
                       special={"<pad>": 0, "<mask>": 1, "<doc>": 2, "<qry>": 3}),
        data=dict(shard="kernels/train/data (files.jsonl.xz, pairs.jsonl.xz, pairs_val.jsonl.xz)",
                  recipe="allowed sources only (shared/training-sources.md); tokenizer on a 40 MiB sample; "
                         "masked-token pretraining on a seeded 110 MiB subset of the train split; contrastive on "
                         "52,732 train pairs; model selection on held-out val pairs (pairs_val)"),
        training=dict(card=s["device"], wall_minutes=round(s["wall_min"], 2),
                      mlm=dict(steps=mlm["steps"], tokens=mlm["tokens"], seconds=round(mlm["sec"], 1),
                               tokens_per_s=round(mlm["tokens_per_s"]), mfu_vs_989_tflops=round(mlm["mfu_vs_989tflops"], 4),
                               sequence="16 segments x 1024 tokens, 4 sequences a step"),
                      contrastive=dict(steps=s["contrastive"]["steps"], seconds=round(s["contrastive"]["sec"], 1),
                                       token_slots=ctr_tokens, best_val_mrr10=round(s["contrastive"]["best_val_mrr10"], 4))),
        eval=dict(dev=dict(set="shared/eval/dev (800 queries)", chunks="40-line windows, stride 20, dense only",
                           overall=dev["overall"], by_language=dev["by_language"], bm25_baseline_mrr10=0.437),
                  val_mrr10=round(s["contrastive"]["best_val_mrr10"], 4)),
        memory=dict(gates_sigmoid_beta=s["gates"],
                    pretrained=memory_summary(json.load(open(os.path.join(r, "memory_probe.ckpt_mlm.json")))),
                    shipped=memory_summary(json.load(open(os.path.join(r, "memory_probe.json"))))),
        equivalence=dict(torch=eq["torch"], ort_cpu_fp32_max_rel_err=ort_fp32, ort_cpu_fp16_max_rel_err=ort_fp16),
        ort_cpu_sparse_vs_dense=dict(json.load(open(args.bench)), note=args.bench_note),
        files={f: dict(bytes=os.path.getsize(os.path.join(args.out, f)), sha256=sha256(os.path.join(args.out, f)))
               for f in sorted(os.listdir(args.out)) if f.endswith((".onnx", ".bin", "tokenizer.json"))},
    )
    json.dump(card, open(os.path.join(args.out, "model-card.json"), "w"), indent=1)
    print(json.dumps({k: card[k] for k in ("parameters", "training", "eval")}, indent=1))


if __name__ == "__main__":
    main()
