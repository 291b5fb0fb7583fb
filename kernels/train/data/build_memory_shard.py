#!/usr/bin/env python3
"""A compact shard for the memory-recall runs (issue 24): small enough to travel to the GPU machine next to the
working tree (64 MiB in all), from the allowed sources only (/work/shared/training-sources.md).

Same layout, filters and dev-overlap check as build_shard.py / build_mlm_shard.py (size, UTF-8, minified,
empty, exact duplicates, files holding a dev target's body), over whatever part of the sources WORK holds
(build_corpus.sh's layout: deb/<pkg>/, npm/<name>/package/, tar/xorg-server/xorg-server/). Writes
  OUT/files.jsonl.xz  train files (package order), capped at --train-mib of text;
  OUT/val.jsonl.xz    the validation split's files (build_shard.VAL: nltk, luxon, zod, xorg-server hw/),
                      held out: the recall probes take their filler and their identifier names from them;
  OUT/STATS.md.
Standard library only; deterministic (sorted walks).

Usage: build_memory_shard.py --work /tmp/memory/lens-data --out .memdata [--train-mib 60]
"""
import argparse
import json
import lzma
import os
from collections import Counter

from build_shard import SHARED_EVAL, collect, dev_fingerprints, is_val, keep_files


def write_xz(path, rows):
    with lzma.open(path + ".tmp", "wt", encoding="utf-8", preset=9) as fh:
        for i, f in enumerate(rows):
            fh.write(json.dumps(dict(id=i, pkg=f["pkg"], path=f["path"], lang=f["lang"], split=f["split"],
                                     text=f["text"]), ensure_ascii=False) + "\n")
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", default=".memdata")
    ap.add_argument("--train-mib", type=float, default=60.0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    st = Counter()
    index, fps, short = dev_fingerprints(os.path.join(SHARED_EVAL, "dev"))
    items = collect(args.work)
    kept, _ = keep_files(items, st, index, fps, short)
    for f in kept:
        f["split"] = "val" if is_val(f["pkg"], f["path"]) else "train"
    kept.sort(key=lambda f: (f["pkg"], f["path"]))
    # a cap by round robin over packages, so every package keeps a share when the text is over the cap
    by_pkg = {}
    for f in kept:
        if f["split"] == "train":
            by_pkg.setdefault(f["pkg"], []).append(f)
    train, budget, total = [], args.train_mib * 2**20, 0
    queues = [list(v) for _, v in sorted(by_pkg.items())]
    while queues and total < budget:
        for q in queues:
            if q and total < budget:
                f = q.pop(0)
                train.append(f)
                total += f["nbytes"]
        queues = [q for q in queues if q]
    train.sort(key=lambda f: (f["pkg"], f["path"]))
    val = [f for f in kept if f["split"] == "val"]
    write_xz(os.path.join(args.out, "files.jsonl.xz"), train)
    write_xz(os.path.join(args.out, "val.jsonl.xz"), val)
    nb = Counter()
    for f in train + val:
        nb[(f["split"], f["pkg"])] += f["nbytes"]
    md = ["# Memory-recall shard", "", f"train files {len(train):,} ({total / 2**20:.1f} MiB of text), "
          f"val files {len(val):,}; files.jsonl.xz {os.path.getsize(os.path.join(args.out, 'files.jsonl.xz')):,} "
          f"bytes, val.jsonl.xz {os.path.getsize(os.path.join(args.out, 'val.jsonl.xz')):,} bytes", "",
          "| split | package | MiB |", "|---|---|---:|"]
    md += [f"| {s} | {p} | {b / 2**20:.1f} |" for (s, p), b in sorted(nb.items())]
    md += ["", "| filter | count |", "|---|---:|"] + [f"| {k} | {v:,} |" for k, v in sorted(st.items())]
    open(os.path.join(args.out, "STATS.md"), "w").write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
